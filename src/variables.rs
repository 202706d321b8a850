//! Variables (SPEC §5): `$jwt_claim_*`, `$jwt_header_*`, `$jwt_payload`, `$jwt_status`,
//! `$jwt_reason`, `$jwt_return_url`, and those defined by `auth_jwt_rs_claim_set` /
//! `auth_jwt_rs_header_set`.
//!
//! All are evaluated on every use (NOCACHEABLE): a value read before the access phase, or
//! before an internal redirect, must not stick.

use std::ffi::{c_char, c_void};

use auth_jwt_core::path::ClaimPath;
use auth_jwt_core::render::{expose, Exposed};
use auth_jwt_core::url::percent_encode_unreserved;
use ngx::core::{Pool, NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{
    ngx_command_t, ngx_conf_t, ngx_http_add_variable, ngx_http_get_variable_index,
    ngx_http_request_t, ngx_http_variable_t, ngx_int_t, ngx_str_t, ngx_uint_t,
    ngx_variable_value_t, NGX_ERROR, NGX_HTTP_VAR_CHANGEABLE, NGX_HTTP_VAR_NOCACHEABLE,
    NGX_HTTP_VAR_PREFIX, NGX_LOG_EMERG, NGX_LOG_INFO, NGX_OK,
};
use ngx::http::{HttpModuleServerConf, NgxHttpCoreModule};
use ngx::ngx_conf_log_error;
use serde_json::Value;

use crate::conf::{compile_complex, push_fallback_var, FallbackVar, LocConf};
use crate::ctx;
use crate::util::{self, bytes, conf_args, conf_mut, guard, pool_str};

type Getter =
    unsafe extern "C" fn(*mut ngx_http_request_t, *mut ngx_variable_value_t, usize) -> ngx_int_t;

const CLAIM_PREFIX: &str = "jwt_claim_";
const HEADER_PREFIX: &str = "jwt_header_";

/// Registers the module's built-in variables (called in preconfiguration).
///
/// # Safety
/// `cf` must be the configuration being parsed.
pub unsafe fn register(cf: *mut ngx_conf_t) -> Result<(), ()> {
    let vars: [(&str, Getter, u32); 6] = [
        (CLAIM_PREFIX, claim_prefix_get, NGX_HTTP_VAR_PREFIX),
        (HEADER_PREFIX, header_prefix_get, NGX_HTTP_VAR_PREFIX),
        ("jwt_payload", payload_get, 0),
        ("jwt_status", status_get, 0),
        ("jwt_reason", reason_get, 0),
        ("jwt_return_url", return_url_get, 0),
    ];
    for (name, get, flags) in vars {
        let mut n = ngx_str_t {
            len: name.len(),
            data: name.as_ptr() as *mut u8,
        };
        let v = unsafe {
            ngx_http_add_variable(cf, &mut n, (flags | NGX_HTTP_VAR_NOCACHEABLE) as ngx_uint_t)
        };
        if v.is_null() {
            return Err(());
        }
        unsafe {
            (*v).get_handler = Some(get);
            (*v).data = 0;
        }
    }
    Ok(())
}

/// Fills `v` with `value` copied into the request pool.
fn set_value(r: *mut ngx_http_request_t, v: *mut ngx_variable_value_t, value: &[u8]) -> ngx_int_t {
    // SAFETY: r is live; v is the slot nginx handed us.
    unsafe {
        let Some(s) = pool_str((*r).pool, value) else {
            return NGX_ERROR as ngx_int_t;
        };
        (*v).data = s.data;
        (*v).set_len(s.len as u32);
        (*v).set_valid(1);
        (*v).set_no_cacheable(1);
        (*v).set_not_found(0);
    }
    NGX_OK as ngx_int_t
}

fn not_found(v: *mut ngx_variable_value_t) -> ngx_int_t {
    // SAFETY: v is the slot nginx handed us.
    unsafe {
        (*v).set_not_found(1);
        (*v).set_valid(0);
    }
    NGX_OK as ngx_int_t
}

/// The verified token of `r`, authenticating it first if the gate has not run yet (a variable
/// read in the rewrite phase, before the access phase).
fn verified<'a>(r: *mut ngx_http_request_t) -> Option<&'a mut ctx::Ctx> {
    if ctx::find(r).is_none() {
        crate::gate::authenticate_early(r);
    }
    ctx::find(r)
}

/// Guarded body of every getter.
fn getter(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    f: impl FnOnce() -> ngx_int_t,
) -> ngx_int_t {
    let log = util::request_log(r);
    guard(log, NGX_ERROR as ngx_int_t, || {
        let _ = v;
        f()
    })
}

/// Exposes a JSON value, refusing values with control characters (SPEC §5).
fn expose_json(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    what: &str,
    name: &str,
    value: Option<Value>,
) -> ngx_int_t {
    match expose(value.as_ref()) {
        Exposed::Value(s) => set_value(r, v, s.as_bytes()),
        Exposed::Empty => not_found(v),
        Exposed::Unsafe => {
            util::log_request(r, NGX_LOG_INFO as ngx_uint_t, || {
                format!(
                    "auth_jwt_rs: {what} \"{name}\" contains a control character, variable left \
                     empty"
                )
            });
            not_found(v)
        }
    }
}

/// Name after the prefix of a `$jwt_claim_*` / `$jwt_header_*` variable.
///
/// # Safety
/// `data` is the `ngx_str_t *` nginx passes to prefix variables.
unsafe fn suffix(data: usize, prefix: &str) -> String {
    let full = unsafe { &*(data as *const ngx_str_t) };
    let b = bytes(full);
    String::from_utf8_lossy(b.get(prefix.len()..).unwrap_or_default()).into_owned()
}

unsafe extern "C" fn claim_prefix_get(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    data: usize,
) -> ngx_int_t {
    getter(r, v, || {
        let name = unsafe { suffix(data, CLAIM_PREFIX) };
        match verified(r).and_then(|c| c.verified.as_ref()) {
            Some(ver) => expose_json(r, v, "claim", &name, ver.claims.get(&name)),
            None => not_found(v),
        }
    })
}

unsafe extern "C" fn header_prefix_get(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    data: usize,
) -> ngx_int_t {
    getter(r, v, || {
        let name = unsafe { suffix(data, HEADER_PREFIX) };
        match verified(r).and_then(|c| c.verified.as_ref()) {
            Some(ver) => expose_json(r, v, "header", &name, ver.header.get(&name)),
            None => not_found(v),
        }
    })
}

unsafe extern "C" fn payload_get(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    _data: usize,
) -> ngx_int_t {
    getter(r, v, || {
        match ctx::find(r).and_then(|c| c.verified.as_ref()) {
            // Compact JSON escapes every control character, so it is always safe to expose.
            Some(ver) => set_value(r, v, ver.claims_json().as_bytes()),
            None => not_found(v),
        }
    })
}

unsafe extern "C" fn status_get(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    _data: usize,
) -> ngx_int_t {
    getter(r, v, || match ctx::find(r).and_then(|c| c.status) {
        Some(s) => set_value(r, v, s.as_str().as_bytes()),
        None => not_found(v),
    })
}

unsafe extern "C" fn reason_get(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    _data: usize,
) -> ngx_int_t {
    getter(r, v, || match ctx::find(r).and_then(|c| c.reason) {
        Some(s) => set_value(r, v, s.as_bytes()),
        None => not_found(v),
    })
}

/// `$scheme://` + Host as sent (or `$host`) + `$request_uri`, percent-encoded (SPEC §9).
unsafe extern "C" fn return_url_get(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    _data: usize,
) -> ngx_int_t {
    getter(r, v, || {
        // SAFETY: r is live; its main request holds the original URI.
        let (scheme, host, uri) = unsafe {
            let m = (*r).main;
            #[cfg(ngx_feature = "http_ssl")]
            let tls = !(*(*m).connection).ssl.is_null();
            #[cfg(not(ngx_feature = "http_ssl"))]
            let tls = false;
            let scheme: &[u8] = if tls { b"https" } else { b"http" };
            // The Host header as sent (port kept), else what `$host` falls back to.
            let host = if !(*m).headers_in.host.is_null() {
                bytes(&(*(*m).headers_in.host).value)
            } else if (*m).headers_in.server.len > 0 {
                bytes(&(*m).headers_in.server)
            } else {
                let req = ngx::http::Request::from_ngx_http_request(m);
                NgxHttpCoreModule::server_conf(req).map_or(&[][..], |s| bytes(&s.server_name))
            };
            (scheme, host, bytes(&(*m).unparsed_uri))
        };
        let mut raw = Vec::with_capacity(scheme.len() + 3 + host.len() + uri.len());
        raw.extend_from_slice(scheme);
        raw.extend_from_slice(b"://");
        raw.extend_from_slice(host);
        raw.extend_from_slice(uri);
        let mut out = String::with_capacity(raw.len() * 3);
        percent_encode_unreserved(&raw, &mut out);
        set_value(r, v, out.as_bytes())
    })
}

/// What a user-defined variable reads.
enum VarSource {
    Claim(ClaimPath),
    Header(String),
}

/// An `auth_jwt_rs_claim_set`/`_header_set` variable; `index` finds the value that
/// `auth_jwt_rs_fallback_set` gives the same variable when the fallback decided.
struct VarSpec {
    source: VarSource,
    index: usize,
}

/// The one pointer value installed as, and compared with, user variables' getter.
static USER_VAR_GET: Getter = user_var_get;

unsafe extern "C" fn user_var_get(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    data: usize,
) -> ngx_int_t {
    getter(r, v, || {
        // SAFETY: data is the VarSpec allocated in the cycle pool by the directive.
        let spec = unsafe { &*(data as *const VarSpec) };
        let Some(ctx) = verified(r) else {
            return not_found(v);
        };
        if ctx.by_fallback() {
            return match ctx.fallback_value(spec.index) {
                Some(val) => set_value(r, v, val),
                None => not_found(v),
            };
        }
        let Some(ver) = ctx.verified.as_ref() else {
            return not_found(v);
        };
        match &spec.source {
            VarSource::Claim(p) => expose_json(r, v, "claim", p.as_str(), p.lookup(&ver.claims)),
            VarSource::Header(n) => expose_json(r, v, "header", n, ver.header.get(n)),
        }
    })
}

pub extern "C" fn cmd_claim_set(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    _conf: *mut c_void,
) -> *mut c_char {
    let args = unsafe { conf_args(cf) };
    let path = String::from_utf8_lossy(bytes(&args[2])).into_owned();
    match ClaimPath::parse(&path) {
        Ok(p) => define_user_var(cf, &args[1], VarSource::Claim(p)),
        Err(e) => {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "auth_jwt_rs_claim_set: invalid path: {e}"
            );
            NGX_CONF_ERROR
        }
    }
}

pub extern "C" fn cmd_header_set(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    _conf: *mut c_void,
) -> *mut c_char {
    let args = unsafe { conf_args(cf) };
    let name = String::from_utf8_lossy(bytes(&args[2])).into_owned();
    if name.is_empty() {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "auth_jwt_rs_header_set: empty header name"
        );
        return NGX_CONF_ERROR;
    }
    define_user_var(cf, &args[1], VarSource::Header(name))
}

/// Checks `$name` syntax and returns the name without `$`.
fn var_name(cf: *mut ngx_conf_t, var: &ngx_str_t) -> Option<ngx_str_t> {
    let b = bytes(var);
    if b.len() < 2 || b[0] != b'$' {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "invalid variable name \"{}\"",
            String::from_utf8_lossy(b)
        );
        return None;
    }
    // SAFETY: skips the `$` within the same configuration string.
    Some(ngx_str_t {
        len: var.len - 1,
        data: unsafe { var.data.add(1) },
    })
}

/// Adds (or finds) a changeable, non-cacheable variable and its index.
///
/// # Safety
/// `cf` must be the configuration being parsed.
unsafe fn add_var(
    cf: *mut ngx_conf_t,
    name: &ngx_str_t,
) -> Option<(*mut ngx_http_variable_t, usize)> {
    unsafe {
        let mut n = *name;
        let v = ngx_http_add_variable(
            cf,
            &mut n,
            (NGX_HTTP_VAR_CHANGEABLE | NGX_HTTP_VAR_NOCACHEABLE) as ngx_uint_t,
        );
        if v.is_null() {
            return None;
        }
        // An existing variable (e.g. from `set`) keeps its flags; ours must not be cached.
        (*v).flags |= NGX_HTTP_VAR_NOCACHEABLE as ngx_uint_t;
        let mut n = *name;
        let index = ngx_http_get_variable_index(cf, &mut n);
        if index == NGX_ERROR as ngx_int_t {
            return None;
        }
        Some((v, index as usize))
    }
}

fn define_user_var(cf: *mut ngx_conf_t, var: &ngx_str_t, source: VarSource) -> *mut c_char {
    let Some(name) = var_name(cf, var) else {
        return NGX_CONF_ERROR;
    };
    // SAFETY: cf is live; the spec is owned by the cycle pool and dropped with it.
    unsafe {
        let Some((v, index)) = add_var(cf, &name) else {
            return NGX_CONF_ERROR;
        };
        if (*v)
            .get_handler
            .is_some_and(|h| std::ptr::fn_addr_eq(h, USER_VAR_GET))
        {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "variable \"{}\" is already defined by auth_jwt_rs",
                String::from_utf8_lossy(bytes(var))
            );
            return NGX_CONF_ERROR;
        }
        let pool = Pool::from_ngx_pool((*cf).pool);
        let p = pool.allocate(VarSpec { source, index });
        if p.is_null() {
            return NGX_CONF_ERROR;
        }
        (*v).get_handler = Some(USER_VAR_GET);
        (*v).data = p as usize;
    }
    NGX_CONF_OK
}

/// The one pointer value installed as the getter of fallback-only variables.
static FALLBACK_VAR_GET: Getter = fallback_var_get;

/// A variable set only by `auth_jwt_rs_fallback_set`: its value, or not found.
unsafe extern "C" fn fallback_var_get(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    data: usize,
) -> ngx_int_t {
    getter(r, v, || {
        match ctx::find(r).and_then(|c| c.fallback_value(data)) {
            Some(val) => set_value(r, v, val),
            None => not_found(v),
        }
    })
}

/// `auth_jwt_rs_fallback_set $var VALUE` (like `auth_request_set`).
pub extern "C" fn cmd_fallback_set(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    let args = unsafe { conf_args(cf) };
    let Some(name) = var_name(cf, &args[1]) else {
        return NGX_CONF_ERROR;
    };
    // SAFETY: cf is live.
    unsafe {
        let Some((v, index)) = add_var(cf, &name) else {
            return NGX_CONF_ERROR;
        };
        // A variable of auth_jwt_rs_claim_set keeps its getter, which picks the claim or the
        // fallback value depending on who decided; any other getter is replaced.
        if !(*v)
            .get_handler
            .is_some_and(|h| std::ptr::fn_addr_eq(h, USER_VAR_GET))
        {
            (*v).get_handler = Some(FALLBACK_VAR_GET);
            (*v).data = index;
        }
        let Some(value) = compile_complex(cf, &args[2]) else {
            return NGX_CONF_ERROR;
        };
        push_fallback_var(lc, FallbackVar { index, value });
    }
    NGX_CONF_OK
}
