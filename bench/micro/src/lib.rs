//! The aws-lc-rs floor of a JWT signature check: the bare primitive with a key parsed once.
//! Shared by benches/verify.rs (criterion) and the `jwt-floor` binary that bench/run.sh runs
//! pinned like the nginx worker.

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self as sig, ParsedPublicKey};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// A verifier for one algorithm with its key already parsed.
pub enum Floor {
    Hmac(Box<hmac::Key>),
    Public(ParsedPublicKey),
}

impl Floor {
    /// `alg` is a JOSE name (HS256, RS256, PS256, ES256, ES384, EdDSA); `key` the secret
    /// (trailing newlines dropped) or a PEM public key (SPKI).
    pub fn new(alg: &str, key: &[u8]) -> Result<Floor, String> {
        if alg == "HS256" {
            let secret = key.trim_ascii_end();
            return Ok(Floor::Hmac(Box::new(hmac::Key::new(
                hmac::HMAC_SHA256,
                secret,
            ))));
        }
        let algorithm: &'static dyn sig::VerificationAlgorithm = match alg {
            "RS256" => &sig::RSA_PKCS1_2048_8192_SHA256,
            "PS256" => &sig::RSA_PSS_2048_8192_SHA256,
            "ES256" => &sig::ECDSA_P256_SHA256_FIXED,
            "ES384" => &sig::ECDSA_P384_SHA384_FIXED,
            "EdDSA" => &sig::ED25519,
            _ => return Err(format!("no floor for {alg}")),
        };
        ParsedPublicKey::new(algorithm, spki_der(key)?)
            .map(Floor::Public)
            .map_err(|e| format!("{alg} key: {e}"))
    }

    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Floor::Hmac(k) => hmac::verify(k, message, signature).is_ok(),
            Floor::Public(k) => k.verify_sig(message, signature).is_ok(),
        }
    }
}

/// The DER of a PEM public key.
pub fn spki_der(pem: &[u8]) -> Result<Vec<u8>, String> {
    let pem = std::str::from_utf8(pem).map_err(|e| e.to_string())?;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(b64).map_err(|e| e.to_string())
}
