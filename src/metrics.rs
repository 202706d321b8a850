//! Counters summed over all workers (`auth_jwt_rs_status`, SPEC §7).
//!
//! They live in a small shared memory zone, `auth_jwt_rs_metrics`, that the module adds to
//! every configuration with an `http` block. The counters are a fixed array (decisions by
//! status and reason, cache lookups, key fetches), so the zone never fills up; it is kept
//! across reloads, so counters only reset when nginx restarts.

use std::ffi::c_void;
use std::fmt::Write;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering::Relaxed};

use auth_jwt_core::reason::Reason;
use ngx::ffi::{
    ngx_buf_t, ngx_chain_t, ngx_conf_t, ngx_create_temp_buf, ngx_http_discard_request_body,
    ngx_http_output_filter, ngx_http_request_t, ngx_http_send_header, ngx_int_t,
    ngx_shared_memory_add, ngx_shm_zone_t, ngx_slab_calloc, ngx_slab_pool_t, ngx_str_t, NGX_ERROR,
    NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_HTTP_NOT_ALLOWED, NGX_OK,
};

use crate::ctx::JwtStatus;
use crate::jwks::FetchCause;
use crate::util::guard;
use ngx::http::HttpModuleMainConf;

const STATUSES: [JwtStatus; 7] = [
    JwtStatus::Ok,
    JwtStatus::Missing,
    JwtStatus::Invalid,
    JwtStatus::Forbidden,
    JwtStatus::FallbackOk,
    JwtStatus::FallbackDenied,
    JwtStatus::Error,
];
/// Reasons: every core reason, "fallback", and "" (none, for `ok`).
const NREASONS: usize = Reason::ALL.len() + 2;

#[repr(C)]
struct Counters {
    decisions: [[AtomicU64; NREASONS]; STATUSES.len()],
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    fetch_ok: AtomicU64,
    fetch_failed: AtomicU64,
    fetch_failed_by: [AtomicU64; FetchCause::ALL.len()],
}

static COUNTERS: AtomicPtr<Counters> = AtomicPtr::new(ptr::null_mut());

const ZONE_SIZE: usize = 64 * 1024;

/// Adds the metrics zone to the configuration (postconfiguration).
///
/// # Safety
/// `cf` must be the configuration being parsed.
pub unsafe fn add_zone(cf: *mut ngx_conf_t, tag: *mut c_void) -> Result<(), ()> {
    const NAME: &str = "auth_jwt_rs_metrics";
    let mut name = ngx_str_t {
        len: NAME.len(),
        data: NAME.as_ptr() as *mut u8,
    };
    let zone = unsafe { ngx_shared_memory_add(cf, &mut name, ZONE_SIZE, tag) };
    if zone.is_null() {
        return Err(());
    }
    unsafe { (*zone).init = Some(init_zone) };
    Ok(())
}

unsafe extern "C" fn init_zone(zone: *mut ngx_shm_zone_t, data: *mut c_void) -> ngx_int_t {
    // SAFETY: nginx calls this with the (new or reused) zone; `data` is the previous cycle's.
    unsafe {
        let counters = if !data.is_null() {
            data as *mut Counters
        } else {
            let pool = (*zone).shm.addr as *mut ngx_slab_pool_t;
            let p = ngx_slab_calloc(pool, std::mem::size_of::<Counters>()) as *mut Counters;
            if p.is_null() {
                return NGX_ERROR as ngx_int_t;
            }
            p
        };
        (*zone).data = counters.cast();
        COUNTERS.store(counters, Relaxed);
    }
    NGX_OK as ngx_int_t
}

fn with(f: impl FnOnce(&Counters)) {
    let p = COUNTERS.load(Relaxed);
    if !p.is_null() {
        // SAFETY: the zone outlives every worker of the cycle that created it.
        f(unsafe { &*p });
    }
}

fn reason_index(reason: Option<&str>) -> usize {
    match reason {
        None => NREASONS - 1,
        Some("fallback") => NREASONS - 2,
        Some(r) => Reason::ALL
            .iter()
            .position(|x| x.as_str() == r)
            .unwrap_or(NREASONS - 1),
    }
}

fn reason_name(i: usize) -> &'static str {
    match Reason::ALL.get(i) {
        Some(r) => r.as_str(),
        None if i == NREASONS - 2 => "fallback",
        None => "",
    }
}

/// Counts one decision of the gate or of a verify endpoint.
pub fn decision(status: JwtStatus, reason: Option<&str>) {
    let s = STATUSES.iter().position(|x| *x == status).unwrap_or(0);
    let reason = if status == JwtStatus::Ok {
        None
    } else {
        reason
    };
    with(|c| {
        c.decisions[s][reason_index(reason)].fetch_add(1, Relaxed);
    });
}

pub fn cache_lookup(hit: bool) {
    with(|c| {
        if hit { &c.cache_hits } else { &c.cache_misses }.fetch_add(1, Relaxed);
    });
}

pub fn key_fetch_ok() {
    with(|c| {
        c.fetch_ok.fetch_add(1, Relaxed);
    });
}

/// Counts a failed key fetch, by cause.
pub fn key_fetch_failed(cause: FetchCause) {
    let i = FetchCause::ALL
        .iter()
        .position(|x| *x == cause)
        .unwrap_or(0);
    with(|c| {
        c.fetch_failed.fetch_add(1, Relaxed);
        c.fetch_failed_by[i].fetch_add(1, Relaxed);
    });
}

/// Escapes a Prometheus label value.
fn label(v: &[u8]) -> String {
    let mut out = String::with_capacity(v.len());
    for ch in String::from_utf8_lossy(v).chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// The Prometheus text exposition of the counters; `ages`: each key request URI with the time
/// its keys were fetched.
fn render(ages: &[(Vec<u8>, u64)], now: u64) -> String {
    let mut out = String::with_capacity(4096);
    let _ = writeln!(out, "# HELP auth_jwt_rs_info Module version.");
    let _ = writeln!(out, "# TYPE auth_jwt_rs_info gauge");
    let _ = writeln!(
        out,
        "auth_jwt_rs_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    with(|c| {
        let _ = writeln!(
            out,
            "# HELP auth_jwt_rs_decisions_total Decisions of the gate and of auth_jwt_rs_verify, \
             by $jwt_status and $jwt_reason."
        );
        let _ = writeln!(out, "# TYPE auth_jwt_rs_decisions_total counter");
        for (si, status) in STATUSES.iter().enumerate() {
            for ri in 0..NREASONS {
                let n = c.decisions[si][ri].load(Relaxed);
                // Series that can occur are always listed for `ok`; others once non-zero.
                if n > 0 || (*status == JwtStatus::Ok && ri == NREASONS - 1) {
                    let _ = writeln!(
                        out,
                        "auth_jwt_rs_decisions_total{{status=\"{}\",reason=\"{}\"}} {n}",
                        status.as_str(),
                        reason_name(ri)
                    );
                }
            }
        }
        let pairs = [
            (
                "auth_jwt_rs_cache_lookups_total",
                "Lookups in the verified-token cache.",
                [("hit", &c.cache_hits), ("miss", &c.cache_misses)],
            ),
            (
                "auth_jwt_rs_key_fetches_total",
                "JWKS fetches of auth_jwt_rs_key_request.",
                [("ok", &c.fetch_ok), ("failed", &c.fetch_failed)],
            ),
        ];
        for (name, help, values) in pairs {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for (label, v) in values {
                let _ = writeln!(out, "{name}{{result=\"{label}\"}} {}", v.load(Relaxed));
            }
        }
        let name = "auth_jwt_rs_key_fetch_failures_total";
        let _ = writeln!(
            out,
            "# HELP {name} Failed JWKS fetches of auth_jwt_rs_key_request, by cause."
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        for (cause, v) in FetchCause::ALL.iter().zip(&c.fetch_failed_by) {
            let _ = writeln!(
                out,
                "{name}{{cause=\"{}\"}} {}",
                cause.as_str(),
                v.load(Relaxed)
            );
        }
    });
    let name = "auth_jwt_rs_key_age_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Age of the keys in use for each auth_jwt_rs_key_request URI."
    );
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (uri, fetched_at) in ages {
        let _ = writeln!(
            out,
            "{name}{{uri=\"{}\"}} {}",
            label(uri),
            now.saturating_sub(*fetched_at)
        );
    }
    out
}

/// Content handler of `auth_jwt_rs_status`.
pub unsafe extern "C" fn status_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    let log = crate::util::request_log(r);
    guard(log, 500, || unsafe { send_status(r) })
}

unsafe fn send_status(r: *mut ngx_http_request_t) -> ngx_int_t {
    unsafe {
        let m = (*r).method as u32;
        if m != NGX_HTTP_GET && m != NGX_HTTP_HEAD {
            return NGX_HTTP_NOT_ALLOWED as ngx_int_t;
        }
        let rc = ngx_http_discard_request_body(r);
        if rc != NGX_OK as ngx_int_t {
            return rc;
        }
        let req = ngx::http::Request::from_ngx_http_request(r);
        let ages = crate::Module::main_conf(req)
            .and_then(|mc| mc.key_zone)
            .map(|z| crate::keyzone::KeyZone::new(z).ages())
            .unwrap_or_default();
        let body = render(&ages, crate::gate::now());
        const CT: &str = "text/plain; version=0.0.4; charset=utf-8";
        (*r).headers_out.status = 200;
        (*r).headers_out.content_length_n = body.len() as i64;
        (*r).headers_out.content_type = ngx_str_t {
            len: CT.len(),
            data: CT.as_ptr() as *mut u8,
        };
        (*r).headers_out.content_type_len = CT.len();
        let rc = ngx_http_send_header(r);
        if rc == NGX_ERROR as ngx_int_t || rc > NGX_OK as ngx_int_t || (*r).header_only() != 0 {
            return rc;
        }
        let b: *mut ngx_buf_t = ngx_create_temp_buf((*r).pool, body.len());
        if b.is_null() {
            return NGX_ERROR as ngx_int_t;
        }
        ptr::copy_nonoverlapping(body.as_ptr(), (*b).last, body.len());
        (*b).last = (*b).last.add(body.len());
        (*b).set_last_buf(if (*r).main == r { 1 } else { 0 });
        (*b).set_last_in_chain(1);
        let mut out = ngx_chain_t {
            buf: b,
            next: ptr::null_mut(),
        };
        ngx_http_output_filter(r, &mut out)
    }
}
