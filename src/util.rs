//! Small helpers around nginx's C types: strings, pools, logging, and the panic guard that every
//! entry point called by nginx goes through.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use ngx::ffi::{
    ngx_conf_t, ngx_http_request_t, ngx_log_t, ngx_pnalloc, ngx_pool_t, ngx_str_t, ngx_uint_t,
    NGX_LOG_ERR,
};

/// Bytes of an `ngx_str_t`; empty for a NULL data pointer.
pub fn bytes(s: &ngx_str_t) -> &[u8] {
    if s.data.is_null() || s.len == 0 {
        &[]
    } else {
        // SAFETY: nginx strings point to `len` readable bytes for at least the pool's lifetime.
        unsafe { std::slice::from_raw_parts(s.data, s.len) }
    }
}

/// The arguments of the directive being parsed (`args[0]` is the directive name).
///
/// # Safety
/// `cf` must be the live configuration being parsed.
pub unsafe fn conf_args<'a>(cf: *mut ngx_conf_t) -> &'a [ngx_str_t] {
    unsafe { (*(*cf).args).as_slice() }
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
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), p, src.len()) };
    Some(ngx_str_t {
        len: src.len(),
        data: p,
    })
}

/// Writes a message to an nginx log at `level` without any request context (nginx's HTTP log
/// handler would append the request line, which can carry a token in its query string).
pub fn log(log: *mut ngx_log_t, level: ngx_uint_t, msg: &str) {
    if log.is_null() {
        return;
    }
    // SAFETY: log is a live nginx log; the handler is restored before returning.
    unsafe {
        if (*log).log_level < level {
            return;
        }
        let saved = (*log).handler;
        (*log).handler = None;
        ngx::ffi::ngx_log_error_core(level, log, 0, c"%*s".as_ptr(), msg.len(), msg.as_ptr());
        (*log).handler = saved;
    }
}

/// Whether `log` writes messages of `level`.
pub fn log_enabled(log: *mut ngx_log_t, level: ngx_uint_t) -> bool {
    // SAFETY: log is null or a live nginx log.
    !log.is_null() && unsafe { (*log).log_level } >= level
}

/// The log of a request (its connection's).
pub fn request_log(r: *mut ngx_http_request_t) -> *mut ngx_log_t {
    // SAFETY: r is a live request with a live connection.
    unsafe { (*(*r).connection).log }
}

/// Logs a message about request `r` at `level`, followed by `, client: <address>`. The message
/// is only built when the level is enabled (rejections are logged on the request path).
pub fn log_request(r: *mut ngx_http_request_t, level: ngx_uint_t, msg: impl FnOnce() -> String) {
    let log = request_log(r);
    if !log_enabled(log, level) {
        return;
    }
    // SAFETY: r is a live request with a live connection.
    let addr = unsafe { String::from_utf8_lossy(bytes(&(*(*r).connection).addr_text)) };
    self::log(log, level, &format!("{}, client: {addr}", msg()));
}

/// Runs `f`, turning a panic into `on_panic` so that no unwinding crosses into nginx.
pub fn guard<T>(log_ptr: *mut ngx_log_t, on_panic: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            // `err`, not `alert`: the worker is fine, only this request failed.
            log(
                log_ptr,
                NGX_LOG_ERR as ngx_uint_t,
                "auth_jwt_rs: internal error (panic caught)",
            );
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

/// `conf` pointer cast used by directive setters.
///
/// # Safety
/// `conf` must point to a live `T` created by this module's create_*_conf.
pub unsafe fn conf_mut<'a, T>(conf: *mut c_void) -> &'a mut T {
    unsafe { &mut *conf.cast::<T>() }
}

/// The value of the first request header named `name` (case-insensitive) whose value
/// satisfies `pred`.
pub fn find_header<'r>(
    r: *mut ngx_http_request_t,
    name: &[u8],
    pred: impl Fn(&[u8]) -> bool,
) -> Option<&'r [u8]> {
    // SAFETY: walks nginx's list of request headers, which lives as long as the request.
    unsafe {
        let mut part = &(*r).headers_in.headers.part as *const ngx::ffi::ngx_list_part_t;
        while !part.is_null() {
            let elts = (*part).elts as *const ngx::ffi::ngx_table_elt_t;
            for i in 0..(*part).nelts {
                let h = &*elts.add(i);
                if h.hash != 0 && bytes(&h.key).eq_ignore_ascii_case(name) {
                    let v: &'r [u8] = if h.value.len == 0 {
                        &[]
                    } else {
                        std::slice::from_raw_parts(h.value.data, h.value.len)
                    };
                    if pred(v) {
                        return Some(v);
                    }
                }
            }
            part = (*part).next;
        }
        None
    }
}
