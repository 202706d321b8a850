//! `auth_jwt_rs_verify`: a content handler that answers the gate's decision itself, so it works
//! as an `auth_request` target (nginx skips access-phase handlers in subrequests) and as a
//! forward-auth endpoint for other proxies. It answers 204, 401 or 403, and 500 only for a
//! true server fault.

use ngx::ffi::{
    ngx_http_discard_request_body, ngx_http_finalize_request, ngx_http_request_t,
    ngx_http_send_header, ngx_int_t, NGX_DONE, NGX_HTTP_NO_CONTENT, NGX_OK,
};
use ngx::http::HttpModuleLocationConf;

use crate::gate::{count_decision, decide, respond, Decision};
use crate::util::{self, guard};
use crate::Module;

pub unsafe extern "C" fn verify_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    let log = util::request_log(r);
    guard(log, 500, || {
        // SAFETY: nginx calls content handlers with a live request.
        unsafe {
            if (*r).main == r {
                let rc = ngx_http_discard_request_body(r);
                if rc != NGX_OK as ngx_int_t {
                    return rc;
                }
            }
        }
        match verify(r) {
            Some(rc) => rc,
            None => {
                // Waiting for keys: hold a reference until `verify_resume` finalizes.
                unsafe {
                    (*r).write_event_handler = Some(verify_resume);
                    (*(*r).main).set_count((*(*r).main).count() + 1);
                }
                NGX_DONE as ngx_int_t
            }
        }
    })
}

/// Called when the keys this request waited for have arrived (or failed).
unsafe extern "C" fn verify_resume(r: *mut ngx_http_request_t) {
    let log = util::request_log(r);
    let rc = guard(log, 500, || verify(r).unwrap_or(NGX_DONE as ngx_int_t));
    if rc != NGX_DONE as ngx_int_t {
        // SAFETY: r is live; this ends the content phase as the handler would have.
        unsafe { ngx_http_finalize_request(r, rc) };
    }
}

/// The handler's answer, or `None` while keys are being fetched.
fn verify(r: *mut ngx_http_request_t) -> Option<ngx_int_t> {
    let req = unsafe { ngx::http::Request::from_ngx_http_request(r) };
    let Some(lc) = Module::location_conf(req) else {
        return Some(500);
    };
    let Some(gate) = lc.gate.as_deref() else {
        return Some(500);
    };
    let decision = match decide(r, lc, gate) {
        // Not JWT-shaped is just another invalid token here: there is no fallback.
        Decision::NotJwt(reason) => Decision::Invalid(reason),
        d => d,
    };
    Some(match decision {
        Decision::Wait => return None,
        Decision::Allow => {
            count_decision(r);
            // SAFETY: r is live; a header-only 204 is complete once the header is sent.
            unsafe {
                (*r).headers_out.status = NGX_HTTP_NO_CONTENT as usize;
                (*r).headers_out.content_length_n = 0;
                (*r).set_header_only(1);
                ngx_http_send_header(r)
            }
        }
        d => respond(r, lc, d, false),
    })
}
