//! Authorization rule directives: `auth_jwt_rs_require`, `auth_jwt_rs_require_claim`.

use auth_jwt_core::rules::parse_rule;
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::NGX_LOG_EMERG;
use ngx::ngx_conf_log_error;

use super::args::*;
use super::*;
use crate::util::bytes;

/// Rules are collected per level: a level that sets any rule replaces the enclosing level's.
fn push_rule(lc: &mut LocConf, rule: Rule) {
    push_entry(&mut lc.rules, rule);
}

setter! {
    cmd_add_require, |cf, lc: &mut LocConf, args| {
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
            // SAFETY: cf is the configuration nginx is parsing (hook or setter argument).
            match unsafe { compile_complex(cf, v) } {
                Some(cv) => values.push(cv),
                None => return NGX_CONF_ERROR,
            }
        }
        push_rule(lc, Rule::Require { values, status });
        NGX_CONF_OK
    }
}

setter! {
    cmd_add_require_claim, |cf, lc: &mut LocConf, args| {
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
}
