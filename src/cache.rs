//! The per-worker verified-token cache (`auth_jwt_rs_cache`); the cache itself is
//! `auth_jwt_core::cache::TokenCache`.
//!
//! One cache serves the whole worker. Its size is the largest `auth_jwt_rs_cache N` of the
//! configuration (kept in the main configuration) or the default; `auth_jwt_rs_cache off` stops
//! a location from using it. The cache holds run-time state only: a verdict counts only under
//! the key set that produced it, whatever the configuration.

use std::cell::RefCell;

use auth_jwt_core::cache::{TokenCache, DEFAULT_CAPACITY};

thread_local! {
    static CACHE: RefCell<Option<(usize, TokenCache)>> = const { RefCell::new(None) };
}

/// Runs `f` with this worker's cache, created on first use with `capacity` entries (or the
/// default); a different capacity (another configuration, in a single-process nginx) starts
/// a new cache. `None` when no cache can be made (no random key: nothing is cached).
pub fn with<T>(capacity: Option<usize>, f: impl FnOnce(&mut TokenCache) -> T) -> Option<T> {
    let cap = capacity.unwrap_or(DEFAULT_CAPACITY);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.as_ref().is_some_and(|(n, _)| *n != cap) {
            *c = None;
        }
        if c.is_none() {
            *c = TokenCache::new(cap).map(|cache| (cap, cache));
        }
        c.as_mut().map(|(_, cache)| f(cache))
    })
}
