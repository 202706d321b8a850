//! `auth_jwt_rs_verify`: a content handler that answers the gate's decision itself, so it works
//! as an `auth_request` target (nginx skips access-phase handlers in subrequests) and as a
//! forward-auth endpoint for other proxies. It answers 204, 401 or 403, and 500 only for a
//! true server fault.

use auth_jwt_core::outcome::Decision;
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{ngx_http_finalize_request, ngx_http_request_t, ngx_int_t, NGX_DONE};
use ngx::http::{HTTPStatus, HttpModuleLocationConf, NgxHttpCoreModule, Request};

use crate::conf::args::setter;
use crate::conf::{ConfPos, LocConf, Module, IS_DUPLICATE};
use crate::decide::decide;
use crate::respond::{count_decision, respond};
use crate::util::guard;

setter! {
    /// `auth_jwt_rs_verify;` makes the location answer the gate's decision.
    cmd_set_verify, |cf, lc: &mut LocConf, _| {
        if lc.verify {
            return IS_DUPLICATE;
        }
        // SAFETY: cf is the configuration nginx is parsing (hook or setter argument).
        let Some(clcf) = NgxHttpCoreModule::location_conf_mut(unsafe { &*cf }) else {
            return NGX_CONF_ERROR;
        };
        clcf.handler = Some(verify_handler);
        lc.verify = true;
        // SAFETY: cf is the configuration nginx is parsing (hook or setter argument).
        lc.verify_pos = Some(unsafe { ConfPos::of(cf) });
        NGX_CONF_OK
    }
}

unsafe extern "C" fn verify_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a live request, used by nothing else meanwhile.
    let req = unsafe { Request::from_ngx_http_request(r) };
    guard(req.log(), 500, || {
        if req.is_main() {
            let rc = req.discard_request_body();
            if !rc.is_ok() {
                return rc.into();
            }
        }
        match verify(req) {
            Some(rc) => rc,
            None => {
                // Waiting for keys: hold a reference until `verify_resume` finalizes (what
                // nginx's own handlers do with `r->main->count++`; ngx 0.5 has no wrapper).
                let r = req.as_mut();
                r.write_event_handler = Some(verify_resume);
                // SAFETY: r->main is the live main request of r.
                unsafe { (*r.main).set_count((*r.main).count() + 1) };
                NGX_DONE as ngx_int_t
            }
        }
    })
}

/// Called when the keys this request waited for have arrived (or failed).
unsafe extern "C" fn verify_resume(r: *mut ngx_http_request_t) {
    // SAFETY: nginx calls write event handlers with a live request.
    let req = unsafe { Request::from_ngx_http_request(r) };
    let rc = guard(req.log(), 500, || {
        verify(req).unwrap_or(NGX_DONE as ngx_int_t)
    });
    if rc != NGX_DONE as ngx_int_t {
        // SAFETY: r is live; this ends the content phase as the handler would have (ngx 0.5
        // has no wrapper for ngx_http_finalize_request).
        unsafe { ngx_http_finalize_request(r, rc) };
    }
}

/// The handler's answer, or `None` while keys are being fetched.
fn verify(r: &mut Request) -> Option<ngx_int_t> {
    let Some(lc) = Module::location_conf(r) else {
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
            // A header-only 204 is complete once the header is sent.
            r.set_status(HTTPStatus::NO_CONTENT);
            r.set_content_length_n(0);
            r.as_mut().set_header_only(1);
            r.send_header().into()
        }
        d => respond(r, lc, d, false),
    })
}
