// Shared by benches/verify.rs here and in rustcrypto/: key fixtures, token minting and the
// jsonwebtoken benchmarks, written once so both backends run exactly the same code.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use std::path::PathBuf;

/// (name, algorithm, private key / secret file, public key file) under t/keys.
pub const ALGS: [(&str, Algorithm, &str, &str); 6] = [
    ("HS256", Algorithm::HS256, "hs.secret", "hs.secret"),
    ("RS256", Algorithm::RS256, "rsa.key", "rsa.pub.pem"),
    ("PS256", Algorithm::PS256, "rsa.key", "rsa.pub.pem"),
    ("ES256", Algorithm::ES256, "ec256.key", "ec256.pub.pem"),
    ("ES384", Algorithm::ES384, "ec384.key", "ec384.pub.pem"),
    ("EdDSA", Algorithm::EdDSA, "ed25519.key", "ed25519.pub.pem"),
];

/// t/keys of the repository (override with AUTH_JWT_KEYS).
pub fn keys_dir() -> PathBuf {
    if let Ok(d) = std::env::var("AUTH_JWT_KEYS") {
        return d.into();
    }
    let mut d = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !d.join("t/keys/README").exists() {
        assert!(d.pop(), "t/keys not found; set AUTH_JWT_KEYS");
    }
    d.join("t/keys")
}

pub fn read(name: &str) -> Vec<u8> {
    let p = keys_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The HMAC secret without its trailing newline.
pub fn secret() -> Vec<u8> {
    let mut s = read("hs.secret");
    while s.last() == Some(&b'\n') || s.last() == Some(&b'\r') {
        s.pop();
    }
    s
}

/// A realistic token (typical IdP claim set, ~300 bytes of payload), valid for an hour.
pub fn mint(alg: Algorithm, private: &str) -> String {
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            EncodingKey::from_secret(&secret())
        }
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&read(private)).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&read(private)).unwrap(),
        _ => EncodingKey::from_rsa_pem(&read(private)).unwrap(),
    };
    let now = jsonwebtoken::get_current_timestamp();
    let claims = serde_json::json!({
        "iss": "https://issuer.example.com/realms/bench",
        "sub": "8b0c3d0e-5f6a-4b1c-9d2e-3f4a5b6c7d8e",
        "aud": "bench-api",
        "exp": now + 3600,
        "iat": now,
        "nbf": now,
        "jti": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "email": "alice@example.com",
        "name": "Alice Example",
        "scope": "openid profile email api:read api:write",
        "roles": ["user", "editor"],
    });
    jsonwebtoken::encode(&Header::new(alg), &claims, &key).unwrap()
}

pub fn decoding_key(alg: Algorithm, public: &str) -> DecodingKey {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            DecodingKey::from_secret(&secret())
        }
        Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(&read(public)).unwrap(),
        Algorithm::EdDSA => DecodingKey::from_ed_pem(&read(public)).unwrap(),
        _ => DecodingKey::from_rsa_pem(&read(public)).unwrap(),
    }
}

pub fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.set_audience(&["bench-api"]);
    v
}

type Claims = serde_json::Map<String, serde_json::Value>;

/// `jsonwebtoken::decode`: header, signature, claims JSON and exp/nbf/aud validation.
pub fn bench_decode<M: criterion::measurement::Measurement>(
    g: &mut criterion::BenchmarkGroup<'_, M>,
    id: &str,
    alg: Algorithm,
    token: &str,
    key: &DecodingKey,
) {
    let v = validation(alg);
    assert!(
        jsonwebtoken::decode::<Claims>(token, key, &v).is_ok(),
        "{id}: token does not verify"
    );
    g.bench_function(id, |b| {
        b.iter(|| jsonwebtoken::decode::<Claims>(std::hint::black_box(token), key, &v).is_ok())
    });
}

/// `jsonwebtoken::crypto::verify`: the signature only (base64 decode of the signature, key
/// set-up and the primitive), which is what differs between the two backends.
pub fn bench_crypto_verify<M: criterion::measurement::Measurement>(
    g: &mut criterion::BenchmarkGroup<'_, M>,
    id: &str,
    alg: Algorithm,
    token: &str,
    key: &DecodingKey,
) {
    let (message, signature) = token.rsplit_once('.').unwrap();
    assert!(jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, alg).unwrap());
    g.bench_function(id, |b| {
        b.iter(|| {
            jsonwebtoken::crypto::verify(
                std::hint::black_box(signature),
                message.as_bytes(),
                key,
                alg,
            )
            .unwrap_or(false)
        })
    });
}

pub fn criterion_config() -> criterion::Criterion {
    criterion::Criterion::default()
        .sample_size(50)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .configure_from_args()
}
