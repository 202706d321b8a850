//! The verification entry point, `verify_signature`, against a fixed key set: an HMAC secret
//! (no kid), RSA `rsa1` (RS256) and EC P-256 `ec1` (ES256) from a JWKS, and an RSA PEM without
//! kid. It must never panic, and whatever it accepts must really verify.
//!
//! Two modes, chosen by the first byte:
//! - odd: the rest is a token, verified as is (random bytes, mutated seed tokens);
//! - even: the rest is `HEADER-JSON \0 PAYLOAD-JSON`, which the target signs with the HMAC
//!   secret (HS256) before verifying, so that arbitrary headers and claims sets reach the
//!   code after the signature check.
#![no_main]

use auth_jwt_core::token::{split, MAX_CLAIMS, MAX_HEADER_MEMBERS, MAX_JSON_DEPTH};
use auth_jwt_core::verify::token_kid;
use auth_jwt_core::{
    is_jwt_shaped, parse_jwks, parse_key_file, secret_key, verify_jws, verify_signature, AlgSet,
    Algorithm, KeySet, Reason, MAX_TOKEN_LEN,
};
use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::OnceLock;

const SECRET_FILE: &[u8] = include_bytes!("../../t/keys/hs.secret");
const JWKS: &[u8] = include_bytes!("../../t/keys/jwks.json");
const RSA_PEM: &[u8] = include_bytes!("../../t/keys/rsa2.pub.pem");

fn secret() -> &'static [u8] {
    SECRET_FILE.strip_suffix(b"\n").unwrap_or(SECRET_FILE)
}

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = vec![secret_key(SECRET_FILE).expect("hs.secret")];
        keys.extend(parse_jwks(JWKS).expect("jwks.json").keys);
        keys.extend(parse_key_file(RSA_PEM).expect("rsa2.pub.pem").keys);
        assert_eq!(keys.len(), 4);
        KeySet::new(keys)
    })
}

fn hs(alg: Algorithm) -> Option<hmac::Algorithm> {
    match alg {
        Algorithm::HS256 => Some(hmac::HMAC_SHA256),
        Algorithm::HS384 => Some(hmac::HMAC_SHA384),
        Algorithm::HS512 => Some(hmac::HMAC_SHA512),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        check(rest, None);
    } else {
        let (header, payload) = match rest.iter().position(|&b| b == 0) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &b"{}"[..]),
        };
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret());
        let sig = hmac::sign(&key, input.as_bytes());
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()));
        check(token.as_bytes(), Some(header));
    }
});

/// `minted`: the raw header JSON when the target signed the token itself (HS256).
fn check(token: &[u8], minted: Option<&[u8]>) {
    let keys = keys();
    let result = verify_signature(token, keys, AlgSet::ALL);
    // the plain-JWS entry point agrees on the signature verdict
    let jws = verify_jws(token, keys, AlgSet::ALL);
    match &result {
        Ok(v) => {
            assert!(token.len() <= MAX_TOKEN_LEN);
            assert!(is_jwt_shaped(token));
            assert_eq!(token_kid(token), v.kid);
            assert!(v.claims.len() <= MAX_CLAIMS);
            assert!(v.header.len() <= MAX_HEADER_MEMBERS);
            assert!(depth(&Value::Object(v.claims.to_map())) <= MAX_JSON_DEPTH);
            assert!(!v.header.contains_key("crit"));
            let jws = jws
                .as_ref()
                .expect("verify_jws accepts what verify_signature does");
            assert_eq!(jws.alg, v.alg);
            // an accepted HMAC token really carries the HMAC of its signing input
            if let Some(alg) = hs(v.alg) {
                let parts = split(token).expect("accepted token splits");
                let sig = URL_SAFE_NO_PAD
                    .decode(parts.signature)
                    .expect("canonical b64");
                let key = hmac::Key::new(alg, secret());
                assert!(hmac::verify(&key, parts.signing_input, &sig).is_ok());
            }
            let _ = v.claims_json();
            // a restricted allow-list never accepts another algorithm
            let only = AlgSet::only(v.alg);
            assert!(verify_signature(token, keys, only).is_ok());
            let others = AlgSet::ALL.intersection(AlgSet::HMAC.union(AlgSet::RSA));
            if !others.contains(v.alg) {
                assert!(verify_signature(token, keys, others).is_err());
            }
        }
        Err(f) => {
            if let Ok(j) = &jws {
                // only the claims set can make verify_signature refuse what verify_jws accepts
                assert!(
                    matches!(f.reason, Reason::Malformed | Reason::TooLarge),
                    "{f:?} for a valid JWS ({:?})",
                    j.alg
                );
            }
            assert!(
                verify_signature(token, keys, AlgSet::EMPTY).is_err(),
                "empty allow-list"
            );
        }
    }
    // a token signed with the right secret never fails the signature check
    if let (Some(header), Err(f)) = (minted, &result) {
        let alg_hs256 = serde_json::from_slice::<Value>(header)
            .ok()
            .is_some_and(|h| h.get("alg") == Some(&Value::String("HS256".into())));
        if alg_hs256 {
            assert_ne!(f.reason, Reason::BadSignature, "self-signed HS256 token");
        }
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}
