//! Counters summed over all workers, and their text exposition (README "auth_jwt_rs_status").
//!
//! They live in a small shared memory zone, `auth_jwt_rs_metrics`, that the module adds to
//! every configuration with an `http` block. The counters are a fixed array (decisions by
//! status and reason, cache lookups, key fetches), so the zone never fills up; it is kept
//! across reloads, so counters only reset when nginx restarts.

use std::ffi::c_void;
use std::fmt::Write;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering::Relaxed};

use auth_jwt_core::fetch::FetchCause;
use auth_jwt_core::outcome::{JwtReason, JwtStatus};
use ngx::ffi::{
    ngx_conf_t, ngx_int_t, ngx_shared_memory_add, ngx_shm_zone_t, ngx_slab_calloc, ngx_slab_pool_t,
    ngx_str_t, NGX_ERROR, NGX_OK,
};

const STATUSES: [JwtStatus; 7] = JwtStatus::ALL;
/// Reasons: every `$jwt_reason` value, and one slot for none (`ok`).
const NREASONS: usize = JwtReason::COUNT + 1;
const NO_REASON: usize = NREASONS - 1;

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
    // SAFETY: cf is being parsed; the zone was just added to its cycle.
    let zone = unsafe { ngx_shared_memory_add(cf, &mut name, ZONE_SIZE, tag) };
    if zone.is_null() {
        return Err(());
    }
    // SAFETY: cf is being parsed; the zone was just added to its cycle.
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

fn reason_name(i: usize) -> &'static str {
    JwtReason::from_index(i).map_or("", JwtReason::as_str)
}

/// Counts one decision of the gate or of a verify endpoint.
pub fn decision(status: JwtStatus, reason: Option<JwtReason>) {
    let ri = match reason {
        Some(r) if status != JwtStatus::Ok => r.index(),
        _ => NO_REASON,
    };
    with(|c| {
        c.decisions[status.index()][ri].fetch_add(1, Relaxed);
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
    with(|c| {
        c.fetch_failed.fetch_add(1, Relaxed);
        c.fetch_failed_by[cause.index()].fetch_add(1, Relaxed);
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
pub fn render(ages: &[(Vec<u8>, u64)], now: u64) -> String {
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
                if n > 0 || (*status == JwtStatus::Ok && ri == NO_REASON) {
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
