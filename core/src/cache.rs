//! Cache of tokens whose signature verified (SPEC §7, §9).
//!
//! An entry stands for "this token verified with this key set and this algorithm allow-list":
//! its key is SHA-256 over the key set's identity, the allow-list and the token bytes, so a
//! verdict can never be reused under other keys or algorithms, and two tokens cannot share an
//! entry. Time claims and every rule are still checked on each request; entries also drop out
//! once the token's `exp` has passed, and the least recently used one goes when the cache is
//! full.

use std::num::NonZeroUsize;
use std::rc::Rc;

use aws_lc_rs::digest;
use lru::LruCache;
use serde_json::Value;

use crate::alg::AlgSet;
use crate::verify::Verified;

/// Entries per worker when `auth_jwt_rs_cache` gives no number.
pub const DEFAULT_CAPACITY: usize = 2048;

pub type CacheKey = [u8; 32];

struct Entry {
    verified: Rc<Verified>,
    /// `exp` of the token (seconds), when it is a number.
    expires: Option<f64>,
}

pub struct TokenCache {
    lru: LruCache<CacheKey, Entry>,
    pub hits: u64,
    pub misses: u64,
}

impl TokenCache {
    pub fn new(capacity: usize) -> TokenCache {
        let cap = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        TokenCache {
            lru: LruCache::new(cap),
            hits: 0,
            misses: 0,
        }
    }

    /// The cache key of `token` verified with key set `keyset_id` under `algs`.
    pub fn key(token: &[u8], keyset_id: u64, algs: AlgSet) -> CacheKey {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&keyset_id.to_le_bytes());
        ctx.update(&algs.bits().to_le_bytes());
        ctx.update(token);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    /// The verified token for `key`, unless absent or expired at `now`.
    pub fn get(&mut self, key: &CacheKey, now: u64) -> Option<Rc<Verified>> {
        let expired = match self.lru.get(key) {
            None => {
                self.misses += 1;
                return None;
            }
            Some(e) => e.expires.is_some_and(|exp| now as f64 >= exp),
        };
        if expired {
            self.lru.pop(key);
            self.misses += 1;
            return None;
        }
        self.hits += 1;
        self.lru.get(key).map(|e| e.verified.clone())
    }

    pub fn insert(&mut self, key: CacheKey, verified: Rc<Verified>) {
        let expires = verified.claims.get("exp").and_then(Value::as_f64);
        self.lru.put(key, Entry { verified, expires });
    }

    pub fn len(&self) -> usize {
        self.lru.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lru.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.lru.cap().get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Algorithm;
    use serde_json::{json, Map};

    fn verified(exp: Option<u64>) -> Rc<Verified> {
        let mut claims = Map::new();
        if let Some(e) = exp {
            claims.insert("exp".into(), json!(e));
        }
        Rc::new(Verified {
            alg: Algorithm::HS256,
            kid: None,
            header: Map::new(),
            claims,
        })
    }

    #[test]
    fn key_binds_token_keys_and_algorithms() {
        let k = TokenCache::key(b"a.b.c", 1, AlgSet::HMAC);
        assert_eq!(k, TokenCache::key(b"a.b.c", 1, AlgSet::HMAC));
        assert_ne!(k, TokenCache::key(b"a.b.d", 1, AlgSet::HMAC));
        assert_ne!(k, TokenCache::key(b"a.b.c", 2, AlgSet::HMAC));
        assert_ne!(
            k,
            TokenCache::key(b"a.b.c", 1, AlgSet::only(Algorithm::HS256))
        );
    }

    #[test]
    fn hit_miss_and_expiry() {
        let mut c = TokenCache::new(4);
        let k = TokenCache::key(b"t", 1, AlgSet::ALL);
        assert!(c.get(&k, 100).is_none());
        c.insert(k, verified(Some(200)));
        assert!(c.get(&k, 199).is_some());
        // exp == now: gone (the token is expired by then anyway).
        assert!(c.get(&k, 200).is_none());
        assert!(c.is_empty());
        assert_eq!((c.hits, c.misses), (1, 2));
    }

    #[test]
    fn no_exp_lives_until_evicted_and_lru_bounds_memory() {
        let mut c = TokenCache::new(2);
        let keys: Vec<_> = (0..3u64)
            .map(|i| TokenCache::key(b"t", i, AlgSet::ALL))
            .collect();
        c.insert(keys[0], verified(None));
        c.insert(keys[1], verified(None));
        assert!(c.get(&keys[0], u64::MAX).is_some());
        c.insert(keys[2], verified(None));
        assert_eq!(c.len(), 2);
        // keys[1] was least recently used.
        assert!(c.get(&keys[1], 0).is_none());
        assert!(c.get(&keys[0], 0).is_some());
        assert!(c.get(&keys[2], 0).is_some());
        assert_eq!(c.capacity(), 2);
    }
}
