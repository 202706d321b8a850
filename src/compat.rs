//! Every difference of nginx's API between the versions the module is built against, in one
//! place. `build.rs` sets `cfg(nginx1_23_0)` from the version of the nginx tree being compiled
//! against (see docs/packaging.md, "Minimum nginx version").
//!
//! nginx 1.23.0 made header lines linked lists: `ngx_table_elt_t.next`, `headers_in.cookie`
//! (instead of the `cookies` array) and a new `ngx_http_parse_multi_header_lines` signature.
//! Nothing else the module uses differs between 1.22.1 (Debian 12), 1.26.3 (Debian 13) and
//! 1.28.3 (vendored); the bindings are generated from the target's own headers, so fields added
//! later (e.g. 1.27's `keepalive_timeout` in `ngx_http_request_t`) change no code here.

use ngx::ffi::{
    ngx_http_parse_multi_header_lines, ngx_http_request_t, ngx_list_push, ngx_str_t,
    ngx_table_elt_t,
};
use ngx::http::Request;

/// Ends `h`'s header chain (nginx < 1.23 has none).
///
/// # Safety
/// `h` points to a live header element.
pub unsafe fn end_chain(h: *mut ngx_table_elt_t) {
    #[cfg(nginx1_23_0)]
    // SAFETY: guaranteed by the caller.
    unsafe {
        (*h).next = std::ptr::null_mut();
    }
    #[cfg(not(nginx1_23_0))]
    let _ = h;
}

/// Appends copies of the header chain starting at `h` to `r`'s response headers and links them
/// from `slot` (e.g. `headers_out.www_authenticate`). `None` when out of memory.
///
/// # Safety
/// `r` is live, `h` is null or a live header element, `slot` points into `r`'s headers_out.
#[cfg(nginx1_23_0)]
pub unsafe fn copy_header_chain(
    r: *mut ngx_http_request_t,
    mut h: *mut ngx_table_elt_t,
    mut slot: *mut *mut ngx_table_elt_t,
) -> Option<()> {
    // SAFETY: guaranteed by the caller; new elements are pushed to r's list (request pool).
    unsafe {
        while !h.is_null() {
            let ho = push_copy(r, h)?;
            (*ho).next = std::ptr::null_mut();
            *slot = ho;
            slot = &mut (*ho).next;
            h = (*h).next;
        }
    }
    Some(())
}

/// nginx < 1.23 keeps a single element per header slot: only `h` itself is copied.
///
/// # Safety
/// As above.
#[cfg(not(nginx1_23_0))]
pub unsafe fn copy_header_chain(
    r: *mut ngx_http_request_t,
    h: *mut ngx_table_elt_t,
    slot: *mut *mut ngx_table_elt_t,
) -> Option<()> {
    if !h.is_null() {
        // SAFETY: guaranteed by the caller.
        unsafe { *slot = push_copy(r, h)? };
    }
    Some(())
}

/// A copy of `h` appended to `r`'s response header list.
unsafe fn push_copy(
    r: *mut ngx_http_request_t,
    h: *mut ngx_table_elt_t,
) -> Option<*mut ngx_table_elt_t> {
    // SAFETY: r and h are live (callers' contract); the element is allocated in r's pool.
    unsafe {
        let ho = ngx_list_push(&mut (*r).headers_out.headers) as *mut ngx_table_elt_t;
        if ho.is_null() {
            return None;
        }
        *ho = *h;
        Some(ho)
    }
}

/// The value of the request's cookie `name` (first occurrence), in the request's header buffers.
pub fn cookie(r: &Request, name: &ngx_str_t) -> Option<ngx_str_t> {
    // nginx only reads the request here; its API is declared `*mut`.
    let r = std::ptr::from_ref(r.as_ref()).cast_mut();
    let mut name = *name;
    let mut value = ngx_str_t {
        len: 0,
        data: std::ptr::null_mut(),
    };
    // SAFETY: r is live with parsed headers; nginx only reads them and `name`.
    #[cfg(nginx1_23_0)]
    let found = unsafe {
        !ngx_http_parse_multi_header_lines(r, (*r).headers_in.cookie, &mut name, &mut value)
            .is_null()
    };
    // nginx < 1.23: the cookies are an array; NGX_DECLINED when the cookie is absent.
    // SAFETY: as above.
    #[cfg(not(nginx1_23_0))]
    let found = unsafe {
        ngx_http_parse_multi_header_lines(&mut (*r).headers_in.cookies, &mut name, &mut value)
            != ngx::ffi::NGX_DECLINED as ngx::ffi::ngx_int_t
    };
    found.then_some(value)
}
