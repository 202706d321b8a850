//! `auth_jwt_rs_fallback`: requests without a JWT are decided by a subrequest, with exactly the
//! semantics of nginx's `auth_request` (SPEC §6): request body not passed, 2xx allows, 401 and
//! 403 are returned (401 with the subrequest's `WWW-Authenticate`), anything else is a 500.

use std::ffi::c_void;

use ngx::ffi::{
    ngx_http_post_subrequest_t, ngx_http_request_body_t, ngx_http_request_t, ngx_http_subrequest,
    ngx_int_t, ngx_pcalloc, ngx_str_t, ngx_uint_t, NGX_AGAIN, NGX_ERROR, NGX_HTTP_FORBIDDEN,
    NGX_HTTP_SUBREQUEST_WAITED, NGX_HTTP_UNAUTHORIZED, NGX_LOG_ERR, NGX_OK,
};

use crate::conf::FallbackVar;
use crate::ctx::{self, Ctx, Fallback, JwtStatus};
use crate::token_source::complex_value;
use crate::util;

/// Starts the subrequest to `uri`; the access handler returns NGX_AGAIN and is called again
/// once it is done.
pub fn start(r: *mut ngx_http_request_t, ctx: &mut Ctx, uri: &ngx_str_t) -> ngx_int_t {
    // SAFETY: r is live; everything is allocated in its pool, which outlives the subrequest.
    unsafe {
        let pool = (*r).pool;
        let ps = ngx_pcalloc(pool, std::mem::size_of::<ngx_http_post_subrequest_t>())
            as *mut ngx_http_post_subrequest_t;
        if ps.is_null() {
            return NGX_ERROR as ngx_int_t;
        }
        (*ps).handler = Some(fallback_done);
        (*ps).data = (ctx as *mut Ctx).cast();

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
        ctx.fallback = Some(Fallback::InFlight);
    }
    NGX_AGAIN as ngx_int_t
}

/// Post-subrequest handler: records the status (may run more than once; the last one wins).
unsafe extern "C" fn fallback_done(
    sr: *mut ngx_http_request_t,
    data: *mut c_void,
    rc: ngx_int_t,
) -> ngx_int_t {
    // SAFETY: data is the parent's Ctx, alive in the shared request pool.
    unsafe {
        let ctx = &mut *(data as *mut Ctx);
        ctx.fallback = Some(Fallback::Done {
            sr,
            status: (*sr).headers_out.status,
        });
    }
    rc
}

/// Resumes the access handler: `None` while the subrequest runs, else the handler's result.
pub fn resume(r: *mut ngx_http_request_t, vars: &[FallbackVar]) -> Option<ngx_int_t> {
    let ctx = ctx::current(r)?;
    let (sr, status) = match ctx.fallback {
        None => return None,
        Some(Fallback::InFlight) => return Some(NGX_AGAIN as ngx_int_t),
        Some(Fallback::Done { sr, status }) => (sr, status),
    };
    // Like auth_request_set: values are evaluated in the subrequest, whatever its status.
    ctx.fallback_values.clear();
    for v in vars {
        let value = complex_value(sr, v.value)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        ctx.fallback_values.push((v.index, value));
    }
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
            util::log_request(r, NGX_LOG_ERR as ngx_uint_t, || {
                format!("auth_jwt_rs: fallback request unexpected status: {s}")
            });
            (JwtStatus::Error, 500)
        }
    };
    ctx.status = Some(jwt_status);
    ctx.reason = Some("fallback");
    crate::metrics::decision(jwt_status, ctx.reason);
    Some(rc)
}

/// Copies the subrequest's `WWW-Authenticate` chain (own or from its upstream) to `r`.
fn copy_challenge(r: *mut ngx_http_request_t, sr: *mut ngx_http_request_t) -> Option<()> {
    // SAFETY: both requests are live; new header elements are pushed to r's list.
    unsafe {
        let mut h = (*sr).headers_out.www_authenticate;
        if h.is_null() && !(*sr).upstream.is_null() {
            h = (*(*sr).upstream).headers_in.www_authenticate;
        }
        crate::compat::copy_header_chain(r, h, &mut (*r).headers_out.www_authenticate)
    }
}
