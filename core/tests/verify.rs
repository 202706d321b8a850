//! Signature verification: algorithm checks, key selection, malformed tokens.

mod common;

use auth_jwt_core::{
    secret_key, verify_signature, AlgSet, Algorithm, KeySet, Policy, Provider, Reason,
    MAX_TOKEN_LEN,
};
use common::*;
use serde_json::json;

fn reason(token: &str, keys: &KeySet) -> Reason {
    verify_signature(token.as_bytes(), keys, AlgSet::ALL)
        .unwrap_err()
        .reason
}

fn claims() -> serde_json::Value {
    json!({"sub": "alice", "exp": NOW + 60})
}

#[test]
fn verifies_every_key_type() {
    let keys = keyset(&[
        "rsa2048_public.pem",
        "ec256_public.pem",
        "ec384_public.pem",
        "ed25519_public.pem",
    ]);
    let cases = [
        (Algorithm::RS256, rsa_enc()),
        (Algorithm::RS384, rsa_enc()),
        (Algorithm::RS512, rsa_enc()),
        (Algorithm::PS256, rsa_enc()),
        (Algorithm::PS384, rsa_enc()),
        (Algorithm::PS512, rsa_enc()),
        (Algorithm::ES256, ec256_enc()),
        (Algorithm::ES384, ec384_enc()),
        (Algorithm::EdDSA, ed_enc()),
    ];
    for (alg, enc) in cases {
        let t = sign(alg, json!({"typ": "JWT"}), claims(), &enc);
        let v = verify_signature(t.as_bytes(), &keys, AlgSet::ALL)
            .unwrap_or_else(|f| panic!("{alg:?}: {f:?}"));
        assert_eq!(v.alg, alg);
        assert_eq!(v.claims.get("sub").unwrap(), "alice");
        assert_eq!(v.header.get("typ").unwrap(), "JWT");
        assert_eq!(v.kid, None);
        assert_eq!(
            Policy::default().check(&v.header, &v.claims, NOW, Some(&Provider::UNBOUND)),
            Ok(())
        );
        // not in the allow-list
        let f = verify_signature(t.as_bytes(), &keys, AlgSet::ALL.intersection(AlgSet::HMAC));
        assert_eq!(f.unwrap_err().reason, Reason::AlgNotAllowed);
    }
    let hs = KeySet::new(vec![secret_key(SECRET).unwrap()]);
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let t = sign(alg, json!({}), claims(), &hmac_enc());
        assert_eq!(
            verify_signature(t.as_bytes(), &hs, AlgSet::ALL)
                .unwrap()
                .alg,
            alg
        );
    }
}

#[test]
fn claims_json_is_compact() {
    let hs = KeySet::new(vec![secret_key(SECRET).unwrap()]);
    let t = sign_raw(
        Algorithm::HS256,
        r#"{"alg":"HS256"}"#,
        "{ \"b\" : 1,\n \"a\": [1, 2] }",
        &hmac_enc(),
    );
    let v = verify_signature(t.as_bytes(), &hs, AlgSet::ALL).unwrap();
    let back: serde_json::Value = serde_json::from_str(&v.claims_json()).unwrap();
    assert_eq!(back, json!({"a": [1, 2], "b": 1}));
    assert!(!v.claims_json().contains(' '));
}

#[test]
fn wrong_key_is_bad_signature() {
    let keys = keyset(&["rsa2048_public.pem"]);
    let t = sign(Algorithm::RS256, json!({}), claims(), &rsa_b_enc());
    assert_eq!(reason(&t, &keys), Reason::BadSignature);
    // ES256 signature checked with the P-384 key: no candidate for ES256 at all
    let keys = keyset(&["ec384_public.pem"]);
    let t = sign(Algorithm::ES256, json!({}), claims(), &ec256_enc());
    assert_eq!(reason(&t, &keys), Reason::AlgNotAllowed);
}

#[test]
fn none_is_never_accepted() {
    let keys = keyset(&["rsa2048_public.pem"]);
    let hs = KeySet::new(vec![secret_key(SECRET).unwrap()]);
    for name in ["none", "None", "NONE", "nOnE"] {
        let header = b64(format!("{{\"alg\":\"{name}\"}}"));
        let payload = b64(claims().to_string());
        for sig in ["", "AAAA"] {
            let t = format!("{header}.{payload}.{sig}");
            assert_eq!(reason(&t, &keys), Reason::AlgNotAllowed, "{name}");
            assert_eq!(reason(&t, &hs), Reason::AlgNotAllowed, "{name}");
        }
    }
}

#[test]
fn bad_alg_headers() {
    let keys = keyset(&["rsa2048_public.pem"]);
    let payload = b64(claims().to_string());
    for header in [
        json!({}),
        json!({"alg": null}),
        json!({"alg": 256}),
        json!({"alg": ["RS256"]}),
        json!({"alg": "rs256"}),
        json!({"alg": "RS256 "}),
        json!({"alg": "ES512"}),
        json!({"alg": "HS256"}),
    ] {
        let t = format!("{}.{payload}.AAAA", b64(header.to_string()));
        assert_eq!(reason(&t, &keys), Reason::AlgNotAllowed, "{header}");
    }
}

#[test]
fn hs256_with_public_key_as_secret_is_rejected() {
    // The classic key-confusion attack: HMAC keyed with the RSA public key PEM bytes.
    let pem = data("rsa2048_public.pem");
    let forged = sign(
        Algorithm::HS256,
        json!({}),
        claims(),
        &jsonwebtoken::EncodingKey::from_secret(&pem),
    );
    let keys = keyset(&["rsa2048_public.pem"]);
    assert_eq!(reason(&forged, &keys), Reason::AlgNotAllowed);
    // even with an HMAC key present (a different one), the RSA key never verifies HS*
    let mut both = keys.keys().to_vec();
    both.push(secret_key(SECRET).unwrap());
    let both = KeySet::new(both);
    assert_eq!(reason(&forged, &both), Reason::BadSignature);
    for key in both.keys() {
        assert!(!key.verify(Algorithm::HS256, b"x", b"y"));
    }
}

#[test]
fn crit_is_rejected() {
    let hs = KeySet::new(vec![secret_key(SECRET).unwrap()]);
    for crit in [json!(["exp"]), json!([]), json!("b64"), json!(null)] {
        let t = sign(
            Algorithm::HS256,
            json!({"crit": crit}),
            claims(),
            &hmac_enc(),
        );
        assert_eq!(reason(&t, &hs), Reason::Crit);
    }
}

#[test]
fn embedded_key_headers_are_ignored() {
    // Signed with key B; the header carries B's public key in every embedded form.
    let keys = keyset(&["rsa2048_public.pem"]);
    let b_pem = String::from_utf8(data("rsa2048b_public.pem")).unwrap();
    let b_der: String = b_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let extra = json!({
        "jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": [b_der],
    });
    let t = sign(Algorithm::RS256, extra.clone(), claims(), &rsa_b_enc());
    assert_eq!(reason(&t, &keys), Reason::BadSignature);
    // and they do not disturb a legitimately signed token
    let t = sign(Algorithm::RS256, extra, claims(), &rsa_enc());
    assert!(verify_signature(t.as_bytes(), &keys, AlgSet::ALL).is_ok());
}

#[test]
fn kid_strict_selection() {
    // Key "a" is the RFC 7515 A.2 RSA key; the kid-less key is RSA key A. A token with kid "a"
    // signed by A must not verify through the kid-less key, although that key would verify it.
    let rfc = public_jwk(&vector_json("rfc/rfc7515_appendix_a.json")["vectors"][1]["key"]);
    let mut with_kid = rfc.clone();
    with_kid["kid"] = json!("a");
    let mut keys = auth_jwt_core::parse_jwks(json!({"keys": [with_kid]}).to_string().as_bytes())
        .unwrap()
        .keys;
    keys.extend(key_file("rsa2048_public.pem")); // kid-less key A
    let set = KeySet::new(keys);

    let t = sign(Algorithm::RS256, json!({"kid": "a"}), claims(), &rsa_enc());
    let f = verify_signature(t.as_bytes(), &set, AlgSet::ALL).unwrap_err();
    assert_eq!(f.reason, Reason::BadSignature);
    assert_eq!(
        (f.alg, f.kid.as_deref()),
        (Some(Algorithm::RS256), Some("a"))
    );
    // unknown kid falls back to kid-less keys only
    let t = sign(
        Algorithm::RS256,
        json!({"kid": "other"}),
        claims(),
        &rsa_enc(),
    );
    let v = verify_signature(t.as_bytes(), &set, AlgSet::ALL).unwrap();
    assert_eq!(v.kid.as_deref(), Some("other"));
    // no kid: every key may be tried
    let t = sign(Algorithm::RS256, json!({}), claims(), &rsa_enc());
    assert!(verify_signature(t.as_bytes(), &set, AlgSet::ALL).is_ok());
}

#[test]
fn unknown_kid_and_no_key() {
    let jwks = json!({"keys": [{"kty": "oct", "k": b64(SECRET), "kid": "k1", "alg": "HS256"}]});
    let set = KeySet::new(
        auth_jwt_core::parse_jwks(jwks.to_string().as_bytes())
            .unwrap()
            .keys,
    );
    let t = sign(
        Algorithm::HS256,
        json!({"kid": "k1"}),
        claims(),
        &hmac_enc(),
    );
    assert!(verify_signature(t.as_bytes(), &set, AlgSet::ALL).is_ok());
    let t = sign(
        Algorithm::HS256,
        json!({"kid": "k2"}),
        claims(),
        &hmac_enc(),
    );
    assert_eq!(reason(&t, &set), Reason::UnknownKid);
    let t = sign(Algorithm::HS256, json!({"kid": 7}), claims(), &hmac_enc());
    assert_eq!(reason(&t, &set), Reason::Malformed);
    // known kid but for another algorithm: no key (not a refetch trigger)
    let jwks = json!({"keys": [
        {"kty": "oct", "k": b64(SECRET), "kid": "k1", "alg": "HS256"},
        {"kty": "oct", "k": b64(SECRET), "kid": "k2", "alg": "HS512"},
    ]});
    let set = KeySet::new(
        auth_jwt_core::parse_jwks(jwks.to_string().as_bytes())
            .unwrap()
            .keys,
    );
    let t = sign(
        Algorithm::HS512,
        json!({"kid": "k1"}),
        claims(),
        &hmac_enc(),
    );
    assert_eq!(reason(&t, &set), Reason::NoKey);
    // empty key set
    assert_eq!(reason(&t, &KeySet::new(vec![])), Reason::AlgNotAllowed);
}

#[test]
fn failure_kid_is_sanitized_for_logs() {
    let set = KeySet::new(vec![secret_key(SECRET).unwrap()]);
    let kid = format!("evil\r\n\"{}\u{7f}é", "x".repeat(100));
    let t = sign(
        Algorithm::HS256,
        json!({"kid": kid}),
        claims(),
        &jsonwebtoken::EncodingKey::from_secret(&[9u8; 32]),
    );
    let f = verify_signature(t.as_bytes(), &set, AlgSet::ALL).unwrap_err();
    assert_eq!(f.reason, Reason::BadSignature);
    let logged = f.kid.unwrap();
    assert!(logged.starts_with("evil???xxx"), "{logged}");
    assert!(logged.len() <= 70);
    assert!(logged
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"'));
}

#[test]
fn malformed_tokens() {
    let set = KeySet::new(vec![secret_key(SECRET).unwrap()]);
    let good = sign(Algorithm::HS256, json!({}), claims(), &hmac_enc());
    let (h, rest) = good.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let hdr = |v: &str| b64(v);
    let cases: Vec<(String, Reason)> = vec![
        (String::new(), Reason::Malformed),
        (format!("{h}.{p}"), Reason::Malformed),
        (format!("{h}.{p}.{s}."), Reason::Malformed),
        (format!("{h}.{p}.{s}.{s}"), Reason::Malformed),
        (format!(".{p}.{s}"), Reason::Malformed),
        (format!("{h}..{s}"), Reason::Malformed),
        (format!("{h}=.{p}.{s}"), Reason::Malformed),
        (format!("{h}.{p}=.{s}"), Reason::Malformed),
        (format!("{h}.{p}.{s}="), Reason::Malformed),
        (format!("{h}.{p}.+{}", &s[1..]), Reason::Malformed),
        (format!("{h}.{p}./{}", &s[1..]), Reason::Malformed),
        (format!("{h} .{p}.{s}"), Reason::Malformed),
        (format!("{h}.{p}.{s}\n"), Reason::Malformed),
        (
            format!("{}.{p}.{s}", hdr("{\"alg\":\"HS256\"")),
            Reason::Malformed,
        ),
        (format!("{}.{p}.{s}", hdr("[\"HS256\"]")), Reason::Malformed),
        (format!("{}.{p}.{s}", hdr("\"HS256\"")), Reason::Malformed),
        (format!("{}.{p}.{s}", "%%%"), Reason::Malformed),
        // signature with non-canonical trailing bits (43 chars for 32 bytes: last char must
        // have zero low bits)
        (format!("{h}.{p}.{}", tweak_last(s)), Reason::Malformed),
        (format!("{h}.{p}."), Reason::BadSignature),
        (format!("{h}.{p}.AAAA"), Reason::BadSignature),
        (
            format!("{h}.{}.{s}", b64("{\"sub\":\"mallory\"}")),
            Reason::BadSignature,
        ),
    ];
    for (t, want) in cases {
        assert_eq!(reason(&t, &set), want, "{t:?}");
    }
    // a token longer than the cap is refused before parsing
    let long = format!("{h}.{}.{s}", "A".repeat(MAX_TOKEN_LEN));
    assert_eq!(reason(&long, &set), Reason::TooLarge);
    let bytes = vec![0xffu8; MAX_TOKEN_LEN + 1];
    assert_eq!(
        verify_signature(&bytes, &set, AlgSet::ALL)
            .unwrap_err()
            .reason,
        Reason::TooLarge
    );
}

fn tweak_last(s: &str) -> String {
    // 'A' → 'B' sets a trailing bit that must be zero for a 32-byte (43-char) signature.
    assert_eq!(s.len(), 43);
    let (head, last) = s.split_at(42);
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.find(last).unwrap();
    format!("{head}{}", &alphabet[(idx ^ 1)..(idx ^ 1) + 1])
}

#[test]
fn payload_must_be_a_json_object() {
    let set = KeySet::new(vec![secret_key(SECRET).unwrap()]);
    for payload in ["[1]", "\"s\"", "not json", "{\"a\":1", "null", "{} x"] {
        let t = sign_raw(Algorithm::HS256, r#"{"alg":"HS256"}"#, payload, &hmac_enc());
        assert_eq!(reason(&t, &set), Reason::Malformed, "{payload}");
    }
    // the claims set is decoded (within the caps) before any signature work: its `iss` picks
    // the keys, and its time claims can refuse the token first. So an unsigned garbage payload
    // is malformed, whatever the signature.
    let t = sign_raw(Algorithm::HS256, r#"{"alg":"HS256"}"#, "{}", &hmac_enc());
    let (h, rest) = t.split_once('.').unwrap();
    let s = rest.split_once('.').unwrap().1;
    assert_eq!(
        reason(&format!("{h}.{}.{s}", b64("garbage")), &set),
        Reason::Malformed
    );
}

#[test]
fn garbage_signatures_never_panic() {
    let keys = keyset(&[
        "rsa2048_public.pem",
        "ec256_public.pem",
        "ec384_public.pem",
        "ed25519_public.pem",
    ]);
    let hs = secret_key(SECRET).unwrap();
    let mut all = keys.keys().to_vec();
    all.push(hs);
    for key in &all {
        for alg in AlgSet::ALL.iter() {
            for len in [
                0usize, 1, 31, 32, 33, 63, 64, 65, 95, 96, 97, 255, 256, 257, 512, 1024,
            ] {
                for fill in [0u8, 1, 0xff] {
                    assert!(!key.verify(alg, b"a.b", &vec![fill; len]));
                }
            }
        }
    }
}

#[test]
fn jwt_shape_matches_verifier() {
    use auth_jwt_core::is_jwt_shaped;
    let t = sign(Algorithm::HS256, json!({}), claims(), &hmac_enc());
    assert!(is_jwt_shaped(t.as_bytes()));
    let (h, rest) = t.split_once('.').unwrap();
    let p = rest.split_once('.').unwrap().0;
    assert!(is_jwt_shaped(format!("{h}.{p}.").as_bytes()));
    assert!(!is_jwt_shaped(b"4/0AY0e-g7opaque.session"));
}

#[test]
fn hostile_bytes_never_panic() {
    // A tiny xorshift generator: deterministic pseudo-random inputs without extra dependencies.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let keys = keyset(&[
        "rsa2048_public.pem",
        "ec256_public.pem",
        "ed25519_public.pem",
    ]);
    let good = sign(Algorithm::RS256, json!({"kid": "x"}), claims(), &rsa_enc());
    let alphabet = b"AZaz09-_.=+/ {}\"\0\xff";
    for round in 0..3000 {
        let len = (next() % 300) as usize;
        let mut bytes: Vec<u8> = if round % 2 == 0 {
            (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect()
        } else {
            good.as_bytes().to_vec()
        };
        if round % 2 == 1 {
            for _ in 0..(1 + next() % 4) {
                let i = (next() % bytes.len() as u64) as usize;
                bytes[i] = alphabet[(next() % alphabet.len() as u64) as usize];
            }
        }
        let _ = verify_signature(&bytes, &keys, AlgSet::ALL);
        let _ = auth_jwt_core::is_jwt_shaped(&bytes);
        let _ = auth_jwt_core::parse_key_file(&bytes);
        let _ = auth_jwt_core::parse_jwks(&bytes);
        let mut pem = b"-----BEGIN PUBLIC KEY-----\n".to_vec();
        pem.extend(&bytes);
        pem.extend(b"\n-----END PUBLIC KEY-----\n");
        let _ = auth_jwt_core::parse_key_file(&pem);
    }
}
