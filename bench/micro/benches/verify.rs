//! Verify path per algorithm: the project's core, jsonwebtoken (aws_lc_rs), and the aws-lc-rs
//! floor with a pre-parsed public key. Group `verify_<ALG>`; see bench/micro/run.sh.

#[path = "../common.rs"]
mod common;

use auth_jwt_core::{parse_key_file, secret_key, AlgSet, KeySet};
use auth_jwt_micro::Floor;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::Algorithm;
use std::hint::black_box;

fn core_keyset(alg: Algorithm, public: &str) -> KeySet {
    let keys = if alg == Algorithm::HS256 {
        vec![secret_key(&read(public)).unwrap()]
    } else {
        parse_key_file(&read(public)).unwrap().keys
    };
    KeySet::new(keys)
}

fn verify(c: &mut Criterion) {
    for (name, alg, private, public) in ALGS {
        let token = mint(alg, private);
        let mut g = c.benchmark_group(format!("verify_{name}"));

        // (a) the module's path: parse + header checks + key selection + signature + claims JSON.
        let ks = core_keyset(alg, public);
        assert!(auth_jwt_core::verify_signature(token.as_bytes(), &ks, AlgSet::ALL).is_ok());
        g.bench_function("core", |b| {
            b.iter(|| {
                auth_jwt_core::verify_signature(black_box(token.as_bytes()), &ks, AlgSet::ALL)
                    .is_ok()
            })
        });

        // (b) jsonwebtoken, aws_lc_rs backend.
        let key = decoding_key(alg, public);
        bench_decode(&mut g, "jwt_decode_aws_lc_rs", alg, &token, &key);
        bench_crypto_verify(&mut g, "jwt_sig_aws_lc_rs", alg, &token, &key);

        // (b') the core's token handling alone: everything but the signature.
        assert!(auth_jwt_core::decode(token.as_bytes(), AlgSet::ALL).is_ok());
        g.bench_function("core_decode_only", |b| {
            b.iter(|| auth_jwt_core::decode(black_box(token.as_bytes()), AlgSet::ALL).is_ok())
        });

        // (b'') a cache hit's core work per request: the cache key, every check that needs no
        // signature on the cached claims, and two claim variables ($user, $email).
        let cached = auth_jwt_core::verify_signature(token.as_bytes(), &ks, AlgSet::ALL).unwrap();
        let policy = auth_jwt_core::Policy {
            require_exp: true,
            audiences: vec!["bench-api".into()],
            ..Default::default()
        };
        let now = jsonwebtoken::get_current_timestamp();
        let unbound = Some(&auth_jwt_core::Provider::UNBOUND);
        assert!(policy
            .check(&cached.header, &cached.claims, now, unbound)
            .is_ok());
        let cache = auth_jwt_core::cache::TokenCache::new(1).unwrap();
        g.bench_function("core_cached_hit_checks", |b| {
            b.iter(|| {
                let key = cache.key(black_box(token.as_bytes()));
                let ok = policy
                    .check(&cached.header, &cached.claims, now, unbound)
                    .is_ok();
                let user = cached.claims.get("sub");
                let email = cached.claims.get("email");
                (key, ok, user, email)
            })
        });

        // (c) the core's key alone: the signature check as the core does it, with the key as
        // the core parsed it (tells the key path from the token handling around it).
        let (message, signature) = token.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let core_key = ks.keys()[0].clone();
        assert!(core_key.verify(alg, message.as_bytes(), &signature));
        g.bench_function("core_key_only", |b| {
            b.iter(|| core_key.verify(alg, black_box(message.as_bytes()), &signature))
        });

        // (d) floor: aws-lc-rs with a key parsed once (what pre-parsed keys can reach); the
        // same code as the `jwt-floor` binary bench/run.sh runs beside the worker.
        let floor = Floor::new(name, &read(public)).unwrap();
        assert!(floor.verify(message.as_bytes(), &signature));
        g.bench_function("aws_lc_parsed_key", |b| {
            b.iter(|| floor.verify(black_box(message.as_bytes()), &signature))
        });
        g.finish();
    }
}

criterion_group! { name = benches; config = criterion_config(); targets = verify }
criterion_main!(benches);
