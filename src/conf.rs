//! Configuration: the location-level settings of the gate, their directives and how they merge.
//!
//! Directives record what was written (`Option` = not set at this level); `merge` resolves
//! inheritance as nginx users expect and then builds [`Gate`], the immutable per-location view
//! the request path reads. Everything expensive (reading and parsing keys, compiling regexes)
//! happens here, at configuration time.

use std::ffi::{c_char, c_void};
use std::rc::Rc;
use std::sync::Arc;

use auth_jwt_core::alg::{parse_alg_name, AlgSet};
use auth_jwt_core::claims::{type_key, Policy};
use auth_jwt_core::keys::{self, Key, KeySet};
use auth_jwt_core::providers::{parse_binding, Binding, Providers};
use auth_jwt_core::rules::{parse_rule, ClaimRule};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{
    ngx_command_t, ngx_conf_full_name, ngx_conf_t, ngx_http_compile_complex_value,
    ngx_http_compile_complex_value_t, ngx_http_complex_value_t, ngx_parse_time, ngx_str_t,
    NGX_ERROR, NGX_LOG_EMERG, NGX_LOG_WARN,
};
use ngx::http::{
    HttpModuleLocationConf, HttpModuleMainConf, Merge, MergeConfigError, NgxHttpCoreModule,
};
use ngx::ngx_conf_log_error;

use crate::jwks::{self, KeySource, Remote};
use crate::util::{bytes, conf_args, conf_mut};
use crate::Module;

/// Where a directive was written, for errors reported after parsing (at merge time).
#[derive(Clone, Debug)]
pub struct ConfPos {
    pub file: String,
    pub line: usize,
}

impl ConfPos {
    /// # Safety
    /// `cf` must be the configuration being parsed.
    unsafe fn of(cf: *mut ngx_conf_t) -> Self {
        unsafe {
            let cf = &*cf;
            if cf.conf_file.is_null() {
                return ConfPos {
                    file: String::new(),
                    line: 0,
                };
            }
            let f = &*cf.conf_file;
            ConfPos {
                file: String::from_utf8_lossy(bytes(&f.file.name)).into_owned(),
                line: f.line,
            }
        }
    }
}

/// A compiled nginx complex value (a string that may contain variables).
#[derive(Clone, Copy)]
pub struct ComplexValue(pub *mut ngx_http_complex_value_t);

/// `auth_jwt_rs on | off | $variable`.
#[derive(Clone, Copy)]
pub enum Enable {
    Off,
    On,
    Var(ComplexValue),
}

/// One place a token may come from (`auth_jwt_rs_token`).
#[derive(Clone)]
pub enum Source {
    Bearer,
    Cookie(ngx_str_t),
    Header(ngx_str_t),
    Arg(ngx_str_t),
    Var(ComplexValue),
}

/// An authorization rule (SPEC §4).
pub enum Rule {
    /// `auth_jwt_rs_require $var ...`: every value non-empty and not "0".
    Require {
        values: Vec<ComplexValue>,
        status: u16,
    },
    /// `auth_jwt_rs_require_claim PATH OP ...`.
    Claim(ClaimRule),
}

/// `auth_jwt_rs_fallback_set $var VALUE`.
pub struct FallbackVar {
    pub index: usize,
    pub value: ComplexValue,
}

/// The key sources of a location, one [`KeySource`] per issuer group (README "Several
/// identity providers"): the unbound sources, and those of each `issuer=`.
pub type KeySources = Providers<Rc<KeySource>>;

/// One issuer group's key directives at one level, before merge.
#[derive(Clone, Default)]
struct PendingGroup {
    keys: Vec<Key>,
    remotes: Vec<Rc<Remote>>,
}

/// What the request path needs, resolved once per location at merge time.
pub struct Gate {
    pub keys: Rc<KeySources>,
    /// `auth_jwt_rs_algorithms`; `None`: every algorithm that fits the keys.
    pub algorithms: Option<AlgSet>,
    pub policy: Policy,
}

impl Gate {
    /// Algorithms accepted with `keys` (SPEC §2: the allow-list, within what the keys fit).
    pub fn algs_for(&self, keys: &KeySet) -> AlgSet {
        match self.algorithms {
            Some(a) => a.intersection(keys.algs()),
            None => keys.algs(),
        }
    }
}

/// Default of `auth_jwt_rs_key_cache` (SPEC §2), seconds.
const DEFAULT_KEY_CACHE: u64 = 600;

#[derive(Default)]
pub struct LocConf {
    pub enable: Option<Enable>,
    enable_pos: Option<ConfPos>,
    pub realm: Option<ngx_str_t>,
    pub sources: Option<Rc<Vec<Source>>>,
    /// This level's key files, secrets and key requests by issuer group (`None`: inherit).
    pending: Option<Providers<PendingGroup>>,
    key_cache: Option<u64>,
    key_sources: Option<Rc<KeySources>>,
    algorithms: Option<AlgSet>,
    leeway: Option<u64>,
    require_exp: Option<bool>,
    issuers: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
    /// `auth_jwt_rs_max_lifetime`: `Some(None)` is `off`.
    max_lifetime: Option<Option<u64>>,
    /// `auth_jwt_rs_type`, as `type_key` gives each value; empty is `off`.
    types: Option<Vec<String>>,
    pub rules: Option<Rc<Vec<Rule>>>,
    pub login_url: Option<ComplexValue>,
    /// `auth_jwt_rs_fallback`: `Some(None)` is an explicit `off`.
    pub fallback: Option<Option<ngx_str_t>>,
    pub fallback_vars: Option<Rc<Vec<FallbackVar>>>,
    /// `auth_jwt_rs_cache`: `Some(None)` is `off`.
    cache: Option<Option<usize>>,
    /// `auth_jwt_rs_verify` in this location (not inherited).
    pub verify: bool,
    verify_pos: Option<ConfPos>,
    /// Built by `merge`; `None` where the gate can never run (no keys anywhere).
    pub gate: Option<Rc<Gate>>,
    /// Set when merging failed; reported by `merge_loc_conf`.
    pub merge_error: Option<String>,
}

/// Default token source (SPEC §1).
pub const DEFAULT_SOURCES: &[Source] = &[Source::Bearer];

impl Merge for LocConf {
    fn merge(&mut self, prev: &LocConf) -> Result<(), MergeConfigError> {
        if self.enable.is_none() {
            self.enable = prev.enable;
            self.enable_pos = prev.enable_pos.clone();
        }
        if self.realm.is_none() {
            self.realm = prev.realm;
        }
        if self.sources.is_none() {
            self.sources = prev.sources.clone();
        }
        if self.key_cache.is_none() {
            self.key_cache = prev.key_cache;
        }
        let ttl = self.key_cache.unwrap_or(DEFAULT_KEY_CACHE);
        // Key sources set at this level replace the enclosing level's (SPEC §9). The http
        // level is never merged itself, so its sources may still be pending.
        let inherited = prev
            .key_sources
            .clone()
            .or_else(|| prev.own_key_sources(ttl));
        self.key_sources = match self.own_key_sources(ttl) {
            Some(own) => Some(own),
            None => inherited.map(|p| {
                if p.iter().all(|(_, s)| s.ttl == ttl) {
                    p
                } else {
                    Rc::new(p.map(|s| {
                        Rc::new(KeySource::new(
                            s.static_keys.clone(),
                            s.remotes.clone(),
                            ttl,
                        ))
                    }))
                }
            }),
        };
        if self.algorithms.is_none() {
            self.algorithms = prev.algorithms;
        }
        if self.leeway.is_none() {
            self.leeway = prev.leeway;
        }
        if self.require_exp.is_none() {
            self.require_exp = prev.require_exp;
        }
        if self.issuers.is_none() {
            self.issuers = prev.issuers.clone();
        }
        if self.audiences.is_none() {
            self.audiences = prev.audiences.clone();
        }
        if self.max_lifetime.is_none() {
            self.max_lifetime = prev.max_lifetime;
        }
        if self.types.is_none() {
            self.types = prev.types.clone();
        }
        if self.rules.is_none() {
            self.rules = prev.rules.clone();
        }
        if self.login_url.is_none() {
            self.login_url = prev.login_url;
        }
        if self.fallback.is_none() {
            self.fallback = prev.fallback;
        }
        if self.fallback_vars.is_none() {
            self.fallback_vars = prev.fallback_vars.clone();
        }
        if self.cache.is_none() {
            self.cache = prev.cache;
        }
        if let Some(Some(n)) = self.cache {
            crate::cache::want_capacity(n);
        }

        let gate_on = matches!(self.enable, Some(Enable::On) | Some(Enable::Var(_)));
        let enabled = gate_on || self.verify;
        let keys = match &self.key_sources {
            Some(k) if k.iter().any(|(_, s)| s.is_configured()) => k.clone(),
            _ => {
                if enabled {
                    self.merge_error = Some(self.at_enable(
                        "no key source is configured (auth_jwt_rs_key_file, \
                         auth_jwt_rs_secret_file or auth_jwt_rs_key_request)",
                    ));
                    return Err(MergeConfigError::NoValue);
                }
                self.gate = None;
                return Ok(());
            }
        };
        // With key requests, the keys are only known at run time.
        let static_algs = keys
            .iter()
            .fold(AlgSet::EMPTY, |a, (_, s)| a.union(s.static_keys.algs()));
        let algs = match self.algorithms {
            Some(a) => a.intersection(static_algs),
            None => static_algs,
        };
        let remotes = keys.iter().any(|(_, s)| !s.remotes.is_empty());
        if algs.is_empty() && enabled && !remotes {
            self.merge_error = Some(self.at_enable(
                "none of the algorithms in \"auth_jwt_rs_algorithms\" can be verified by the \
                 configured keys",
            ));
            return Err(MergeConfigError::NoValue);
        }
        let policy = Policy {
            leeway: self.leeway.unwrap_or(0),
            require_exp: self.require_exp.unwrap_or(true),
            issuers: self.issuers.clone().unwrap_or_default(),
            audiences: self.audiences.clone().unwrap_or_default(),
            max_lifetime: self.max_lifetime.flatten(),
            types: self.types.clone().unwrap_or_default(),
        };
        self.gate = Some(Rc::new(Gate {
            keys,
            algorithms: self.algorithms,
            policy,
        }));
        Ok(())
    }
}

impl LocConf {
    /// Whether the verified-token cache is used here (`auth_jwt_rs_cache`, default on).
    pub fn cache_enabled(&self) -> bool {
        !matches!(self.cache, Some(None))
    }

    /// The key sources made of this level's own key directives, if it has any.
    fn own_key_sources(&self, ttl: u64) -> Option<Rc<KeySources>> {
        let pending = self.pending.as_ref()?;
        Some(Rc::new(pending.map(|g| {
            let statics = KeySet::new(g.keys.clone());
            Rc::new(KeySource::new(Arc::new(statics), g.remotes.clone(), ttl))
        })))
    }

    /// The issuer group of this level that a key directive with `binding` adds to.
    fn pending_group(&mut self, binding: &Binding) -> Result<&mut PendingGroup, String> {
        self.pending
            .get_or_insert_with(Providers::default)
            .group_mut(binding, PendingGroup::default)
    }

    /// `msg` for the directive that enabled the gate here, with its file and line.
    fn at_enable(&self, msg: &str) -> String {
        let (name, pos) = match (&self.verify_pos, &self.enable_pos) {
            (Some(p), _) if self.verify => ("auth_jwt_rs_verify", Some(p)),
            (_, p) => ("auth_jwt_rs", p.as_ref()),
        };
        match pos {
            Some(p) => format!("\"{name}\": {msg} in {}:{}", p.file, p.line),
            None => format!("\"{name}\": {msg}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Directive setters. Each returns NGX_CONF_OK, NGX_CONF_ERROR after logging, or a static string
// that nginx turns into `"<directive>" directive <string>`.

const IS_DUPLICATE: *mut c_char = c"is duplicate".as_ptr() as *mut c_char;

fn arg_str(a: &ngx_str_t) -> String {
    String::from_utf8_lossy(bytes(a)).into_owned()
}

/// Compiles `value` as an nginx complex value in the cycle pool.
///
/// # Safety
/// `cf` must be the configuration being parsed; `value` lives in the cycle pool.
pub unsafe fn compile_complex(cf: *mut ngx_conf_t, value: &ngx_str_t) -> Option<ComplexValue> {
    unsafe {
        let pool = (*cf).pool;
        let cv = ngx::ffi::ngx_pcalloc(pool, std::mem::size_of::<ngx_http_complex_value_t>())
            as *mut ngx_http_complex_value_t;
        if cv.is_null() {
            return None;
        }
        let mut value = *value;
        let mut ccv: ngx_http_compile_complex_value_t = std::mem::zeroed();
        ccv.cf = cf;
        ccv.value = &mut value;
        ccv.complex_value = cv;
        if ngx_http_compile_complex_value(&mut ccv) != 0 {
            return None;
        }
        Some(ComplexValue(cv))
    }
}

/// Reads a file named in the configuration, relative to the configuration prefix.
///
/// # Safety
/// `cf` must be the configuration being parsed.
unsafe fn read_conf_file(
    cf: *mut ngx_conf_t,
    name: &ngx_str_t,
) -> Result<(String, Vec<u8>), String> {
    let mut full = *name;
    // SAFETY: ngx_conf_full_name allocates the absolute name in the cycle pool.
    if unsafe { ngx_conf_full_name((*cf).cycle, &mut full, 1) } == NGX_ERROR as isize {
        return Err("cannot resolve file name".into());
    }
    let path = String::from_utf8_lossy(bytes(&full)).into_owned();
    match std::fs::read(&path) {
        Ok(b) => Ok((path, b)),
        Err(e) => Err(format!("cannot read \"{path}\": {e}")),
    }
}

pub extern "C" fn cmd_set_enable(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    if lc.enable.is_some() {
        return IS_DUPLICATE;
    }
    let args = unsafe { conf_args(cf) };
    let v = &args[1];
    let e = match bytes(v) {
        b"on" => Enable::On,
        b"off" => Enable::Off,
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
    lc.enable_pos = Some(unsafe { ConfPos::of(cf) });
    NGX_CONF_OK
}

pub extern "C" fn cmd_set_realm(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    if lc.realm.is_some() {
        return IS_DUPLICATE;
    }
    let args = unsafe { conf_args(cf) };
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

pub extern "C" fn cmd_set_token(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    if lc.sources.is_some() {
        return IS_DUPLICATE;
    }
    let args = unsafe { conf_args(cf) };
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

pub extern "C" fn cmd_add_key_file(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    add_key(cf, conf, "auth_jwt_rs_key_file", |b| {
        keys::parse_key_file(b).map(|l| (l.keys, l.warnings))
    })
}

pub extern "C" fn cmd_add_secret_file(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    add_key(cf, conf, "auth_jwt_rs_secret_file", |b| {
        keys::secret_key(b).map(|k| (vec![k], Vec::new()))
    })
}

type KeyParser = fn(&[u8]) -> Result<(Vec<Key>, Vec<String>), keys::KeyError>;

/// The `issuer=` / `audience=` parameters after a key directive's first argument; logs the
/// error and returns `None` when they are wrong.
fn key_binding(cf: *mut ngx_conf_t, directive: &str) -> Option<Binding> {
    let args = unsafe { conf_args(cf) };
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
    conf: *mut c_void,
    directive: &str,
    parse: KeyParser,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    let args = unsafe { conf_args(cf) };
    let Some(binding) = key_binding(cf, directive) else {
        return NGX_CONF_ERROR;
    };
    let Some(group) = group_for(cf, lc, directive, &binding) else {
        return NGX_CONF_ERROR;
    };
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

pub extern "C" fn cmd_set_algorithms(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    if lc.algorithms.is_some() {
        return IS_DUPLICATE;
    }
    let args = unsafe { conf_args(cf) };
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

/// The directive's time argument in seconds (nginx time syntax: `30s`, `10m`, ...), at least
/// `min`; logs the error and returns `None` otherwise.
fn parse_secs(cf: *mut ngx_conf_t, directive: &str, min: u64) -> Option<u64> {
    let args = unsafe { conf_args(cf) };
    let mut v = args[1];
    // SAFETY: ngx_parse_time only reads the string.
    let secs = unsafe { ngx_parse_time(&mut v, 1) };
    if secs < 0 || (secs as u64) < min {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "invalid value \"{}\" in \"{directive}\"",
            arg_str(&args[1])
        );
        return None;
    }
    Some(secs as u64)
}

/// Appends to a list directive's entries at this level (the level's own list replaces the
/// enclosing level's at merge time).
fn push_entry<T>(list: &mut Option<Rc<Vec<T>>>, item: T) {
    match list.as_mut().and_then(Rc::get_mut) {
        Some(v) => v.push(item),
        None => *list = Some(Rc::new(vec![item])),
    }
}

/// Splits a trailing `error=CODE` off directive arguments.
fn split_error_code(args: &[ngx_str_t]) -> Result<(&[ngx_str_t], u16), String> {
    if let Some((last, rest)) = args.split_last() {
        if let Some(code) = bytes(last).strip_prefix(b"error=") {
            return match code {
                b"401" => Ok((rest, 401)),
                b"403" => Ok((rest, 403)),
                _ => Err(format!(
                    "invalid \"{}\", the code must be 401 or 403",
                    arg_str(last)
                )),
            };
        }
    }
    Ok((args, 403))
}

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

pub extern "C" fn cmd_set_login_url(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    if lc.login_url.is_some() {
        return IS_DUPLICATE;
    }
    let args = unsafe { conf_args(cf) };
    if args[1].len == 0 {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "\"auth_jwt_rs_login_url\" must not be empty"
        );
        return NGX_CONF_ERROR;
    }
    match unsafe { compile_complex(cf, &args[1]) } {
        Some(cv) => {
            lc.login_url = Some(cv);
            NGX_CONF_OK
        }
        None => NGX_CONF_ERROR,
    }
}

pub extern "C" fn cmd_set_fallback(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    if lc.fallback.is_some() {
        return IS_DUPLICATE;
    }
    let args = unsafe { conf_args(cf) };
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

pub extern "C" fn cmd_set_verify(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    if lc.verify {
        return IS_DUPLICATE;
    }
    let Some(clcf) = NgxHttpCoreModule::location_conf_mut(unsafe { &*cf }) else {
        return NGX_CONF_ERROR;
    };
    clcf.handler = Some(crate::endpoint::verify_handler);
    lc.verify = true;
    lc.verify_pos = Some(unsafe { ConfPos::of(cf) });
    NGX_CONF_OK
}

/// Adds an `auth_jwt_rs_fallback_set` entry to this level.
pub fn push_fallback_var(lc: &mut LocConf, var: FallbackVar) {
    push_entry(&mut lc.fallback_vars, var);
}

pub extern "C" fn cmd_add_key_request(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    let args = unsafe { conf_args(cf) };
    if bytes(&args[1]).first() != Some(&b'/') {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "invalid URI \"{}\" in \"auth_jwt_rs_key_request\", it must start with \"/\"",
            arg_str(&args[1])
        );
        return NGX_CONF_ERROR;
    }
    let Some(binding) = key_binding(cf, "auth_jwt_rs_key_request") else {
        return NGX_CONF_ERROR;
    };
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

/// The http-level settings and the per-configuration state of the module.
#[derive(Default)]
pub struct MainConf {
    /// `auth_jwt_rs_key_zone`, bytes.
    pub key_zone_size: Option<usize>,
    /// Every `auth_jwt_rs_key_request` URI of this configuration.
    pub registry: jwks::Registry,
    /// The zone holding their key sets (added in postconfiguration when there are any).
    pub key_zone: Option<*mut ngx::ffi::ngx_shm_zone_t>,
}

pub extern "C" fn cmd_set_key_zone(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let mc = unsafe { conf_mut::<MainConf>(conf) };
    if mc.key_zone_size.is_some() {
        return IS_DUPLICATE;
    }
    let args = unsafe { conf_args(cf) };
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

pub extern "C" fn cmd_set_key_cache(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    if lc.key_cache.is_some() {
        return IS_DUPLICATE;
    }
    match parse_secs(cf, "auth_jwt_rs_key_cache", 1) {
        Some(secs) => lc.key_cache = Some(secs),
        None => return NGX_CONF_ERROR,
    }
    NGX_CONF_OK
}

pub extern "C" fn cmd_set_cache(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lc = unsafe { conf_mut::<LocConf>(conf) };
    if lc.cache.is_some() {
        return IS_DUPLICATE;
    }
    let args = unsafe { conf_args(cf) };
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

pub extern "C" fn cmd_set_status(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    _conf: *mut c_void,
) -> *mut c_char {
    let Some(clcf) = NgxHttpCoreModule::location_conf_mut(unsafe { &*cf }) else {
        return NGX_CONF_ERROR;
    };
    clcf.handler = Some(crate::metrics::status_handler);
    NGX_CONF_OK
}
