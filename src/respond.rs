//! Turning a [`Decision`] into a handler's answer: the status, `WWW-Authenticate` (README
//! "Status codes and challenges"), the browser login redirect, and the decision counters.

use auth_jwt_core::outcome::{Decision, JwtStatus};
use auth_jwt_core::reason::Reason;
use ngx::ffi::{
    ngx_int_t, ngx_list_push, ngx_str_t, ngx_table_elt_t, NGX_AGAIN, NGX_ERROR,
    NGX_HTTP_MOVED_TEMPORARILY, NGX_OK,
};
use ngx::http::{Method, Request};

use crate::conf::LocConf;
use crate::token_source::complex_value;
use crate::util::{bytes, find_header, pool_str};
use crate::{ctx, metrics};

/// Turns a decision into a handler's return value, setting headers as needed, and counts it.
/// `redirect` allows the browser login redirect (the gate), which `auth_jwt_rs_verify` never
/// answers.
pub fn respond(r: &mut Request, lc: &LocConf, d: Decision, redirect: bool) -> ngx_int_t {
    let rc = respond_inner(r, lc, d, redirect);
    if !matches!(d, Decision::Wait) {
        count_decision(r);
    }
    rc
}

/// Counts the decision recorded in `r`'s context in the status metrics.
pub fn count_decision(r: &Request) {
    if let Some(c) = ctx::own(r) {
        if let Some(status) = c.status() {
            metrics::decision(status, c.reason());
        }
    }
}

fn respond_inner(r: &mut Request, lc: &LocConf, d: Decision, redirect: bool) -> ngx_int_t {
    match d {
        Decision::Allow => NGX_OK as ngx_int_t,
        Decision::Wait => NGX_AGAIN as ngx_int_t,
        Decision::Missing | Decision::Invalid(_) | Decision::NotJwt(_)
            if redirect && login_redirect(r, lc) =>
        {
            NGX_HTTP_MOVED_TEMPORARILY as ngx_int_t
        }
        Decision::Missing => challenge(r, lc, 401, None),
        Decision::Invalid(reason) | Decision::NotJwt(reason) => challenge(r, lc, 401, Some(reason)),
        Decision::Forbidden(401) => challenge(r, lc, 401, Some(Reason::Rule)),
        Decision::Forbidden(status) => challenge(r, lc, status, None),
        Decision::Error => {
            if let Some(ctx) = ctx::get_or_create(r) {
                ctx.set_outcome(JwtStatus::Error, Some(Reason::Internal.into()));
            }
            500
        }
    }
}

/// The `WWW-Authenticate` value for a response (README "Status codes and challenges"), built
/// in one buffer.
pub fn challenge_value(realm: Option<&[u8]>, status: u16, reason: Option<Reason>) -> Vec<u8> {
    let description = match (status, reason) {
        (401, Some(reason)) => Some(reason.description()),
        _ => None,
    };
    let mut v =
        Vec::with_capacity(96 + realm.map_or(0, <[u8]>::len) + description.map_or(0, str::len));
    v.extend_from_slice(b"Bearer");
    let mut sep: &[u8] = b" ";
    if let Some(realm) = realm {
        v.extend_from_slice(sep);
        v.extend_from_slice(b"realm=\"");
        v.extend_from_slice(realm);
        v.push(b'"');
        sep = b", ";
    }
    if let Some(d) = description {
        v.extend_from_slice(sep);
        v.extend_from_slice(b"error=\"invalid_token\", error_description=\"");
        v.extend_from_slice(d.as_bytes());
        v.push(b'"');
    } else if status == 403 {
        v.extend_from_slice(sep);
        v.extend_from_slice(b"error=\"insufficient_scope\"");
    }
    v
}

fn challenge(r: &mut Request, lc: &LocConf, status: u16, reason: Option<Reason>) -> ngx_int_t {
    let value = challenge_value(lc.realm.as_ref().map(bytes), status, reason);
    if set_www_authenticate(r, &value).is_none() {
        return NGX_ERROR as ngx_int_t;
    }
    status as ngx_int_t
}

/// Adds a response header the way nginx's own modules add the ones they also point to from
/// `headers_out` (`hash = 1`, no `next`), hiding `old` (the header it replaces), and returns it.
/// ngx 0.5's `add_header_out` does neither, so this edge stays raw.
fn push_header_out(
    r: &mut Request,
    key: ngx_str_t,
    value: &[u8],
    old: *mut ngx_table_elt_t,
) -> Option<*mut ngx_table_elt_t> {
    let v = pool_str(r.as_ref().pool, value)?;
    // SAFETY: `old` is null or an element of r's response headers; the new element is
    // allocated in the request pool by ngx_list_push.
    unsafe {
        if !old.is_null() {
            (*old).hash = 0;
        }
        let h = ngx_list_push(&mut r.as_mut().headers_out.headers) as *mut ngx_table_elt_t;
        if h.is_null() {
            return None;
        }
        (*h).hash = 1;
        crate::compat::end_chain(h);
        (*h).key = key;
        (*h).value = v;
        (*h).lowcase_key = std::ptr::null_mut();
        Some(h)
    }
}

/// Sets `r->headers_out.www_authenticate` the way nginx's auth_basic does, so the challenge
/// survives `error_page` and is copied by `auth_request`.
pub fn set_www_authenticate(r: &mut Request, value: &[u8]) -> Option<()> {
    let old = r.as_ref().headers_out.www_authenticate;
    let h = push_header_out(r, ngx::ngx_string!("WWW-Authenticate"), value, old)?;
    r.as_mut().headers_out.www_authenticate = h;
    Some(())
}

/// A browser navigation (GET/HEAD accepting text/html) without a valid token is sent to
/// `auth_jwt_rs_login_url` instead of receiving the 401 (README "auth_jwt_rs_login_url").
fn login_redirect(r: &mut Request, lc: &LocConf) -> bool {
    let Some(cv) = lc.login_url else {
        return false;
    };
    let m = r.method();
    if m != Method::GET && m != Method::HEAD {
        return false;
    }
    if !accepts_html(r) {
        return false;
    }
    let Some(url) = complex_value(r, cv) else {
        return false;
    };
    if url.is_empty() || url.iter().any(|&c| c < 0x20 || c == 0x7f) {
        return false;
    }
    // The URL lives in the request pool; copy the reference out of the borrow of `r`.
    let url = ngx_str_t {
        len: url.len(),
        data: url.as_ptr().cast_mut(),
    };
    // nginx's special response handler takes the redirect target from here.
    let old = r.as_ref().headers_out.location;
    let Some(h) = push_header_out(r, ngx::ngx_string!("Location"), bytes(&url), old) else {
        return false;
    };
    r.as_mut().headers_out.location = h;
    true
}

/// Whether any `Accept` header lists `text/html`.
fn accepts_html(r: &Request) -> bool {
    find_header(r, b"accept", |v| {
        v.windows(9).any(|w| w.eq_ignore_ascii_case(b"text/html"))
    })
    .is_some()
}
