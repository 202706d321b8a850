//! Finding the token in a request (`auth_jwt_rs_token`, SPEC §1 and §9).
//!
//! Sources are tried in order and the first one that yields a non-empty value is THE token: a
//! bad token in one source never falls back to another.

use ngx::ffi::{ngx_http_arg, ngx_http_complex_value, ngx_http_request_t, ngx_str_t};

use auth_jwt_core::credentials::bearer_credentials;

use crate::conf::{ComplexValue, Source};
use crate::util::bytes;

/// Returns the token of the first source that has one (bytes live in the request pool or the
/// request's header buffers).
pub fn find_token<'r>(r: *mut ngx_http_request_t, sources: &[Source]) -> Option<&'r [u8]> {
    sources
        .iter()
        .find_map(|s| from_source(r, s))
        .filter(|t| !t.is_empty())
}

fn from_source<'r>(r: *mut ngx_http_request_t, source: &Source) -> Option<&'r [u8]> {
    // SAFETY: r is a live request; header values stay valid for its lifetime.
    unsafe {
        match source {
            Source::Bearer => {
                let h = (*r).headers_in.authorization;
                if h.is_null() {
                    return None;
                }
                bearer_credentials(bytes(&(*h).value))
            }
            Source::Cookie(name) => {
                let value = crate::compat::cookie(r, name)?;
                non_empty(bytes_static(&value))
            }
            Source::Header(name) => {
                let v = crate::util::find_header(r, bytes(name), |_| true)?;
                Some(bearer_credentials(v).unwrap_or(v)).and_then(non_empty)
            }
            Source::Arg(name) => {
                let mut value = ngx_str_t {
                    len: 0,
                    data: std::ptr::null_mut(),
                };
                if ngx_http_arg(r, name.data, name.len, &mut value) != 0 {
                    return None;
                }
                non_empty(bytes_static(&value))
            }
            Source::Var(cv) => complex_value(r, *cv).and_then(non_empty),
        }
    }
}

fn non_empty(b: &[u8]) -> Option<&[u8]> {
    (!b.is_empty()).then_some(b)
}

/// Extends the lifetime of request-owned bytes to the caller's request lifetime.
fn bytes_static<'r>(s: &ngx_str_t) -> &'r [u8] {
    if s.data.is_null() || s.len == 0 {
        return &[];
    }
    // SAFETY: the data lives in the request's buffers or pool, which outlive the handler call.
    unsafe { std::slice::from_raw_parts(s.data, s.len) }
}

/// Evaluates a complex value in the request pool.
pub fn complex_value<'r>(r: *mut ngx_http_request_t, cv: ComplexValue) -> Option<&'r [u8]> {
    let mut out = ngx_str_t {
        len: 0,
        data: std::ptr::null_mut(),
    };
    // SAFETY: cv was compiled at configuration time; the result is allocated in r's pool.
    if unsafe { ngx_http_complex_value(r, cv.0, &mut out) } != 0 {
        return None;
    }
    Some(bytes_static(&out))
}
