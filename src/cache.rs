//! The per-worker verified-token cache (`auth_jwt_rs_cache`); the cache itself is
//! `auth_jwt_core::cache::TokenCache`.
//!
//! One cache serves the whole worker. Its size is the largest `auth_jwt_rs_cache N` of the
//! configuration (or the default); `auth_jwt_rs_cache off` stops a location from using it.

use std::cell::{Cell, RefCell};

use auth_jwt_core::cache::{TokenCache, DEFAULT_CAPACITY};

thread_local! {
    /// The largest explicit `auth_jwt_rs_cache N` of the configuration, if any.
    static CAPACITY: Cell<Option<usize>> = const { Cell::new(None) };
    static CACHE: RefCell<Option<TokenCache>> = const { RefCell::new(None) };
}

/// Starts a new configuration's sizing (preconfiguration).
pub fn reset_capacity() {
    CAPACITY.with(|c| c.set(None));
}

/// Records an explicit `auth_jwt_rs_cache N`; the largest wins.
pub fn want_capacity(n: usize) {
    CAPACITY.with(|c| c.set(Some(c.get().map_or(n, |m| m.max(n)))));
}

/// Runs `f` with this worker's cache, created on first use.
pub fn with<T>(f: impl FnOnce(&mut TokenCache) -> T) -> T {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let cap = CAPACITY.with(Cell::get).unwrap_or(DEFAULT_CAPACITY);
        let cache = c.get_or_insert_with(|| TokenCache::new(cap));
        f(cache)
    })
}
