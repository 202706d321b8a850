//! Key directives: `auth_jwt_rs_key_file`, `_secret_file`, `_key_request`, `_key_zone`,
//! `_key_cache`, `_algorithms`.

use std::ffi::c_char;

use auth_jwt_core::alg::parse_alg_name;
use auth_jwt_core::keys as core_keys;
use auth_jwt_core::providers::parse_binding;
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{ngx_conf_t, NGX_LOG_EMERG, NGX_LOG_WARN};
use ngx::ngx_conf_log_error;

use super::args::*;
use super::*;
use crate::util::bytes;

setter! {
    cmd_add_key_file, |cf, lc: &mut LocConf, args| {
        add_key(cf, lc, args, "auth_jwt_rs_key_file", |b| {
            core_keys::parse_key_file(b).map(|l| (l.keys, l.warnings))
        })
    }
}

setter! {
    cmd_add_secret_file, |cf, lc: &mut LocConf, args| {
        add_key(cf, lc, args, "auth_jwt_rs_secret_file", |b| {
            core_keys::secret_key(b).map(|k| (vec![k], Vec::new()))
        })
    }
}

type KeyParser = fn(&[u8]) -> Result<(Vec<Key>, Vec<String>), core_keys::KeyError>;

/// The `issuer=` / `audience=` parameters after a key directive's first argument; logs the
/// error and returns `None` when they are wrong.
fn key_binding(cf: *mut ngx_conf_t, args: &[ngx_str_t], directive: &str) -> Option<Binding> {
    let params: Vec<String> = args
        .get(2..)
        .unwrap_or_default()
        .iter()
        .map(arg_str)
        .collect();
    let refs: Vec<&str> = params.iter().map(String::as_str).collect();
    match parse_binding(&refs) {
        Ok(b) => Some(b),
        Err(e) => {
            ngx_conf_log_error!(NGX_LOG_EMERG, cf, "\"{directive}\": {e}");
            None
        }
    }
}

/// The group of this level's key sources that `binding` names; logs the error and returns
/// `None` when the binding conflicts with an earlier key directive of the level.
fn group_for<'a>(
    cf: *mut ngx_conf_t,
    lc: &'a mut LocConf,
    directive: &str,
    binding: &Binding,
) -> Option<&'a mut PendingGroup> {
    match lc.pending_group(binding) {
        Ok(g) => Some(g),
        Err(e) => {
            ngx_conf_log_error!(NGX_LOG_EMERG, cf, "\"{directive}\": {e}");
            None
        }
    }
}

fn add_key(
    cf: *mut ngx_conf_t,
    lc: &mut LocConf,
    args: &[ngx_str_t],
    directive: &str,
    parse: KeyParser,
) -> *mut c_char {
    let Some(binding) = key_binding(cf, args, directive) else {
        return NGX_CONF_ERROR;
    };
    let Some(group) = group_for(cf, lc, directive, &binding) else {
        return NGX_CONF_ERROR;
    };
    // SAFETY: cf is the configuration nginx is parsing (hook or setter argument).
    let (path, data) = match unsafe { read_conf_file(cf, &args[1]) } {
        Ok(v) => v,
        Err(e) => {
            ngx_conf_log_error!(NGX_LOG_EMERG, cf, "auth_jwt_rs: {e}");
            return NGX_CONF_ERROR;
        }
    };
    match parse(&data) {
        Ok((keys, warnings)) => {
            for w in warnings {
                ngx_conf_log_error!(NGX_LOG_WARN, cf, "auth_jwt_rs: key file \"{path}\": {w}");
            }
            group.keys.extend(keys);
            NGX_CONF_OK
        }
        Err(e) => {
            ngx_conf_log_error!(NGX_LOG_EMERG, cf, "auth_jwt_rs: key file \"{path}\": {e}");
            NGX_CONF_ERROR
        }
    }
}

setter! {
    cmd_add_key_request, |cf, lc: &mut LocConf, args| {
        if bytes(&args[1]).first() != Some(&b'/') {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "invalid URI \"{}\" in \"auth_jwt_rs_key_request\", it must start with \"/\"",
                arg_str(&args[1])
            );
            return NGX_CONF_ERROR;
        }
        let Some(binding) = key_binding(cf, args, "auth_jwt_rs_key_request") else {
            return NGX_CONF_ERROR;
        };
        // SAFETY: cf is the configuration nginx is parsing (hook or setter argument).
        let Some(mc) = Module::main_conf_mut(unsafe { &*cf }) else {
            return NGX_CONF_ERROR;
        };
        let remote = mc.registry.remote(args[1]);
        let Some(group) = group_for(cf, lc, "auth_jwt_rs_key_request", &binding) else {
            return NGX_CONF_ERROR;
        };
        group.remotes.push(remote);
        NGX_CONF_OK
    }
}

setter! {
    cmd_set_key_zone, |cf, mc: &mut MainConf, args| {
        if mc.key_zone_size.is_some() {
            return IS_DUPLICATE;
        }
        let mut v = args[1];
        // SAFETY: ngx_parse_size only reads the string.
        let size = unsafe { ngx::ffi::ngx_parse_size(&mut v) };
        if size < crate::keyzone::MIN_SIZE as isize {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "invalid value \"{}\" in \"auth_jwt_rs_key_zone\", it must be a size of at \
                 least 32k",
                arg_str(&args[1])
            );
            return NGX_CONF_ERROR;
        }
        mc.key_zone_size = Some(size as usize);
        NGX_CONF_OK
    }
}

setter! {
    cmd_set_key_cache, |cf, lc: &mut LocConf, args| {
        if lc.key_cache.is_some() {
            return IS_DUPLICATE;
        }
        match parse_secs(cf, &args[1], "auth_jwt_rs_key_cache", 1) {
            Some(secs) => lc.key_cache = Some(secs),
            None => return NGX_CONF_ERROR,
        }
        NGX_CONF_OK
    }
}

setter! {
    cmd_set_algorithms, |cf, lc: &mut LocConf, args| {
        if lc.algorithms.is_some() {
            return IS_DUPLICATE;
        }
        let mut set = AlgSet::EMPTY;
        for a in &args[1..] {
            match parse_alg_name(&arg_str(a)) {
                Ok(alg) => set.insert(alg),
                Err(e) => {
                    ngx_conf_log_error!(NGX_LOG_EMERG, cf, "auth_jwt_rs_algorithms: {e}");
                    return NGX_CONF_ERROR;
                }
            }
        }
        lc.algorithms = Some(set);
        NGX_CONF_OK
    }
}
