//! The module itself: its `ngx_module_t`, the hooks nginx calls while it reads a configuration,
//! and the table of directives (each setter lives beside what it configures).

use std::ptr::{addr_of, addr_of_mut, null_mut};

use ngx::core::Status;
use ngx::ffi::{
    ngx_array_push, ngx_command_t, ngx_conf_t, ngx_cycle_t, ngx_http_handler_pt, ngx_http_module_t,
    ngx_http_phases_NGX_HTTP_ACCESS_PHASE, ngx_int_t, ngx_module_t, ngx_uint_t, NGX_CONF_1MORE,
    NGX_CONF_2MORE, NGX_CONF_FLAG, NGX_CONF_NOARGS, NGX_CONF_TAKE1, NGX_CONF_TAKE2,
    NGX_HTTP_LMT_CONF, NGX_HTTP_LOC_CONF, NGX_HTTP_LOC_CONF_OFFSET, NGX_HTTP_MAIN_CONF,
    NGX_HTTP_MAIN_CONF_OFFSET, NGX_HTTP_MODULE, NGX_HTTP_SRV_CONF, NGX_LOG_EMERG, NGX_OK,
};
use ngx::http::{HttpModule, HttpModuleMainConf, Merge, NgxHttpCoreModule};
use ngx::ngx_string;

use crate::conf::{gate, keys, policy, rules, LocConf, Module};
use crate::log::log_at;
use crate::{access, endpoint, jwks, keyzone, metrics, status, util, variables};

impl HttpModule for Module {
    fn module() -> &'static ngx_module_t {
        // SAFETY: the static is initialised at load time and only read afterwards.
        unsafe { &*addr_of!(ngx_http_auth_jwt_rs_module) }
    }

    unsafe extern "C" fn preconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
        // SAFETY: cf is the configuration nginx is parsing (hook or setter argument).
        match unsafe { variables::register(cf) } {
            Ok(()) => Status::NGX_OK.into(),
            Err(()) => Status::NGX_ERROR.into(),
        }
    }

    unsafe extern "C" fn postconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
        // SAFETY: cf is the configuration nginx is parsing (hook or setter argument).
        let cf = unsafe { &mut *cf };
        let Some(cmcf) = NgxHttpCoreModule::main_conf_mut(cf) else {
            return Status::NGX_ERROR.into();
        };
        // nginx runs an access phase's handlers from the last registered to the first. Put the
        // gate first in the array so that it runs after `allow`/`deny`, `auth_basic` and
        // `auth_request`: with `satisfy any`, an allowed client must not depend on the gate
        // (e.g. on a failing fallback service), as with nginx's own modules.
        let tag = Module::module() as *const ngx_module_t as *mut std::ffi::c_void;
        // SAFETY: cf is the configuration nginx is parsing (hook or setter argument).
        if unsafe { metrics::add_zone(cf, tag) }.is_err() {
            return Status::NGX_ERROR.into();
        }
        let Some(mc) = Module::main_conf_mut(cf) else {
            return Status::NGX_ERROR.into();
        };
        if !mc.registry.is_empty() {
            let size = mc.key_zone_size.unwrap_or(keyzone::DEFAULT_SIZE);
            // SAFETY: cf is the configuration nginx is parsing (hook or setter argument).
            let Some(zone) = (unsafe { keyzone::add(cf, size, tag) }) else {
                return Status::NGX_ERROR.into();
            };
            mc.key_zone = Some(zone);
            mc.registry.set_zone(keyzone::KeyZone::new(zone));
        }
        jwks::install_body_filter();
        let handlers = &mut cmcf.phases[ngx_http_phases_NGX_HTTP_ACCESS_PHASE as usize].handlers;
        // SAFETY: the access phase's handler array of the core main conf being configured.
        let h = unsafe { ngx_array_push(handlers) } as *mut ngx_http_handler_pt;
        if h.is_null() {
            return Status::NGX_ERROR.into();
        }
        // SAFETY: the array now has nelts >= 1 handler slots; the first nelts - 1 move up
        // one slot so that ours is first.
        unsafe {
            let elts = handlers.elts as *mut ngx_http_handler_pt;
            std::ptr::copy(elts, elts.add(1), handlers.nelts - 1);
            *elts = Some(access::access_handler);
        }
        Status::NGX_OK.into()
    }

    unsafe extern "C" fn merge_loc_conf(
        cf: *mut ngx_conf_t,
        prev: *mut std::ffi::c_void,
        conf: *mut std::ffi::c_void,
    ) -> *mut std::ffi::c_char {
        // SAFETY: nginx merges with the parent level's and this level's location confs, both
        // created by create_loc_conf, and the configuration being parsed.
        let (prev, conf, cf) = unsafe {
            (
                &*(prev as *const LocConf),
                &mut *(conf as *mut LocConf),
                &*cf,
            )
        };
        util::guard(cf.log, ngx::core::NGX_CONF_ERROR, || {
            match conf.merge(prev) {
                Ok(()) => {
                    // The worker's one token cache takes the largest size of the configuration.
                    if let Some(mc) = Module::main_conf_mut(cf) {
                        if let Some(n) = conf.cache_capacity() {
                            mc.want_cache_capacity(n);
                        }
                        mc.cache_used |= conf.gate.is_some() && conf.cache_enabled();
                    }
                    ngx::core::NGX_CONF_OK
                }
                Err(_) => {
                    let msg = conf.merge_error.take();
                    let msg = msg.as_deref().unwrap_or("invalid configuration");
                    log_at!(NGX_LOG_EMERG, crate::log::enabled, cf.log, "{msg}");
                    ngx::core::NGX_CONF_ERROR
                }
            }
        })
    }
}

const MSL: u32 = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF;

macro_rules! command {
    ($name:literal, $type:expr, $set:expr) => {
        command!($name, $type, $set, NGX_HTTP_LOC_CONF_OFFSET)
    };
    ($name:literal, $type:expr, $set:expr, $conf:expr) => {
        ngx_command_t {
            name: ngx_string!($name),
            type_: ($type) as ngx_uint_t,
            set: Some($set),
            conf: $conf,
            offset: 0,
            post: null_mut(),
        }
    };
}

static mut NGX_HTTP_AUTH_JWT_RS_COMMANDS: [ngx_command_t; 26] = [
    command!(
        "auth_jwt_rs",
        MSL | NGX_HTTP_LMT_CONF | NGX_CONF_TAKE1,
        gate::cmd_set_enable
    ),
    command!(
        "auth_jwt_rs_realm",
        MSL | NGX_CONF_TAKE1,
        gate::cmd_set_realm
    ),
    command!(
        "auth_jwt_rs_token",
        MSL | NGX_CONF_1MORE,
        gate::cmd_set_token
    ),
    command!(
        "auth_jwt_rs_key_file",
        MSL | NGX_CONF_1MORE,
        keys::cmd_add_key_file
    ),
    command!(
        "auth_jwt_rs_secret_file",
        MSL | NGX_CONF_1MORE,
        keys::cmd_add_secret_file
    ),
    command!(
        "auth_jwt_rs_key_request",
        MSL | NGX_CONF_1MORE,
        keys::cmd_add_key_request
    ),
    command!(
        "auth_jwt_rs_key_zone",
        NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
        keys::cmd_set_key_zone,
        NGX_HTTP_MAIN_CONF_OFFSET
    ),
    command!(
        "auth_jwt_rs_key_cache",
        MSL | NGX_CONF_TAKE1,
        keys::cmd_set_key_cache
    ),
    command!(
        "auth_jwt_rs_cache",
        MSL | NGX_CONF_TAKE1,
        gate::cmd_set_cache
    ),
    command!(
        "auth_jwt_rs_algorithms",
        MSL | NGX_CONF_1MORE,
        keys::cmd_set_algorithms
    ),
    command!(
        "auth_jwt_rs_leeway",
        MSL | NGX_CONF_TAKE1,
        policy::cmd_set_leeway
    ),
    command!(
        "auth_jwt_rs_require_exp",
        MSL | NGX_CONF_FLAG,
        policy::cmd_set_require_exp
    ),
    command!(
        "auth_jwt_rs_issuer",
        MSL | NGX_CONF_1MORE,
        policy::cmd_set_issuer
    ),
    command!(
        "auth_jwt_rs_audience",
        MSL | NGX_CONF_1MORE,
        policy::cmd_set_audience
    ),
    command!(
        "auth_jwt_rs_max_lifetime",
        MSL | NGX_CONF_TAKE1,
        policy::cmd_set_max_lifetime
    ),
    command!(
        "auth_jwt_rs_type",
        MSL | NGX_CONF_1MORE,
        policy::cmd_set_type
    ),
    command!(
        "auth_jwt_rs_require",
        MSL | NGX_CONF_1MORE,
        rules::cmd_add_require
    ),
    command!(
        "auth_jwt_rs_require_claim",
        MSL | NGX_CONF_2MORE,
        rules::cmd_add_require_claim
    ),
    command!(
        "auth_jwt_rs_login_url",
        MSL | NGX_CONF_TAKE1,
        gate::cmd_set_login_url
    ),
    command!(
        "auth_jwt_rs_fallback",
        MSL | NGX_CONF_TAKE1,
        gate::cmd_set_fallback
    ),
    command!(
        "auth_jwt_rs_fallback_set",
        MSL | NGX_CONF_TAKE2,
        variables::cmd_fallback_set
    ),
    command!(
        "auth_jwt_rs_verify",
        NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS,
        endpoint::cmd_set_verify
    ),
    command!(
        "auth_jwt_rs_claim_set",
        NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE2,
        variables::cmd_claim_set,
        NGX_HTTP_MAIN_CONF_OFFSET
    ),
    command!(
        "auth_jwt_rs_header_set",
        NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE2,
        variables::cmd_header_set,
        NGX_HTTP_MAIN_CONF_OFFSET
    ),
    command!(
        "auth_jwt_rs_status",
        NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS,
        status::cmd_set_status
    ),
    ngx_command_t::empty(),
];

static NGX_HTTP_AUTH_JWT_RS_MODULE_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: Some(Module::preconfiguration),
    postconfiguration: Some(Module::postconfiguration),
    create_main_conf: Some(Module::create_main_conf),
    init_main_conf: None,
    create_srv_conf: None,
    merge_srv_conf: None,
    create_loc_conf: Some(Module::create_loc_conf),
    merge_loc_conf: Some(Module::merge_loc_conf),
};

#[cfg(feature = "export-modules")]
ngx::ngx_modules!(ngx_http_auth_jwt_rs_module);

#[used]
#[allow(non_upper_case_globals)]
#[cfg_attr(not(feature = "export-modules"), no_mangle)]
pub static mut ngx_http_auth_jwt_rs_module: ngx_module_t = ngx_module_t {
    ctx: addr_of!(NGX_HTTP_AUTH_JWT_RS_MODULE_CTX) as _,
    // SAFETY: only the address of the static command table is taken, at compile time.
    commands: unsafe { addr_of_mut!(NGX_HTTP_AUTH_JWT_RS_COMMANDS[0]) },
    type_: NGX_HTTP_MODULE as _,
    init_process: Some(init_process),
    ..ngx_module_t::default()
};

/// Worker start: makes the worker's verified-token cache now, if a location uses it, so that
/// seeding its random key (aws-lc's entropy source, about 40 ms of CPU on first use) does not
/// delay a request.
extern "C" fn init_process(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    // SAFETY: nginx calls init_process with this worker's live cycle.
    let Some(cycle) = (unsafe { cycle.as_ref() }) else {
        return NGX_OK as ngx_int_t;
    };
    util::guard(cycle.log, NGX_OK as ngx_int_t, || {
        if let Some(mc) = Module::main_conf(cycle).filter(|mc| mc.cache_used) {
            crate::cache::with(mc.cache_capacity, |_| ());
        }
        NGX_OK as ngx_int_t
    })
}
