//! Small helpers around nginx's C types: strings, pools, the clock, request headers, and the
//! panic guard that every entry point called by nginx goes through.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use ngx::ffi::{ngx_list_part_t, ngx_log_t, ngx_pnalloc, ngx_pool_t, ngx_str_t, ngx_table_elt_t};
use ngx::http::Request;

use crate::log::log_error;

/// Bytes of an `ngx_str_t`; empty for a NULL data pointer.
pub fn bytes(s: &ngx_str_t) -> &[u8] {
    if s.data.is_null() || s.len == 0 {
        &[]
    } else {
        // SAFETY: nginx strings point to `len` readable bytes for at least the pool's lifetime.
        unsafe { std::slice::from_raw_parts(s.data, s.len) }
    }
}

/// Copies bytes into `pool`; `None` when the allocation fails.
pub fn pool_str(pool: *mut ngx_pool_t, src: &[u8]) -> Option<ngx_str_t> {
    if src.is_empty() {
        return Some(ngx_str_t {
            len: 0,
            data: std::ptr::null_mut(),
        });
    }
    // SAFETY: pool is a live nginx pool; we copy exactly `len` bytes into the new block.
    let p = unsafe { ngx_pnalloc(pool, src.len()) } as *mut u8;
    if p.is_null() {
        return None;
    }
    // SAFETY: p is a fresh block of src.len() bytes from the pool.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), p, src.len()) };
    Some(ngx_str_t {
        len: src.len(),
        data: p,
    })
}

/// The worker's cached time, Unix seconds.
pub fn now() -> u64 {
    // SAFETY: ngx_cached_time always points to a valid time slot in a running worker.
    let sec = unsafe { (*ngx::ffi::ngx_cached_time).sec };
    sec.max(0) as u64
}

/// The worker's cached clock, milliseconds.
pub fn now_ms() -> u64 {
    // SAFETY: a plain read of the worker's cached clock.
    unsafe { ngx::ffi::ngx_current_msec as u64 }
}

/// Runs `f`, turning a panic into `on_panic` so that no unwinding crosses into nginx.
pub fn guard<T>(log: *mut ngx_log_t, on_panic: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            // `err`, not `alert`: the worker is fine, only this request failed.
            log_error!(log, "auth_jwt_rs: internal error (panic caught)");
            on_panic
        }
    }
}

/// A pool cleanup handler.
pub type Cleanup = unsafe extern "C" fn(*mut c_void);

/// The data of the newest cleanup record of `pool` whose handler is `handler` and whose data
/// satisfies `pick`. The module keeps per-request state in such records (they survive internal
/// redirects, and their handler drops the state with the request).
///
/// # Safety
/// `pool` must be live, and every record with `handler` must hold a `T`.
pub unsafe fn find_cleanup<T>(
    pool: *mut ngx_pool_t,
    handler: Cleanup,
    pick: impl Fn(*mut T) -> bool,
) -> Option<*mut T> {
    // SAFETY: guaranteed by the caller; the cleanup list is a NULL-terminated list of the pool.
    unsafe {
        let mut c = (*pool).cleanup;
        while !c.is_null() {
            if (*c)
                .handler
                .is_some_and(|h| std::ptr::fn_addr_eq(h, handler))
            {
                let data = (*c).data as *mut T;
                if pick(data) {
                    return Some(data);
                }
            }
            c = (*c).next;
        }
        None
    }
}

/// The value of the first request header named `name` (case-insensitive) whose value
/// satisfies `pred`. Unlike ngx's `headers_in_iterator`, headers that a module removed
/// (`hash == 0`) are skipped, as nginx itself does.
pub fn find_header<'r>(
    r: &'r Request,
    name: &[u8],
    pred: impl Fn(&[u8]) -> bool,
) -> Option<&'r [u8]> {
    let mut part: *const ngx_list_part_t = &r.as_ref().headers_in.headers.part;
    // SAFETY: walks nginx's list of request headers, which lives as long as the request.
    unsafe {
        while !part.is_null() {
            let elts = (*part).elts as *const ngx_table_elt_t;
            for i in 0..(*part).nelts {
                let h = &*elts.add(i);
                if h.hash != 0 && bytes(&h.key).eq_ignore_ascii_case(name) {
                    let v: &'r [u8] = bytes(&h.value);
                    if pred(v) {
                        return Some(v);
                    }
                }
            }
            part = (*part).next;
        }
    }
    None
}

/// A shared borrow of a request nginx passed in, for code that only reads it. nginx may call
/// such code (a variable getter) while a handler of this module is on the stack with the same
/// request: handlers pass only shared reborrows into anything that evaluates variables.
///
/// # Safety
/// `r` must be a live request for `'a`.
pub unsafe fn shared_request<'a>(r: *mut ngx::ffi::ngx_http_request_t) -> &'a Request {
    // SAFETY: Request is a transparent wrapper of ngx_http_request_t; r is live (caller).
    unsafe { &*r.cast::<Request>() }
}
