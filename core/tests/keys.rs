//! Key file parsing: PEM, JWK, JWKS, secrets, and kid-strict key selection.

mod common;

use auth_jwt_core::{parse_jwks, parse_key_file, secret_key, AlgSet, Algorithm, KeyKind, KeySet};
use common::*;
use serde_json::json;

fn err(bytes: &[u8]) -> String {
    parse_key_file(bytes).unwrap_err().to_string()
}

fn jwk_err(v: serde_json::Value) -> String {
    err(v.to_string().as_bytes())
}

const EC_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const EC_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

#[test]
fn pem_public_keys() {
    let k = key_file("rsa2048_public.pem");
    assert_eq!(k.len(), 1);
    assert_eq!(k[0].kind, KeyKind::Rsa { bits: 2048 });
    assert_eq!(k[0].algs, AlgSet::RSA);
    assert_eq!(k[0].kid, None);
    assert_eq!(
        key_file("rsa2048_public_pkcs1.pem")[0].kind,
        KeyKind::Rsa { bits: 2048 }
    );
    assert_eq!(
        key_file("rsa2048_cert.pem")[0].kind,
        KeyKind::Rsa { bits: 2048 }
    );
    let pss = &key_file("rsapss_public.pem")[0];
    assert_eq!(pss.algs, AlgSet::RSA_PSS);
    let ec = &key_file("ec256_public.pem")[0];
    assert_eq!(
        (ec.kind, ec.algs),
        (KeyKind::EcP256, AlgSet::only(Algorithm::ES256))
    );
    let ec = &key_file("ec384_public.pem")[0];
    assert_eq!(
        (ec.kind, ec.algs),
        (KeyKind::EcP384, AlgSet::only(Algorithm::ES384))
    );
    let ed = &key_file("ed25519_public.pem")[0];
    assert_eq!(
        (ed.kind, ed.algs),
        (KeyKind::Ed25519, AlgSet::only(Algorithm::EdDSA))
    );
}

#[test]
fn pem_same_key_in_every_container_has_same_fingerprint() {
    let a = key_file("rsa2048_public.pem")[0].fingerprint();
    assert_eq!(a, key_file("rsa2048_public_pkcs1.pem")[0].fingerprint());
    assert_eq!(a, key_file("rsa2048_cert.pem")[0].fingerprint());
    assert_ne!(a, key_file("rsa2048b_public.pem")[0].fingerprint());
}

#[test]
fn pem_multiple_blocks_and_surrounding_text() {
    let mut file = b"# our keys\n".to_vec();
    file.extend(data("rsa2048_public.pem"));
    file.extend(b"\r\nsome comment\r\n");
    file.extend(data("ec256_public.pem"));
    file.extend(data("rsa2048_cert.pem"));
    let loaded = parse_key_file(&file).unwrap();
    let kinds: Vec<_> = loaded.keys.iter().map(|k| k.kind).collect();
    assert_eq!(
        kinds,
        vec![
            KeyKind::Rsa { bits: 2048 },
            KeyKind::EcP256,
            KeyKind::Rsa { bits: 2048 }
        ]
    );
    // CRLF line endings and long lines are fine
    let pem = String::from_utf8(data("ec256_public.pem")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let one_line = format!("-----BEGIN PUBLIC KEY-----\r\n{body}\r\n-----END PUBLIC KEY-----\r\n");
    assert_eq!(
        parse_key_file(one_line.as_bytes()).unwrap().keys[0].kind,
        KeyKind::EcP256
    );
    // one bad block fails the whole file, naming the block
    let mut bad = data("ec256_public.pem");
    bad.extend(data("rsa1024_public.pem"));
    assert_eq!(
        err(&bad),
        "PEM block 2: RSA key is 1024 bits, at least 2048 are required"
    );
}

#[test]
fn pem_rejections() {
    assert_eq!(
        err(&data("rsa1024_public.pem")),
        "RSA key is 1024 bits, at least 2048 are required"
    );
    assert_eq!(
        err(&data("ec521_public.pem")),
        "unsupported curve \"P-521\""
    );
    assert_eq!(
        err(&data("secp256k1_public.pem")),
        "unsupported curve \"secp256k1\""
    );
    assert_eq!(
        err(&data("ed448_public.pem")),
        "unsupported key algorithm Ed448"
    );
    assert!(err(&data("ec256_public_compressed.pem")).contains("uncompressed"));
    for private in [
        "rsa2048_private.pem",
        "ec256_private.pem",
        "ed25519_private.pem",
    ] {
        assert!(
            err(&data(private)).contains("contains private key material"),
            "{private}"
        );
    }
    let mut mixed = data("rsa2048_public.pem");
    mixed.extend(data("rsa2048_private.pem"));
    assert!(err(&mixed).contains("private key material"));
    let encrypted = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    assert!(err(encrypted.as_bytes()).contains("private key material"));
    assert!(err(b"-----BEGIN PUBLIC KEY-----\nMIIB\n").contains("not terminated"));
    assert!(
        err(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END CERTIFICATE-----\n").contains("ends with")
    );
    assert!(
        err(b"-----BEGIN PUBLIC KEY-----\nA@AA\n-----END PUBLIC KEY-----\n").contains("base64")
    );
    assert!(
        err(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
            .contains("invalid SubjectPublicKeyInfo")
    );
    assert!(
        err(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").contains("X.509")
    );
    assert!(
        err(b"-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n")
            .contains("PKCS#1")
    );
    assert!(err(b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n")
        .contains("unsupported PEM block \"FOO\""));
    assert!(
        err(b"-----BEGIN \n").contains("no public key") || err(b"-----BEGIN \n").contains("PEM")
    );
    // ssh public keys, raw secrets, garbage
    assert_eq!(
        err(b"ssh-ed25519 AAAAC3Nza test"),
        "not a PEM, JWK or JWKS document"
    );
    assert_eq!(err(b""), "not a PEM, JWK or JWKS document");
    assert_eq!(err(b"[1,2]"), "not a PEM, JWK or JWKS document");
    assert!(err(b"{\"kty\":").starts_with("invalid JSON"));
    assert!(err(b"{\"a\":1}").contains("neither a JWK"));
}

#[test]
fn jwk_types_and_alg_binding() {
    let ec = json!({"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "kid": "e1"});
    let k = &parse_key_file(ec.to_string().as_bytes()).unwrap().keys[0];
    assert_eq!(
        (k.kind, k.algs, k.kid.as_deref()),
        (KeyKind::EcP256, AlgSet::only(Algorithm::ES256), Some("e1"))
    );
    // alg narrows
    let rsa = public_jwk(&vector_json("rfc/rfc7515_appendix_a.json")["vectors"][1]["key"]);
    let mut narrowed = rsa.clone();
    narrowed["alg"] = json!("PS256");
    let k = &parse_key_file(narrowed.to_string().as_bytes())
        .unwrap()
        .keys[0];
    assert_eq!(k.algs, AlgSet::only(Algorithm::PS256));
    // alg contradicting the key type, unknown, none
    for (alg, msg) in [
        ("HS256", "\"alg\" HS256 does not fit a RSA key"),
        ("ES256", "\"alg\" ES256 does not fit a RSA key"),
        ("RS1", "unknown algorithm \"RS1\""),
        ("none", "algorithm \"none\" is never accepted"),
    ] {
        let mut j = rsa.clone();
        j["alg"] = json!(alg);
        assert_eq!(jwk_err(j), msg);
    }
    let mut j = ec.clone();
    j["alg"] = json!("ES384");
    assert!(jwk_err(j).contains("does not fit"));
    let oct = json!({"kty": "oct", "k": b64([7u8; 32]), "alg": "HS384"});
    let k = &parse_key_file(oct.to_string().as_bytes()).unwrap().keys[0];
    assert_eq!(
        (k.kind, k.algs),
        (KeyKind::Hmac, AlgSet::only(Algorithm::HS384))
    );
    let okp = json!({"kty": "OKP", "crv": "Ed25519", "x": b64([1u8; 32])});
    assert_eq!(
        parse_key_file(okp.to_string().as_bytes()).unwrap().keys[0].kind,
        KeyKind::Ed25519
    );
}

#[test]
fn jwk_use_and_key_ops() {
    let base = json!({"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y});
    let with = |k: &str, v: serde_json::Value| {
        let mut j = base.clone();
        j[k] = v;
        j
    };
    assert!(parse_key_file(with("use", json!("sig")).to_string().as_bytes()).is_ok());
    assert_eq!(
        jwk_err(with("use", json!("enc"))),
        "\"use\" is \"enc\", not \"sig\""
    );
    assert!(jwk_err(with("use", json!(1))).contains("not a string"));
    assert!(parse_key_file(with("key_ops", json!(["verify"])).to_string().as_bytes()).is_ok());
    assert!(parse_key_file(
        with("key_ops", json!(["sign", "verify"]))
            .to_string()
            .as_bytes()
    )
    .is_ok());
    assert!(jwk_err(with("key_ops", json!(["encrypt"]))).contains("does not allow \"verify\""));
    assert!(jwk_err(with("key_ops", json!([]))).contains("does not allow"));
    assert!(jwk_err(with("key_ops", json!("verify"))).contains("not an array"));
    assert!(jwk_err(with("kid", json!(5))).contains("\"kid\" is not a string"));
}

#[test]
fn jwk_rejections() {
    assert_eq!(
        jwk_err(json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"})),
        "unsupported curve \"P-521\""
    );
    assert_eq!(
        jwk_err(json!({"kty": "OKP", "crv": "Ed448", "x": "AA"})),
        "unsupported curve \"Ed448\""
    );
    assert_eq!(
        jwk_err(json!({"kty": "OKP", "crv": "X25519", "x": "AA"})),
        "unsupported curve \"X25519\""
    );
    assert_eq!(
        jwk_err(json!({"kty": "DSA"})),
        "unsupported key type \"DSA\""
    );
    assert_eq!(jwk_err(json!({"kty": 1})), "\"kty\" is not a string");
    assert_eq!(
        jwk_err(json!({"kty": "oct", "k": b64([1u8; 31])})),
        "secret is 31 bytes, at least 32 are required"
    );
    assert!(jwk_err(json!({"kty": "oct", "k": "a+b/"})).contains("not valid base64url"));
    assert!(jwk_err(json!({"kty": "EC", "crv": "P-256", "x": EC_X})).contains("missing \"y\""));
    assert!(
        jwk_err(json!({"kty": "EC", "crv": "P-256", "x": EC_X, "y": "AAAA"})).contains("32 bytes")
    );
    assert!(jwk_err(json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"})).contains("32 bytes"));
    let small = json!({"kty": "RSA", "n": b64([0xffu8; 128]), "e": "AQAB"});
    assert_eq!(
        jwk_err(small),
        "RSA key is 1024 bits, at least 2048 are required"
    );
    let bad_e = json!({"kty": "RSA", "n": b64([0xffu8; 256]), "e": "AQ"});
    assert_eq!(jwk_err(bad_e), "unsupported RSA public exponent");
    let ok = json!({"kty": "RSA", "n": b64([0xffu8; 256]), "e": "AQAB"});
    assert!(parse_key_file(ok.to_string().as_bytes()).is_ok());
    // private key material
    let private = vector_json("rfc/rfc7515_appendix_a.json")["vectors"][1]["key"].clone();
    assert_eq!(jwk_err(private), "JWK contains private key material");
    let ec_private = json!({"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "d": EC_X});
    assert!(jwk_err(ec_private).contains("private key material"));
}

#[test]
fn jwks_skips_unusable_keys() {
    let jwks = json!({"keys": [
        {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA", "kid": "big"},
        {"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "kid": "good", "use": "sig"},
        {"kty": "RSA", "n": "AA", "e": "AQAB", "use": "enc"},
        "not an object",
        {"kty": "oct", "k": b64([1u8; 40]), "kid": "h", "alg": "none"},
    ]});
    let loaded = parse_jwks(jwks.to_string().as_bytes()).unwrap();
    assert_eq!(loaded.keys.len(), 1);
    assert_eq!(loaded.keys[0].kid.as_deref(), Some("good"));
    assert_eq!(
        loaded.warnings,
        vec![
            "JWK 1 (kid \"big\"): unsupported curve \"P-521\"".to_string(),
            "JWK 3: \"use\" is \"enc\", not \"sig\"".to_string(),
            "JWK 4: not a JSON object".to_string(),
            "JWK 5 (kid \"h\"): algorithm \"none\" is never accepted".to_string(),
        ]
    );
    // the same document through parse_key_file
    assert_eq!(
        parse_key_file(jwks.to_string().as_bytes())
            .unwrap()
            .keys
            .len(),
        1
    );
}

#[test]
fn jwks_errors() {
    let e = |v: serde_json::Value| {
        parse_jwks(v.to_string().as_bytes())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(e(json!({"keys": []})), "JWKS has no keys");
    assert_eq!(e(json!({"keys": {}})), "JWKS \"keys\" is not an array");
    assert_eq!(e(json!({"kty": "oct"})), "not a JWKS (no \"keys\" member)");
    let none = e(json!({"keys": [{"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}]}));
    assert_eq!(
        none,
        "JWKS has no usable key; JWK 1: unsupported curve \"P-521\""
    );
    let private = e(json!({"keys": [
        {"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y},
        {"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "d": EC_X, "kid": "x"},
    ]}));
    assert_eq!(
        private,
        "JWK 2 (kid \"x\"): JWK contains private key material"
    );
    assert!(parse_jwks(b"not json")
        .unwrap_err()
        .to_string()
        .starts_with("invalid JWKS JSON"));
    // hostile kid in messages is sanitized
    let hostile = e(json!({"keys": [{"kty": "XX", "kid": "a\"\n\u{1b}b"}]}));
    assert_eq!(
        hostile,
        "JWKS has no usable key; JWK 1 (kid \"a???b\"): unsupported key type \"XX\""
    );
}

#[test]
fn secrets() {
    let k = secret_key(b"0123456789abcdef0123456789abcdef\n").unwrap();
    assert_eq!(
        (k.kind, k.algs, k.kid.clone()),
        (KeyKind::Hmac, AlgSet::HMAC, None)
    );
    assert_eq!(
        k.fingerprint(),
        secret_key(b"0123456789abcdef0123456789abcdef")
            .unwrap()
            .fingerprint()
    );
    assert_eq!(
        k.fingerprint(),
        secret_key(b"0123456789abcdef0123456789abcdef\r\n")
            .unwrap()
            .fingerprint()
    );
    // only one newline is removed
    assert_ne!(
        k.fingerprint(),
        secret_key(b"0123456789abcdef0123456789abcdef\n\n")
            .unwrap()
            .fingerprint()
    );
    assert_eq!(
        secret_key(b"0123456789abcdef0123456789abcde\n")
            .unwrap_err()
            .to_string(),
        "secret is 31 bytes, at least 32 are required"
    );
    assert!(secret_key(b"").is_err());
}

#[test]
fn key_debug_does_not_leak_material() {
    let k = secret_key(b"super-secret-super-secret-super-secret").unwrap();
    let dbg = format!("{k:?}");
    assert!(!dbg.contains("super-secret"), "{dbg}");
}

#[test]
fn keyset_identity_and_algs() {
    let a = keyset(&["rsa2048_public.pem", "ec256_public.pem"]);
    let b = keyset(&["rsa2048_public.pem", "ec256_public.pem"]);
    let c = keyset(&["rsa2048_public.pem"]);
    assert_eq!(a.id(), b.id());
    assert_ne!(a.id(), c.id());
    assert_ne!(KeySet::new(vec![]).id(), c.id());
    assert_eq!(a.algs(), AlgSet::RSA.union(AlgSet::only(Algorithm::ES256)));
    assert!(!a.is_empty() && KeySet::new(vec![]).is_empty());
    assert_eq!(a.keys().len(), 2);
}

#[test]
fn kid_strict_candidates() {
    let jwks = json!({"keys": [
        {"kty": "oct", "k": b64([1u8; 32]), "kid": "a"},
        {"kty": "oct", "k": b64([2u8; 32]), "kid": "b", "alg": "HS512"},
    ]});
    let mut keys = parse_jwks(jwks.to_string().as_bytes()).unwrap().keys;
    keys.push(secret_key(&[3u8; 32]).unwrap()); // no kid
    let set = KeySet::new(keys);
    let kids = |alg, kid| -> Vec<Option<String>> {
        set.candidates(alg, kid).map(|k| k.kid.clone()).collect()
    };
    assert_eq!(kids(Algorithm::HS256, Some("a")), vec![Some("a".into())]);
    assert_eq!(kids(Algorithm::HS256, Some("zzz")), vec![None]);
    assert_eq!(kids(Algorithm::HS256, None), vec![Some("a".into()), None]);
    assert_eq!(
        kids(Algorithm::HS512, None),
        vec![Some("a".into()), Some("b".into()), None]
    );
    // kid "b" exists but only for HS512: no fallback to the kid-less key
    assert!(kids(Algorithm::HS256, Some("b")).is_empty());
    assert!(kids(Algorithm::RS256, None).is_empty());
    assert!(set.has_kid("a") && !set.has_kid("zzz"));
}
