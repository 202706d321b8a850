//! Configuration: the location-level settings of the gate, their directives and how they merge.
//!
//! Directives record what was written (`Option` = not set at this level); `merge` resolves
//! inheritance as nginx users expect and then builds [`Gate`], the immutable per-location view
//! the request path reads. Everything expensive (reading and parsing keys, compiling regexes)
//! happens here, at configuration time. Each group of directives has its setters in a file of
//! its own; those of directives that install a handler or define variables live beside that
//! handler (`endpoint`, `status`, `variables`).

use std::rc::Rc;
use std::sync::Arc;

use auth_jwt_core::alg::AlgSet;
use auth_jwt_core::claims::Policy;
use auth_jwt_core::keys::{Key, KeySet};
use auth_jwt_core::providers::{Binding, Providers};
use ngx::ffi::ngx_str_t;
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf, Merge, MergeConfigError};

use crate::jwks::{KeySource, Registry, Remote};

pub mod args;
pub mod gate;
pub mod keys;
pub mod policy;
pub mod rules;
mod values;

use args::push_entry;
pub use args::{compile_complex, IS_DUPLICATE};
pub use values::{ComplexValue, ConfPos, Enable, FallbackVar, Rule, Source};

/// Marker type binding the module's configuration (here) and its hooks (`crate::module`).
pub struct Module;

// SAFETY: LocConf is what create_loc_conf allocates for this module (ngx's generic hook).
unsafe impl HttpModuleLocationConf for Module {
    type LocationConf = LocConf;
}

// SAFETY: MainConf is what create_main_conf allocates for this module (ngx's generic hook).
unsafe impl HttpModuleMainConf for Module {
    type MainConf = MainConf;
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
    /// Algorithms accepted with `keys` (README "auth_jwt_rs_algorithms": the allow-list, within
    /// what the keys fit).
    pub fn algs_for(&self, keys: &KeySet) -> AlgSet {
        match self.algorithms {
            Some(a) => a.intersection(keys.algs()),
            None => keys.algs(),
        }
    }
}

/// Default of `auth_jwt_rs_key_cache`, seconds.
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
    pub verify_pos: Option<ConfPos>,
    /// Built by `merge`; `None` where the gate can never run (no keys anywhere).
    pub gate: Option<Rc<Gate>>,
    /// Set when merging failed; reported by `merge_loc_conf`.
    pub merge_error: Option<String>,
}

/// Default token source (README "auth_jwt_rs_token").
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
        // Key sources set at this level replace the enclosing level's (README "Several identity
        // providers"). The http
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
    /// The explicit `auth_jwt_rs_cache N` in force here, if any.
    pub fn cache_capacity(&self) -> Option<usize> {
        self.cache.flatten()
    }

    /// Adds an `auth_jwt_rs_fallback_set` entry to this level.
    pub fn push_fallback_var(&mut self, var: FallbackVar) {
        push_entry(&mut self.fallback_vars, var);
    }

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

/// The http-level settings and the per-configuration state of the module. A new cycle (reload)
/// gets a new one, so no worker ever sees another configuration's values.
#[derive(Default)]
pub struct MainConf {
    /// `auth_jwt_rs_key_zone`, bytes.
    pub key_zone_size: Option<usize>,
    /// Every `auth_jwt_rs_key_request` URI of this configuration.
    pub registry: Registry,
    /// The zone holding their key sets (added in postconfiguration when there are any).
    pub key_zone: Option<*mut ngx::ffi::ngx_shm_zone_t>,
    /// The largest `auth_jwt_rs_cache N` of the configuration (recorded as locations merge).
    pub cache_capacity: Option<usize>,
    /// Whether some location with keys uses the verified-token cache (recorded as locations
    /// merge): only then does a worker make its cache at start.
    pub cache_used: bool,
}

impl MainConf {
    /// Records a merged location's cache size: the worker's one cache takes the largest.
    pub fn want_cache_capacity(&mut self, n: usize) {
        self.cache_capacity = Some(self.cache_capacity.map_or(n, |m| m.max(n)));
    }
}
