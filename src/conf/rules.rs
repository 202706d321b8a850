//! Authorization rule directives: `auth_jwt_rs_require`, `auth_jwt_rs_require_claim`.

use std::ffi::{c_char, c_void};

use auth_jwt_core::rules::parse_rule;
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{ngx_command_t, ngx_conf_t, NGX_LOG_EMERG};
use ngx::ngx_conf_log_error;

use super::args::*;
use super::*;
use crate::util::{bytes, conf_args, conf_mut};

/// Rules are collected per level: a level that sets any rule replaces the enclosing level's.
fn push_rule(lc: &mut LocConf, rule: Rule) {
    push_entry(&mut lc.rules, rule);
}

pub extern "C" fn cmd_add_require(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    let args = unsafe { conf_args(cf) };
    let (vals, status) = match split_error_code(&args[1..]) {
        Ok(v) => v,
        Err(e) => {
            ngx_conf_log_error!(NGX_LOG_EMERG, cf, "auth_jwt_rs_require: {e}");
            return NGX_CONF_ERROR;
        }
    };
    if vals.is_empty() {
        ngx_conf_log_error!(NGX_LOG_EMERG, cf, "auth_jwt_rs_require: no variable given");
        return NGX_CONF_ERROR;
    }
    let mut values = Vec::with_capacity(vals.len());
    for v in vals {
        if bytes(v).first() != Some(&b'$') {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "auth_jwt_rs_require: \"{}\" is not a variable",
                arg_str(v)
            );
            return NGX_CONF_ERROR;
        }
        match unsafe { compile_complex(cf, v) } {
            Some(cv) => values.push(cv),
            None => return NGX_CONF_ERROR,
        }
    }
    push_rule(lc, Rule::Require { values, status });
    NGX_CONF_OK
}

pub extern "C" fn cmd_add_require_claim(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    let args = unsafe { conf_args(cf) };
    let owned: Vec<String> = args[1..].iter().map(arg_str).collect();
    let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
    match parse_rule(&refs) {
        Ok(rule) => {
            push_rule(lc, Rule::Claim(rule));
            NGX_CONF_OK
        }
        Err(e) => {
            ngx_conf_log_error!(NGX_LOG_EMERG, cf, "auth_jwt_rs_require_claim: {e}");
            NGX_CONF_ERROR
        }
    }
}
