//! Directives of the gate itself: `auth_jwt_rs`, `_realm`, `_token`, `_login_url`, `_fallback`,
//! `_cache`.

use std::ffi::c_char;

use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{ngx_conf_t, NGX_LOG_EMERG};
use ngx::ngx_conf_log_error;

use super::args::*;
use super::*;
use crate::util::bytes;

setter! {
    cmd_set_enable, |cf, lc: &mut LocConf, args| {
        if lc.enable.is_some() {
            return IS_DUPLICATE;
        }
        let v = &args[1];
        let e = match bytes(v) {
            b"on" => Enable::On,
            b"off" => Enable::Off,
            // SAFETY: cf is the configuration nginx is parsing (hook or setter argument).
            b if b.first() == Some(&b'$') => match unsafe { compile_complex(cf, v) } {
                Some(cv) => Enable::Var(cv),
                None => return NGX_CONF_ERROR,
            },
            _ => {
                ngx_conf_log_error!(
                    NGX_LOG_EMERG,
                    cf,
                    "invalid value \"{}\" in \"auth_jwt_rs\", it must be \"on\", \"off\" or a variable",
                    arg_str(v)
                );
                return NGX_CONF_ERROR;
            }
        };
        lc.enable = Some(e);
        // SAFETY: cf is the configuration nginx is parsing (hook or setter argument).
        lc.enable_pos = Some(unsafe { ConfPos::of(cf) });
        NGX_CONF_OK
    }
}

setter! {
    cmd_set_realm, |cf, lc: &mut LocConf, args| {
        if lc.realm.is_some() {
            return IS_DUPLICATE;
        }
        let realm = bytes(&args[1]);
        // The realm is written inside a quoted-string of WWW-Authenticate.
        if realm
            .iter()
            .any(|&c| c == b'"' || c == b'\\' || c < 0x20 || c == 0x7f)
        {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "\"auth_jwt_rs_realm\" must not contain double quotes, backslashes or control characters"
            );
            return NGX_CONF_ERROR;
        }
        lc.realm = Some(args[1]);
        NGX_CONF_OK
    }
}

setter! {
    cmd_set_token, |cf, lc: &mut LocConf, args| {
        if lc.sources.is_some() {
            return IS_DUPLICATE;
        }
        let mut sources = Vec::with_capacity(args.len() - 1);
        for a in &args[1..] {
            let b = bytes(a);
            let named = |prefix: &[u8]| -> Option<ngx_str_t> {
                let rest = b.strip_prefix(prefix)?;
                if rest.is_empty()
                    || !rest
                        .iter()
                        .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
                {
                    return None;
                }
                Some(ngx_str_t {
                    len: rest.len(),
                    // SAFETY: the name is a suffix of the same configuration string.
                    data: unsafe { a.data.add(prefix.len()) },
                })
            };
            let src = if b == b"bearer" {
                Source::Bearer
            } else if b.starts_with(b"cookie=") {
                match named(b"cookie=") {
                    Some(n) => Source::Cookie(n),
                    None => return bad_source(cf, a),
                }
            } else if b.starts_with(b"header=") {
                match named(b"header=") {
                    Some(n) => Source::Header(n),
                    None => return bad_source(cf, a),
                }
            } else if b.starts_with(b"arg=") {
                match named(b"arg=") {
                    Some(n) => Source::Arg(n),
                    None => return bad_source(cf, a),
                }
            } else if b.len() > 1 && b[0] == b'$' {
                // SAFETY: cf is the configuration nginx is parsing (hook or setter argument).
                match unsafe { compile_complex(cf, a) } {
                    Some(cv) => Source::Var(cv),
                    None => return NGX_CONF_ERROR,
                }
            } else {
                return bad_source(cf, a);
            };
            sources.push(src);
        }
        lc.sources = Some(Rc::new(sources));
        NGX_CONF_OK
    }
}

fn bad_source(cf: *mut ngx_conf_t, a: &ngx_str_t) -> *mut c_char {
    ngx_conf_log_error!(
        NGX_LOG_EMERG,
        cf,
        "invalid token source \"{}\" in \"auth_jwt_rs_token\", expected bearer, cookie=NAME, \
         header=NAME, arg=NAME or a $variable",
        arg_str(a)
    );
    NGX_CONF_ERROR
}

setter! {
    cmd_set_login_url, |cf, lc: &mut LocConf, args| {
        if lc.login_url.is_some() {
            return IS_DUPLICATE;
        }
        if args[1].len == 0 {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "\"auth_jwt_rs_login_url\" must not be empty"
            );
            return NGX_CONF_ERROR;
        }
        // SAFETY: cf is the configuration nginx is parsing (hook or setter argument).
        match unsafe { compile_complex(cf, &args[1]) } {
            Some(cv) => {
                lc.login_url = Some(cv);
                NGX_CONF_OK
            }
            None => NGX_CONF_ERROR,
        }
    }
}

setter! {
    cmd_set_fallback, |cf, lc: &mut LocConf, args| {
        if lc.fallback.is_some() {
            return IS_DUPLICATE;
        }
        lc.fallback = Some(match bytes(&args[1]) {
            b"off" => None,
            b if b.first() == Some(&b'/') || b.first() == Some(&b'@') => Some(args[1]),
            _ => {
                ngx_conf_log_error!(
                    NGX_LOG_EMERG,
                    cf,
                    "invalid URI \"{}\" in \"auth_jwt_rs_fallback\"",
                    arg_str(&args[1])
                );
                return NGX_CONF_ERROR;
            }
        });
        NGX_CONF_OK
    }
}

setter! {
    cmd_set_cache, |cf, lc: &mut LocConf, args| {
        if lc.cache.is_some() {
            return IS_DUPLICATE;
        }
        let v = bytes(&args[1]);
        lc.cache = match v {
            b"off" => Some(None),
            _ => match std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            {
                Some(n) if (1..=10_000_000).contains(&n) => Some(Some(n)),
                _ => {
                    ngx_conf_log_error!(
                        NGX_LOG_EMERG,
                        cf,
                        "invalid value \"{}\" in \"auth_jwt_rs_cache\", it must be \"off\" or a \
                         number of entries (1 to 10000000)",
                        arg_str(&args[1])
                    );
                    return NGX_CONF_ERROR;
                }
            },
        };
        NGX_CONF_OK
    }
}
