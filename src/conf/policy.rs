//! Claim policy directives: `auth_jwt_rs_leeway`, `_require_exp`, `_issuer`, `_audience`,
//! `_max_lifetime`, `_type`.

use std::ffi::{c_char, c_void};

use auth_jwt_core::claims::type_key;
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{ngx_command_t, ngx_conf_t, NGX_LOG_EMERG};
use ngx::ngx_conf_log_error;

use super::args::*;
use super::*;
use crate::util::{bytes, conf_args, conf_mut};

pub extern "C" fn cmd_set_leeway(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    if lc.leeway.is_some() {
        return IS_DUPLICATE;
    }
    match parse_secs(cf, "auth_jwt_rs_leeway", 0) {
        Some(secs) => lc.leeway = Some(secs),
        None => return NGX_CONF_ERROR,
    }
    NGX_CONF_OK
}

pub extern "C" fn cmd_set_require_exp(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    if lc.require_exp.is_some() {
        return IS_DUPLICATE;
    }
    let args = unsafe { conf_args(cf) };
    lc.require_exp = match bytes(&args[1]) {
        b"on" => Some(true),
        b"off" => Some(false),
        _ => {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "invalid value \"{}\" in \"auth_jwt_rs_require_exp\", it must be \"on\" or \"off\"",
                arg_str(&args[1])
            );
            return NGX_CONF_ERROR;
        }
    };
    NGX_CONF_OK
}

pub extern "C" fn cmd_set_issuer(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    if lc.issuers.is_some() {
        return IS_DUPLICATE;
    }
    let args = unsafe { conf_args(cf) };
    lc.issuers = Some(args[1..].iter().map(arg_str).collect());
    NGX_CONF_OK
}

pub extern "C" fn cmd_set_audience(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    if lc.audiences.is_some() {
        return IS_DUPLICATE;
    }
    let args = unsafe { conf_args(cf) };
    lc.audiences = Some(args[1..].iter().map(arg_str).collect());
    NGX_CONF_OK
}

pub extern "C" fn cmd_set_max_lifetime(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    if lc.max_lifetime.is_some() {
        return IS_DUPLICATE;
    }
    let args = unsafe { conf_args(cf) };
    if bytes(&args[1]) == b"off" {
        lc.max_lifetime = Some(None);
        return NGX_CONF_OK;
    }
    match parse_secs(cf, "auth_jwt_rs_max_lifetime", 1) {
        Some(secs) => lc.max_lifetime = Some(Some(secs)),
        None => return NGX_CONF_ERROR,
    }
    NGX_CONF_OK
}

pub extern "C" fn cmd_set_type(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    if lc.types.is_some() {
        return IS_DUPLICATE;
    }
    let args = unsafe { conf_args(cf) };
    let values = &args[1..];
    if values.len() == 1 && bytes(&values[0]) == b"off" {
        lc.types = Some(Vec::new());
        return NGX_CONF_OK;
    }
    let mut types = Vec::with_capacity(values.len());
    for v in values {
        let key = type_key(&arg_str(v));
        if key.is_empty() || bytes(v) == b"off" {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "invalid value \"{}\" in \"auth_jwt_rs_type\"",
                arg_str(v)
            );
            return NGX_CONF_ERROR;
        }
        types.push(key);
    }
    lc.types = Some(types);
    NGX_CONF_OK
}
