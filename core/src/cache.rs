//! Cache of tokens whose signature verified (README `auth_jwt_rs_cache`).
//!
//! An entry stands for "this token verified with this key set under this algorithm
//! allow-list". It is found by a 128-bit keyed hash of the token bytes ([`TokenCache::key`]:
//! two tokens never share an entry) and holds the identity of the key set and the allow-list
//! that verified it; a lookup
//! ([`Hit::verified_with`]) only counts when both equal the ones in force for the token now,
//! so a verdict is never reused under other keys or algorithms, and with issuer-bound key
//! sources never for another issuer's key set. That is a cache keyed by token, key set and
//! allow-list, with one entry per token. Time claims and every rule are still checked on each
//! request; entries also drop out once the token's `exp` has passed, and the least recently
//! used one goes when the cache is full.

use std::num::NonZeroUsize;
use std::rc::Rc;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM_SIV};
use lru::LruCache;
use serde_json::Value;

use crate::alg::AlgSet;
use crate::verify::Verified;

/// Entries per worker when `auth_jwt_rs_cache` gives no number.
pub const DEFAULT_CAPACITY: usize = 2048;

pub type CacheKey = [u8; 16];

struct Entry {
    verified: Rc<Verified>,
    keyset: u128,
    algs: AlgSet,
    /// `exp` of the token (seconds), when it is a number.
    expires: Option<f64>,
}

/// A cached verdict, to be used only if [`Hit::verified_with`] the keys in force.
pub struct Hit {
    pub verified: Rc<Verified>,
    keyset: u128,
    algs: AlgSet,
}

impl Hit {
    /// Whether this verdict was reached with the key set `keyset` (its [`KeySet::id`]) under
    /// the allow-list `algs`.
    ///
    /// [`KeySet::id`]: crate::keys::KeySet::id
    pub fn verified_with(&self, keyset: u128, algs: AlgSet) -> bool {
        self.keyset == keyset && self.algs == algs
    }
}

pub struct TokenCache {
    lru: LruCache<CacheKey, Entry>,
    /// The key of [`TokenCache::key`]: random, made with the cache, never leaves it.
    mac: LessSafeKey,
    pub hits: u64,
    pub misses: u64,
}

impl TokenCache {
    /// A cache of `capacity` entries with a fresh random key; `None` if the system's random
    /// number generator fails (then nothing is cached).
    pub fn new(capacity: usize) -> Option<TokenCache> {
        let cap = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        let mut secret = [0u8; 32];
        aws_lc_rs::rand::fill(&mut secret).ok()?;
        let mac = LessSafeKey::new(UnboundKey::new(&AES_256_GCM_SIV, &secret).ok()?);
        Some(TokenCache {
            lru: LruCache::new(cap),
            mac,
            hits: 0,
            misses: 0,
        })
    }

    /// The cache key of `token`: the AES-256-GCM-SIV tag (RFC 8452) of the token as associated
    /// data, under this cache's random key and a fixed nonce. That tag is a pseudorandom
    /// function of the token (the SIV construction is made to be used deterministically), so
    /// without the key, which never leaves the worker, a token that shares another's key can
    /// only be guessed: about 2^-118 per try and cached token. About half the CPU of a SHA-256
    /// of the token (docs/benchmark.md, "Before and after (2026-12-03)").
    pub fn key(&self, token: &[u8]) -> Option<CacheKey> {
        let nonce = Nonce::assume_unique_for_key([0; 12]);
        // Sealing nothing fails only past the AEAD's input limits (a token is at most 8 KB);
        // a token without a key is not cached.
        let tag = self
            .mac
            .seal_in_place_separate_tag(nonce, Aad::from(token), &mut [])
            .ok()?;
        let mut out = [0u8; 16];
        out.copy_from_slice(tag.as_ref());
        Some(out)
    }

    /// The cached verdict for `key`, unless absent or expired at `now`. The caller must check
    /// [`Hit::verified_with`] before using it.
    pub fn get(&mut self, key: &CacheKey, now: u64) -> Option<Hit> {
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
        self.lru.get(key).map(|e| Hit {
            verified: e.verified.clone(),
            keyset: e.keyset,
            algs: e.algs,
        })
    }

    /// Records that the token of `key` verified with the key set `keyset` under `algs`
    /// (replacing any verdict of it under other keys).
    pub fn insert(&mut self, key: CacheKey, verified: Rc<Verified>, keyset: u128, algs: AlgSet) {
        let expires = verified.claims.get("exp").as_ref().and_then(Value::as_f64);
        self.lru.put(
            key,
            Entry {
                verified,
                keyset,
                algs,
                expires,
            },
        );
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
    use crate::json::JsonObject;
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
            header: JsonObject::default(),
            claims: JsonObject::from_map(&claims),
        })
    }

    #[test]
    fn verdict_binds_token_keys_and_algorithms() {
        let mut c = TokenCache::new(4).unwrap();
        let k = c.key(b"a.b.c").unwrap();
        assert_eq!(Some(k), c.key(b"a.b.c"));
        assert_ne!(Some(k), c.key(b"a.b.d"));
        assert_ne!(
            Some(k),
            TokenCache::new(4).unwrap().key(b"a.b.c"),
            "a key per cache"
        );
        c.insert(k, verified(None), 1, AlgSet::HMAC);
        let hit = c.get(&k, 0).unwrap();
        assert!(hit.verified_with(1, AlgSet::HMAC));
        assert!(!hit.verified_with(2, AlgSet::HMAC), "another key set");
        assert!(
            !hit.verified_with(1, AlgSet::only(Algorithm::HS256)),
            "another allow-list"
        );
        // verified again under other keys: the entry now stands for those
        c.insert(k, verified(None), 2, AlgSet::HMAC);
        let hit = c.get(&k, 0).unwrap();
        assert!(hit.verified_with(2, AlgSet::HMAC));
        assert!(!hit.verified_with(1, AlgSet::HMAC));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn hit_miss_and_expiry() {
        let mut c = TokenCache::new(4).unwrap();
        let k = c.key(b"t").unwrap();
        assert!(c.get(&k, 100).is_none());
        c.insert(k, verified(Some(200)), 1, AlgSet::ALL);
        assert!(c.get(&k, 199).is_some());
        // exp == now: gone (the token is expired by then anyway).
        assert!(c.get(&k, 200).is_none());
        assert!(c.is_empty());
        assert_eq!((c.hits, c.misses), (1, 2));
    }

    #[test]
    fn no_exp_lives_until_evicted_and_lru_bounds_memory() {
        let mut c = TokenCache::new(2).unwrap();
        let keys: Vec<_> = (0..3u8).filter_map(|i| c.key(&[i])).collect();
        c.insert(keys[0], verified(None), 1, AlgSet::ALL);
        c.insert(keys[1], verified(None), 1, AlgSet::ALL);
        assert!(c.get(&keys[0], u64::MAX).is_some());
        c.insert(keys[2], verified(None), 1, AlgSet::ALL);
        assert_eq!(c.len(), 2);
        // keys[1] was least recently used.
        assert!(c.get(&keys[1], 0).is_none());
        assert!(c.get(&keys[0], 0).is_some());
        assert!(c.get(&keys[2], 0).is_some());
        assert_eq!(c.capacity(), 2);
    }
}
