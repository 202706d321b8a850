//! `auth_jwt_rs_status`: a content handler that answers the counters of [`crate::metrics`] in
//! Prometheus' text format (README "auth_jwt_rs_status").

use std::ffi::{c_char, c_void};

use ngx::core::{Buffer, NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{
    ngx_chain_t, ngx_command_t, ngx_conf_t, ngx_http_request_t, ngx_int_t, ngx_str_t, NGX_ERROR,
    NGX_HTTP_NOT_ALLOWED, NGX_OK,
};
use ngx::http::{
    HTTPStatus, HttpModuleLocationConf, HttpModuleMainConf, Method, NgxHttpCoreModule, Request,
};

use crate::conf::Module;
use crate::keyzone::KeyZone;
use crate::metrics;
use crate::util::{guard, now};

/// `auth_jwt_rs_status;` makes the location answer the counters.
pub extern "C" fn cmd_set_status(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    _conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx calls setters with the configuration being parsed.
    let Some(clcf) = NgxHttpCoreModule::location_conf_mut(unsafe { &*cf }) else {
        return NGX_CONF_ERROR;
    };
    clcf.handler = Some(status_handler);
    NGX_CONF_OK
}

/// Content handler of `auth_jwt_rs_status`.
unsafe extern "C" fn status_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a live request, used by nothing else meanwhile.
    let req = unsafe { Request::from_ngx_http_request(r) };
    guard(req.log(), 500, || send_status(req))
}

fn send_status(r: &mut Request) -> ngx_int_t {
    let m = r.method();
    if m != Method::GET && m != Method::HEAD {
        return NGX_HTTP_NOT_ALLOWED as ngx_int_t;
    }
    let rc = r.discard_request_body();
    if !rc.is_ok() {
        return rc.into();
    }
    let ages = Module::main_conf(r)
        .and_then(|mc| mc.key_zone)
        .map(|z| KeyZone::new(z).ages())
        .unwrap_or_default();
    let body = metrics::render(&ages, now());
    const CT: &str = "text/plain; version=0.0.4; charset=utf-8";
    r.set_status(HTTPStatus::OK);
    r.set_content_length_n(body.len());
    set_content_type(r, CT);
    let rc: ngx_int_t = r.send_header().into();
    if rc == NGX_ERROR as ngx_int_t || rc > NGX_OK as ngx_int_t || r.header_only() {
        return rc;
    }
    let Some(mut buf) = r.pool().create_buffer_from_str(&body) else {
        return NGX_ERROR as ngx_int_t;
    };
    buf.set_last_buf(r.is_main());
    buf.set_last_in_chain(true);
    let mut out = ngx_chain_t {
        buf: buf.as_ngx_buf_mut(),
        next: std::ptr::null_mut(),
    };
    r.output_filter(&mut out).into()
}

/// Sets the response's `Content-Type` (ngx 0.5 has no setter for it).
fn set_content_type(r: &mut Request, ct: &'static str) {
    let h = &mut r.as_mut().headers_out;
    h.content_type = ngx_str_t {
        len: ct.len(),
        data: ct.as_ptr() as *mut u8,
    };
    h.content_type_len = ct.len();
}
