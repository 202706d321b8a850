//! Helpers shared by the integration tests.
#![allow(dead_code)]

use auth_jwt_core::{parse_key_file, Algorithm, Key, KeySet};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::EncodingKey;
use serde_json::Value;
use std::path::PathBuf;

pub const NOW: u64 = 1_700_000_000;

pub fn data(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A file under /work/shared/vectors; a missing vectors directory fails the test.
pub fn vector_path(rel: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors");
    assert!(
        dir.is_dir(),
        "test vectors directory {} is missing",
        dir.display()
    );
    dir.join(rel)
}

pub fn vector(rel: &str) -> Vec<u8> {
    let p = vector_path(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn vector_json(rel: &str) -> Value {
    serde_json::from_slice(&vector(rel)).unwrap()
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS with exactly this header and payload, signed with `key` as `alg`.
pub fn sign_raw(alg: Algorithm, header: &str, payload: &str, key: &EncodingKey) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{sig}")
}

/// A token with header `{"alg": ALG, ...extra}` and the given claims.
pub fn sign(alg: Algorithm, extra_header: Value, claims: Value, key: &EncodingKey) -> String {
    let mut header = serde_json::Map::new();
    header.insert(
        "alg".into(),
        Value::String(auth_jwt_core::alg_name(alg).into()),
    );
    if let Value::Object(extra) = extra_header {
        header.extend(extra);
    }
    sign_raw(
        alg,
        &Value::Object(header).to_string(),
        &claims.to_string(),
        key,
    )
}

pub fn key_file(name: &str) -> Vec<Key> {
    parse_key_file(&data(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .keys
}

pub fn keyset(names: &[&str]) -> KeySet {
    KeySet::new(names.iter().flat_map(|n| key_file(n)).collect())
}

pub fn rsa_enc() -> EncodingKey {
    EncodingKey::from_rsa_pem(&data("rsa2048_private.pem")).unwrap()
}

pub fn rsa_b_enc() -> EncodingKey {
    EncodingKey::from_rsa_pem(&data("rsa2048b_private.pem")).unwrap()
}

pub fn ec256_enc() -> EncodingKey {
    EncodingKey::from_ec_pem(&data("ec256_private.pem")).unwrap()
}

pub fn ec384_enc() -> EncodingKey {
    EncodingKey::from_ec_pem(&data("ec384_private.pem")).unwrap()
}

pub fn ed_enc() -> EncodingKey {
    EncodingKey::from_ed_pem(&data("ed25519_private.pem")).unwrap()
}

pub const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef!";

pub fn hmac_enc() -> EncodingKey {
    EncodingKey::from_secret(SECRET)
}

/// Replaces the JWK/PEM-private members so the RFC example keys can be loaded as public keys.
pub fn public_jwk(jwk: &Value) -> Value {
    let mut jwk = jwk.clone();
    if let Value::Object(m) = &mut jwk {
        if m.get("kty").and_then(Value::as_str) != Some("oct") {
            for k in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
                m.remove(k);
            }
        }
    }
    jwk
}
