//! Variables (README "Variables"): `$jwt_claim_*`, `$jwt_header_*`, `$jwt_payload`, `$jwt_status`,
//! `$jwt_reason`, `$jwt_return_url`, and those defined by `auth_jwt_rs_claim_set` /
//! `auth_jwt_rs_header_set`.
//!
//! All are evaluated on every use (NOCACHEABLE): a value read before the access phase, or
//! before an internal redirect, must not stick.

use std::ffi::c_char;
use std::sync::OnceLock;

use auth_jwt_core::path::ClaimPath;
use auth_jwt_core::render::Exposed;
use auth_jwt_core::url::percent_encode_unreserved;
use ngx::core::{Pool, NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{
    __BindgenBitfieldUnit, ngx_conf_t, ngx_http_add_variable, ngx_http_get_variable_index,
    ngx_http_request_t, ngx_http_variable_t, ngx_int_t, ngx_str_t, ngx_uint_t,
    ngx_variable_value_t, NGX_ERROR, NGX_HTTP_VAR_CHANGEABLE, NGX_HTTP_VAR_NOCACHEABLE,
    NGX_HTTP_VAR_PREFIX, NGX_LOG_EMERG, NGX_OK,
};
use ngx::http::{HttpModuleServerConf, NgxHttpCoreModule, Request};
use ngx::ngx_conf_log_error;

use crate::conf::args::setter;
use crate::conf::{compile_complex, FallbackVar, LocConf, MainConf};
use crate::ctx::{self, Ctx};
use crate::decide::authenticate_early;
use crate::log::log_info;
use crate::util::{bytes, guard, pool_str, shared_request};

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
        // SAFETY: cf is the configuration being parsed (preconfiguration); name is static.
        let v = unsafe {
            ngx_http_add_variable(cf, &mut n, (flags | NGX_HTTP_VAR_NOCACHEABLE) as ngx_uint_t)
        };
        if v.is_null() {
            return Err(());
        }
        // SAFETY: v is the variable nginx just added.
        unsafe {
            (*v).get_handler = Some(get);
            (*v).data = 0;
        }
    }
    Ok(())
}

/// The slot nginx hands a getter for the value.
type Slot<'a> = &'a mut ngx_variable_value_t;

/// Fills `v` with `value` copied into the request pool.
fn set_value(r: &Request, v: Slot, value: &[u8]) -> ngx_int_t {
    match pool_str(r.as_ref().pool, value) {
        Some(s) => set_str(v, s),
        None => NGX_ERROR as ngx_int_t,
    }
}

/// The `auth_jwt_rs_fallback_set` value of variable `index` into `v`, or not found.
fn set_fallback_value(r: &Request, ctx: &Ctx, index: usize, v: Slot) -> ngx_int_t {
    match ctx.with_fallback_value(index, |val| pool_str(r.as_ref().pool, val)) {
        Some(Some(s)) => set_str(v, s),
        Some(None) => NGX_ERROR as ngx_int_t,
        None => not_found(v),
    }
}

/// Fills `v` with a string of the request pool.
fn set_str(v: Slot, s: ngx_str_t) -> ngx_int_t {
    v.data = s.data;
    match found_bits() {
        // One store instead of bindgen's bit-by-bit setters (a tenth of the cached path).
        Some(flags) if s.len <= LEN_MAX as usize => {
            v._bitfield_1 = __BindgenBitfieldUnit::new((flags | s.len as u32).to_le_bytes());
        }
        _ => {
            v.set_len(s.len as u32);
            v.set_valid(1);
            v.set_no_cacheable(1);
            v.set_not_found(0);
            v.set_escape(0);
        }
    }
    NGX_OK as ngx_int_t
}

/// Largest value of the 28-bit `len` of `ngx_variable_value_t`.
const LEN_MAX: u32 = (1 << 28) - 1;

/// The bitfield word (as little-endian bytes) of a found, valid, non-cacheable value of length
/// 0, if `len` is its low 28 bits; learnt once from bindgen's own setters, so no layout is
/// assumed.
fn found_bits() -> Option<u32> {
    static BITS: OnceLock<Option<u32>> = OnceLock::new();
    *BITS.get_or_init(|| {
        if cfg!(target_endian = "big") {
            return None;
        }
        let word = |v: &ngx_variable_value_t| v._bitfield_1.get(0, 32) as u32;
        let mut v = ngx_variable_value_t {
            _bitfield_align_1: [],
            _bitfield_1: __BindgenBitfieldUnit::new([0; 4]),
            data: std::ptr::null_mut(),
        };
        v.set_len(LEN_MAX);
        let len_bits = word(&v);
        v.set_len(0);
        v.set_valid(1);
        v.set_no_cacheable(1);
        (len_bits == LEN_MAX).then(|| word(&v))
    })
}

fn not_found(v: Slot) -> ngx_int_t {
    v.set_not_found(1);
    v.set_valid(0);
    NGX_OK as ngx_int_t
}

/// The context of `r`, authenticating it first if the gate has not run yet (a variable read in
/// the rewrite phase, before the access phase).
fn decided(r: &Request) -> Option<&Ctx> {
    if ctx::find(r).is_none() {
        authenticate_early(r);
    }
    ctx::find(r)
}

/// The body of every getter: the request and the value slot as references, under the panic
/// guard.
///
/// # Safety
/// `r` and `v` are what nginx passes to a variable getter.
unsafe fn getter(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    f: impl FnOnce(&Request, Slot) -> ngx_int_t,
) -> ngx_int_t {
    // SAFETY: nginx passes a live request and a value slot only this getter writes. The request
    // is only read (shared), as a getter may run while a handler frame holds it.
    let (req, v) = unsafe { (shared_request(r), &mut *v) };
    guard(req.log(), NGX_ERROR as ngx_int_t, || f(req, v))
}

/// Exposes a JSON value, refusing values with control characters (README "Variables").
/// Sets the variable to a shown value (empty when missing; an unsafe one is logged).
fn show(r: &Request, v: Slot, what: &str, name: &str, exposed: Exposed) -> ngx_int_t {
    match exposed {
        Exposed::Value(s) => set_value(r, v, s.as_bytes()),
        Exposed::Empty => not_found(v),
        Exposed::Unsafe => {
            log_info!(
                r,
                "auth_jwt_rs: {what} \"{name}\" contains a control character, variable left empty"
            );
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
    // SAFETY: nginx's getter arguments; `data` of a prefix variable is its full name.
    unsafe {
        getter(r, v, |r, v| {
            let name = suffix(data, CLAIM_PREFIX);
            match decided(r).and_then(Ctx::verified) {
                Some(ver) => show(r, v, "claim", &name, ver.claims.expose(&name)),
                None => not_found(v),
            }
        })
    }
}

unsafe extern "C" fn header_prefix_get(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    data: usize,
) -> ngx_int_t {
    // SAFETY: as above.
    unsafe {
        getter(r, v, |r, v| {
            let name = suffix(data, HEADER_PREFIX);
            match decided(r).and_then(Ctx::verified) {
                Some(ver) => show(r, v, "header", &name, ver.header.expose(&name)),
                None => not_found(v),
            }
        })
    }
}

unsafe extern "C" fn payload_get(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    _data: usize,
) -> ngx_int_t {
    // SAFETY: nginx's getter arguments.
    unsafe {
        getter(r, v, |r, v| match ctx::find(r).and_then(Ctx::verified) {
            // Compact JSON escapes every control character, so it is always safe to expose.
            Some(ver) => set_value(r, v, ver.claims_json().as_bytes()),
            None => not_found(v),
        })
    }
}

unsafe extern "C" fn status_get(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    _data: usize,
) -> ngx_int_t {
    // SAFETY: nginx's getter arguments.
    unsafe {
        getter(r, v, |r, v| match ctx::find(r).and_then(Ctx::status) {
            Some(s) => set_value(r, v, s.as_str().as_bytes()),
            None => not_found(v),
        })
    }
}

unsafe extern "C" fn reason_get(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    _data: usize,
) -> ngx_int_t {
    // SAFETY: nginx's getter arguments.
    unsafe {
        getter(r, v, |r, v| match ctx::find(r).and_then(Ctx::reason) {
            Some(s) => set_value(r, v, s.as_str().as_bytes()),
            None => not_found(v),
        })
    }
}

/// `$scheme://` + Host as sent (or `$host`) + `$request_uri`, percent-encoded (README
/// "auth_jwt_rs_login_url").
unsafe extern "C" fn return_url_get(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    _data: usize,
) -> ngx_int_t {
    // SAFETY: nginx's getter arguments.
    unsafe { getter(r, v, |r, v| set_value(r, v, return_url(r).as_bytes())) }
}

/// The URL the client asked for, from its main request.
fn return_url(r: &Request) -> String {
    // SAFETY: r->main is the live main request, holding the original URI and headers.
    let m = unsafe { shared_request(r.as_ref().main) };
    let tls = is_tls(m);
    let scheme: &[u8] = if tls { b"https" } else { b"http" };
    let h = &m.as_ref().headers_in;
    // The Host header as sent (port kept), else what `$host` falls back to.
    // SAFETY: a non-null header slot points to an element of the request's headers.
    let host = if let Some(host) = unsafe { h.host.as_ref() } {
        bytes(&host.value)
    } else if h.server.len > 0 {
        bytes(&h.server)
    } else {
        NgxHttpCoreModule::server_conf(m).map_or(&[][..], |s| bytes(&s.server_name))
    };
    let uri = m.unparsed_uri().as_bytes();
    let mut raw = Vec::with_capacity(scheme.len() + 3 + host.len() + uri.len());
    raw.extend_from_slice(scheme);
    raw.extend_from_slice(b"://");
    raw.extend_from_slice(host);
    raw.extend_from_slice(uri);
    let mut out = String::with_capacity(raw.len() * 3);
    percent_encode_unreserved(&raw, &mut out);
    out
}

/// Whether the client connection of `r` uses TLS.
fn is_tls(r: &Request) -> bool {
    #[cfg(ngx_feature = "http_ssl")]
    // SAFETY: a live request has a live connection.
    return unsafe { !(*r.connection()).ssl.is_null() };
    #[cfg(not(ngx_feature = "http_ssl"))]
    {
        let _ = r;
        false
    }
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
    // SAFETY: nginx's getter arguments; data is the VarSpec allocated in the cycle pool by the
    // directive.
    unsafe {
        getter(r, v, |r, v| {
            let spec = &*(data as *const VarSpec);
            let Some(ctx) = decided(r) else {
                return not_found(v);
            };
            if ctx.by_fallback() {
                return set_fallback_value(r, ctx, spec.index, v);
            }
            let Some(ver) = ctx.verified() else {
                return not_found(v);
            };
            match &spec.source {
                VarSource::Claim(p) => show(r, v, "claim", p.as_str(), p.expose(&ver.claims)),
                VarSource::Header(n) => show(r, v, "header", n, ver.header.expose(n)),
            }
        })
    }
}

setter! {
    cmd_claim_set, |cf, _: &mut MainConf, args| {
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
}

setter! {
    cmd_header_set, |cf, _: &mut MainConf, args| {
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
    // SAFETY: guaranteed by the caller.
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
    // SAFETY: nginx's getter arguments; data is the variable's index.
    unsafe {
        getter(r, v, |r, v| match ctx::find(r) {
            Some(ctx) => set_fallback_value(r, ctx, data, v),
            None => not_found(v),
        })
    }
}

setter! {
    /// `auth_jwt_rs_fallback_set $var VALUE` (like `auth_request_set`).
    cmd_fallback_set, |cf, lc: &mut LocConf, args| {
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
            lc.push_fallback_var(FallbackVar { index, value });
        }
        NGX_CONF_OK
    }
}
