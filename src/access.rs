//! The gate: the access-phase handler (registered in postconfiguration).

use auth_jwt_core::outcome::Decision;
use ngx::ffi::{ngx_http_request_t, ngx_int_t, NGX_DECLINED, NGX_ERROR};
use ngx::http::{HttpModuleLocationConf, Request};

use crate::conf::Module;
use crate::decide::{decide, gate_enabled};
use crate::respond::respond;
use crate::util::guard;
use crate::{ctx, fallback};

/// Access-phase handler.
pub unsafe extern "C" fn access_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls phase handlers with a live request, used by nothing else meanwhile.
    let req = unsafe { Request::from_ngx_http_request(r) };
    guard(req.log(), NGX_ERROR as ngx_int_t, || access(req))
}

fn access(r: &mut Request) -> ngx_int_t {
    let Some(lc) = Module::location_conf(r) else {
        return NGX_DECLINED as ngx_int_t;
    };
    if !gate_enabled(r, lc) {
        return NGX_DECLINED as ngx_int_t;
    }
    let Some(gate) = lc.gate.as_deref() else {
        // Merge guarantees keys wherever the gate can be on; fail closed regardless.
        return respond(r, lc, Decision::Error, false);
    };
    let fallback_vars = lc.fallback_vars.as_deref().map_or(&[][..], Vec::as_slice);
    if let Some(rc) = fallback::resume(r, fallback_vars) {
        return rc;
    }
    let decision = decide(r, lc, gate);
    if let (Decision::Missing | Decision::NotJwt(_), Some(Some(uri))) = (&decision, &lc.fallback) {
        return match ctx::current(r) {
            Some(ctx) => fallback::start(r, ctx, uri),
            None => NGX_ERROR as ngx_int_t,
        };
    }
    respond(r, lc, decision, true)
}
