//! Claim policy directives: `auth_jwt_rs_leeway`, `_require_exp`, `_issuer`, `_audience`,
//! `_max_lifetime`, `_type`.

use auth_jwt_core::claims::type_key;
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::NGX_LOG_EMERG;
use ngx::ngx_conf_log_error;

use super::args::*;
use super::*;
use crate::util::bytes;

setter! {
    cmd_set_leeway, |cf, lc: &mut LocConf, args| {
        if lc.leeway.is_some() {
            return IS_DUPLICATE;
        }
        match parse_secs(cf, &args[1], "auth_jwt_rs_leeway", 0) {
            Some(secs) => lc.leeway = Some(secs),
            None => return NGX_CONF_ERROR,
        }
        NGX_CONF_OK
    }
}

setter! {
    cmd_set_require_exp, |cf, lc: &mut LocConf, args| {
        if lc.require_exp.is_some() {
            return IS_DUPLICATE;
        }
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
}

setter! {
    cmd_set_issuer, |cf, lc: &mut LocConf, args| {
        if lc.issuers.is_some() {
            return IS_DUPLICATE;
        }
        lc.issuers = Some(args[1..].iter().map(arg_str).collect());
        NGX_CONF_OK
    }
}

setter! {
    cmd_set_audience, |cf, lc: &mut LocConf, args| {
        if lc.audiences.is_some() {
            return IS_DUPLICATE;
        }
        lc.audiences = Some(args[1..].iter().map(arg_str).collect());
        NGX_CONF_OK
    }
}

setter! {
    cmd_set_max_lifetime, |cf, lc: &mut LocConf, args| {
        if lc.max_lifetime.is_some() {
            return IS_DUPLICATE;
        }
        if bytes(&args[1]) == b"off" {
            lc.max_lifetime = Some(None);
            return NGX_CONF_OK;
        }
        match parse_secs(cf, &args[1], "auth_jwt_rs_max_lifetime", 1) {
            Some(secs) => lc.max_lifetime = Some(Some(secs)),
            None => return NGX_CONF_ERROR,
        }
        NGX_CONF_OK
    }
}

setter! {
    cmd_set_type, |cf, lc: &mut LocConf, args| {
        if lc.types.is_some() {
            return IS_DUPLICATE;
        }
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
}
