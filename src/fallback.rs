//! `auth_jwt_rs_fallback`: requests without a JWT are decided by a subrequest, with exactly the
//! semantics of nginx's `auth_request` (README "auth_jwt_rs_fallback"): request body not passed,
//! 2xx allows, 401 and 403 are returned (401 with the subrequest's `WWW-Authenticate`),
//! anything else is a 500.

use std::ffi::c_void;

use auth_jwt_core::outcome::{JwtReason, JwtStatus};
use ngx::ffi::{
    ngx_http_post_subrequest_t, ngx_http_request_body_t, ngx_http_request_t, ngx_http_subrequest,
    ngx_int_t, ngx_pcalloc, ngx_str_t, ngx_uint_t, NGX_AGAIN, NGX_ERROR, NGX_HTTP_FORBIDDEN,
    NGX_HTTP_SUBREQUEST_WAITED, NGX_HTTP_UNAUTHORIZED, NGX_OK,
};
use ngx::http::Request;

use crate::conf::FallbackVar;
use crate::ctx::{self, Ctx, Fallback};
use crate::log::{log_debug, log_error};
use crate::token_source::complex_value;

/// Starts the subrequest to `uri`; the access handler returns NGX_AGAIN and is called again
/// once it is done.
pub fn start(r: &Request, ctx: &Ctx, uri: &ngx_str_t) -> ngx_int_t {
    log_debug!(r, "auth_jwt_rs: no JWT, asking the fallback");
    // SAFETY: ngx_http_subrequest is the raw edge here: ngx 0.5's `Request::subrequest` does
    // not check the new subrequest for NULL and leaves its fake body uninitialised. Everything
    // is allocated in r's pool, which the subrequest shares and which outlives it; the
    // post-subrequest data is r's context, alive as long as that pool.
    unsafe {
        let r: *mut ngx_http_request_t = std::ptr::from_ref(r.as_ref()).cast_mut();
        let pool = (*r).pool;
        let ps = ngx_pcalloc(pool, std::mem::size_of::<ngx_http_post_subrequest_t>())
            as *mut ngx_http_post_subrequest_t;
        if ps.is_null() {
            return NGX_ERROR as ngx_int_t;
        }
        (*ps).handler = Some(fallback_done);
        (*ps).data = std::ptr::from_ref(ctx).cast_mut().cast();

        let mut uri = *uri;
        let mut sr: *mut ngx_http_request_t = std::ptr::null_mut();
        let rc = ngx_http_subrequest(
            r,
            &mut uri,
            std::ptr::null_mut(),
            &mut sr,
            ps,
            NGX_HTTP_SUBREQUEST_WAITED as ngx_uint_t,
        );
        if rc != NGX_OK as ngx_int_t || sr.is_null() {
            return NGX_ERROR as ngx_int_t;
        }
        // The client's request body is never passed to the auth service.
        let body = ngx_pcalloc(pool, std::mem::size_of::<ngx_http_request_body_t>())
            as *mut ngx_http_request_body_t;
        if body.is_null() {
            return NGX_ERROR as ngx_int_t;
        }
        (*sr).request_body = body;
        (*sr).set_header_only(1);
    }
    ctx.set_fallback(Fallback::InFlight);
    NGX_AGAIN as ngx_int_t
}

/// Post-subrequest handler: records the status (may run more than once; the last one wins).
unsafe extern "C" fn fallback_done(
    sr: *mut ngx_http_request_t,
    data: *mut c_void,
    rc: ngx_int_t,
) -> ngx_int_t {
    // SAFETY: data is the parent's Ctx, alive in the shared request pool (shared borrow: the
    // context's fields are cells); sr is the live subrequest.
    unsafe {
        let ctx = &*(data as *const Ctx);
        ctx.set_fallback(Fallback::Done {
            sr,
            status: (*sr).headers_out.status,
        });
    }
    rc
}

/// Resumes the access handler: `None` while no fallback ran, else the handler's result.
pub fn resume(r: &mut Request, vars: &[FallbackVar]) -> Option<ngx_int_t> {
    let (sr, status) = match ctx::current(r)?.fallback() {
        None => return None,
        Some(Fallback::InFlight) => return Some(NGX_AGAIN as ngx_int_t),
        Some(Fallback::Done { sr, status }) => (sr, status),
    };
    // SAFETY: the subrequest lives in r's pool until r ends; nothing else uses it now.
    let sr = unsafe { Request::from_ngx_http_request(sr) };
    // Like auth_request_set: values are evaluated in the subrequest, whatever its status.
    let values = vars
        .iter()
        .map(|v| {
            let value = complex_value(sr, v.value).map(<[u8]>::to_vec);
            (v.index, value.unwrap_or_default())
        })
        .collect();
    let (jwt_status, rc) = match status {
        200..=299 => (JwtStatus::FallbackOk, NGX_OK as ngx_int_t),
        s if s == NGX_HTTP_FORBIDDEN as usize => (JwtStatus::FallbackDenied, s as ngx_int_t),
        s if s == NGX_HTTP_UNAUTHORIZED as usize => {
            if copy_challenge(r, sr).is_none() {
                return Some(NGX_ERROR as ngx_int_t);
            }
            (JwtStatus::FallbackDenied, s as ngx_int_t)
        }
        s => {
            log_error!(r, "auth_jwt_rs: fallback request unexpected status: {s}");
            (JwtStatus::Error, 500)
        }
    };
    let ctx = ctx::current(r)?;
    ctx.set_fallback_values(values);
    ctx.set_outcome(jwt_status, Some(JwtReason::Fallback));
    log_debug!(
        r,
        "auth_jwt_rs: fallback answered {status}: {}",
        jwt_status.as_str()
    );
    crate::metrics::decision(jwt_status, Some(JwtReason::Fallback));
    Some(rc)
}

/// Copies the subrequest's `WWW-Authenticate` chain (own or from its upstream) to `r`.
fn copy_challenge(r: &mut Request, sr: &Request) -> Option<()> {
    let mut h = sr.as_ref().headers_out.www_authenticate;
    if let (true, Some(u)) = (h.is_null(), sr.upstream()) {
        // SAFETY: the subrequest's upstream lives in its pool.
        h = unsafe { (*u).headers_in.www_authenticate };
    }
    let rp: *mut ngx_http_request_t = r.as_mut();
    // SAFETY: both requests are live; h is null or a header element of the subrequest; the
    // slot is r's own `headers_out.www_authenticate`.
    unsafe { crate::compat::copy_header_chain(rp, h, &raw mut (*rp).headers_out.www_authenticate) }
}
