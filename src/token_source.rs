//! Finding the token in a request (README "auth_jwt_rs_token").
//!
//! Sources are tried in order and the first one that yields a non-empty value is THE token: a
//! bad token in one source never falls back to another.

use ngx::ffi::{ngx_http_arg, ngx_str_t};
use ngx::http::Request;

use auth_jwt_core::credentials::bearer_credentials;

use crate::conf::{ComplexValue, Source};
use crate::util::{bytes, find_header};

/// Returns the token of the first source that has one (bytes live in the request pool or the
/// request's header buffers).
pub fn find_token<'r>(r: &'r Request, sources: &[Source]) -> Option<&'r [u8]> {
    sources
        .iter()
        .find_map(|s| from_source(r, s))
        .filter(|t| !t.is_empty())
}

fn from_source<'r>(r: &'r Request, source: &Source) -> Option<&'r [u8]> {
    match source {
        Source::Bearer => {
            let h = r.as_ref().headers_in.authorization;
            // SAFETY: a non-null header slot points to an element of the request's headers.
            let h = unsafe { h.as_ref() }?;
            bearer_credentials(request_bytes(r, &h.value))
        }
        Source::Cookie(name) => {
            let value = crate::compat::cookie(r, name)?;
            non_empty(request_bytes(r, &value))
        }
        Source::Header(name) => {
            let v = find_header(r, bytes(name), |_| true)?;
            Some(bearer_credentials(v).unwrap_or(v)).and_then(non_empty)
        }
        Source::Arg(name) => {
            let mut value = ngx_str_t {
                len: 0,
                data: std::ptr::null_mut(),
            };
            // SAFETY: ngx_http_arg only reads the request's arguments and `name` (ngx 0.5 has no
            // wrapper); it is declared `*mut` but does not write the request.
            let rc = unsafe {
                ngx_http_arg(
                    std::ptr::from_ref(r.as_ref()).cast_mut(),
                    name.data,
                    name.len,
                    &mut value,
                )
            };
            if rc != 0 {
                return None;
            }
            non_empty(request_bytes(r, &value))
        }
        Source::Var(cv) => complex_value(r, *cv).and_then(non_empty),
    }
}

fn non_empty(b: &[u8]) -> Option<&[u8]> {
    (!b.is_empty()).then_some(b)
}

/// Bytes owned by request `r` (its pool or header buffers), borrowed for as long as `r` is.
fn request_bytes<'r>(_r: &'r Request, s: &ngx_str_t) -> &'r [u8] {
    if s.data.is_null() || s.len == 0 {
        return &[];
    }
    // SAFETY: the data lives in the request's buffers or pool, which outlive the borrow of r.
    unsafe { std::slice::from_raw_parts(s.data, s.len) }
}

/// Evaluates a complex value in the request pool.
pub fn complex_value(r: &Request, cv: ComplexValue) -> Option<&[u8]> {
    // SAFETY: cv points to a value compiled in the cycle pool at configuration time.
    let cv = unsafe { &*cv.0 };
    r.get_complex_value(cv).map(|s| s.as_bytes())
}
