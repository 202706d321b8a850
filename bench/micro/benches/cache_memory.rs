//! Memory of the verified-token cache (docs/verification.md, "The verified-token cache"): fills
//! a `TokenCache` of 10,000 entries with distinct verified tokens, like a worker's cache after
//! 10,000 users, and prints the heap bytes per entry, for the bench's typical token (about 300
//! bytes of claims) and for smaller and larger claim sets, so that the formula in
//! docs/verification.md can be checked.
//!
//! Heap bytes are counted by a wrapping global allocator: what was asked for, and what glibc's
//! malloc really uses for it (chunks of 16-byte multiples with an 8-byte header, 32 at least).
//! The cache's hash table is included (it is allocated for the full capacity up front).
//! Run: `cargo bench --bench cache_memory` in bench/micro (bench/micro/run.sh does).

#[path = "../common.rs"]
#[allow(dead_code)]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::rc::Rc;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use auth_jwt_core::cache::TokenCache;
use auth_jwt_core::{secret_key, verify_signature, AlgSet, KeySet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

struct Counting;

static ASKED: AtomicIsize = AtomicIsize::new(0);
static CHUNKS: AtomicIsize = AtomicIsize::new(0);

/// glibc malloc's chunk for a request: size + 8, rounded up to 16, at least 32.
fn chunk(size: usize) -> isize {
    (((size + 8 + 15) & !15).max(32)) as isize
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ASKED.fetch_add(l.size() as isize, Relaxed);
        CHUNKS.fetch_add(chunk(l.size()), Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        ASKED.fetch_sub(l.size() as isize, Relaxed);
        CHUNKS.fetch_sub(chunk(l.size()), Relaxed);
        // SAFETY: p was allocated by System with l.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        ASKED.fetch_add(new as isize - l.size() as isize, Relaxed);
        CHUNKS.fetch_add(chunk(new) - chunk(l.size()), Relaxed);
        // SAFETY: p was allocated by System with l.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ENTRIES: usize = 10_000;

/// The bench's typical claims (common::mint), made distinct per user, with `pad` extra bytes
/// of claims.
fn token(key: &EncodingKey, i: usize, pad: usize) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = serde_json::json!({
        "iss": "https://issuer.example.com/realms/bench",
        "sub": format!("8b0c3d0e-5f6a-4b1c-9d2e-{i:012}"),
        "aud": "bench-api",
        "exp": now + 3600,
        "iat": now,
        "nbf": now,
        "jti": format!("0f1e2d3c-4b5a-6978-8796-{i:012}"),
        "email": "alice@example.com",
        "name": "Alice Example",
        "scope": "openid profile email api:read api:write",
        "roles": ["user", "editor"],
    });
    if pad > 0 {
        claims["groups"] = serde_json::json!("g".repeat(pad));
    }
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key).unwrap()
}

fn main() {
    // `cargo bench` passes --bench; nothing else is understood.
    let secret = common::secret();
    let key = EncodingKey::from_secret(&secret);
    let keys = KeySet::new(vec![secret_key(&secret).unwrap()]);
    println!(
        "| claims JSON (bytes) | heap bytes per entry (asked) | heap bytes per entry (glibc chunks) |"
    );
    println!("|---:|---:|---:|");
    for pad in [0usize, 100, 700, 2700] {
        let tokens: Vec<String> = (0..ENTRIES).map(|i| token(&key, i, pad)).collect();
        let claims_len = {
            let v = verify_signature(tokens[0].as_bytes(), &keys, AlgSet::ALL).unwrap();
            v.claims.as_str().len()
        };
        let (asked, chunks) = (ASKED.load(Relaxed), CHUNKS.load(Relaxed));
        let mut cache = TokenCache::new(ENTRIES).unwrap();
        for t in &tokens {
            let v = verify_signature(t.as_bytes(), &keys, AlgSet::ALL).unwrap();
            let key = cache.key(t.as_bytes()).unwrap();
            cache.insert(
                key,
                Rc::new(v),
                keys.id(),
                AlgSet::ALL,
            );
        }
        assert_eq!(cache.len(), ENTRIES);
        let per = |now: isize, before: isize| (now - before) as f64 / ENTRIES as f64;
        println!(
            "| {claims_len} | {:.0} | {:.0} |",
            per(ASKED.load(Relaxed), asked),
            per(CHUNKS.load(Relaxed), chunks)
        );
        drop(cache);
    }
}
