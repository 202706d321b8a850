//! Verification keys: PEM (SPKI, PKCS#1, X.509), JWK, JWKS and HMAC secret files.
//!
//! A key's type binds its algorithms (RSA → RS*/PS*, P-256 → ES256, P-384 → ES384,
//! Ed25519 → EdDSA, secrets → HS*). Key files must hold public keys only: a private key (PEM
//! `PRIVATE KEY` block, or a JWK with `d`, `p`, ...) is refused, so private keys are never
//! deployed to the gate by mistake. Error messages never contain key bytes.

use crate::alg::{alg_name, parse_alg_name, AlgSet};
use crate::sanitize;
use aws_lc_rs::{digest, hmac, signature};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use der::{Decode, Encode};
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
use std::sync::Arc;

/// Shortest HMAC secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;
/// RSA modulus size limits, in bits (the upper one is the verifier's).
pub const MIN_RSA_BITS: usize = 2048;
pub const MAX_RSA_BITS: usize = 8192;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Rsa { bits: usize },
    EcP256,
    EcP384,
    Ed25519,
    Hmac,
}

impl KeyKind {
    /// Every algorithm a key of this kind may verify.
    pub fn algs(self) -> AlgSet {
        match self {
            KeyKind::Rsa { .. } => AlgSet::RSA,
            KeyKind::EcP256 => AlgSet::only(Algorithm::ES256),
            KeyKind::EcP384 => AlgSet::only(Algorithm::ES384),
            KeyKind::Ed25519 => AlgSet::only(Algorithm::EdDSA),
            KeyKind::Hmac => AlgSet::HMAC,
        }
    }
}

/// A key prepared for one algorithm: parsed once, at load time, so that verifying a token
/// costs only the signature check (jsonwebtoken's `crypto::verify` re-parses the key and copies
/// it and the signature on every call).
#[derive(Clone)]
enum Verifier {
    Public(signature::ParsedPublicKey),
    Hmac(Box<hmac::Key>),
}

/// One verification key.
#[derive(Clone)]
pub struct Key {
    pub kid: Option<String>,
    pub algs: AlgSet,
    pub kind: KeyKind,
    verifiers: Arc<[(Algorithm, Verifier)]>,
    fingerprint: u128,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("algs", &self.algs.iter().map(alg_name).collect::<Vec<_>>())
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Raw public material, before it becomes a [`DecodingKey`].
enum Material {
    /// Big-endian modulus (no leading zero) and exponent.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed SEC1 point `04 || x || y`.
    Ec(Vec<u8>),
    Ed25519(Vec<u8>),
    Secret(Vec<u8>),
}

impl Key {
    fn new(kind: KeyKind, algs: AlgSet, kid: Option<String>, material: Material) -> Key {
        // A collision-resistant fingerprint: the verified-token cache trusts a verdict only
        // under the key set that produced it, and one identity provider's keys must never
        // pass for another's (docs/multiple-issuers.md).
        let mut h = digest::Context::new(&digest::SHA256);
        let field = |h: &mut digest::Context, tag: u8, bytes: &[u8]| {
            h.update(&[tag]);
            h.update(&(bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        let kind_bytes = match kind {
            KeyKind::Rsa { bits } => [0u8]
                .into_iter()
                .chain((bits as u64).to_le_bytes())
                .collect(),
            KeyKind::EcP256 => vec![1u8],
            KeyKind::EcP384 => vec![2u8],
            KeyKind::Ed25519 => vec![3u8],
            KeyKind::Hmac => vec![4u8],
        };
        field(&mut h, b'k', &kind_bytes);
        field(&mut h, b'a', &algs.bits().to_le_bytes());
        match &kid {
            Some(k) => field(&mut h, b'i', k.as_bytes()),
            None => field(&mut h, b'-', &[]),
        }
        let public_bytes = match &material {
            Material::Rsa { n, e } => {
                field(&mut h, b'n', n);
                field(&mut h, b'e', e);
                rsa_public_key_der(n, e)
            }
            Material::Ec(point) => {
                field(&mut h, b'p', point);
                Some(point.clone())
            }
            Material::Ed25519(x) => {
                field(&mut h, b'x', x);
                Some(x.clone())
            }
            Material::Secret(s) => {
                field(&mut h, b's', s);
                None
            }
        };
        let fingerprint = fingerprint_of(h);
        let mut verifiers = Vec::new();
        for alg in algs.intersection(kind.algs()).iter() {
            let v = match (&material, verification_alg(alg), &public_bytes) {
                (Material::Secret(s), _, _) => {
                    hmac_alg(alg).map(|a| Verifier::Hmac(Box::new(hmac::Key::new(a, s))))
                }
                (_, Some(a), Some(bytes)) => signature::ParsedPublicKey::new(a, bytes)
                    .ok()
                    .map(Verifier::Public),
                _ => None,
            };
            // A key the crypto library refuses for an algorithm simply never verifies it.
            if let Some(v) = v {
                verifiers.push((alg, v));
            }
        }
        Key {
            kid,
            algs,
            kind,
            verifiers: verifiers.into(),
            fingerprint,
        }
    }

    /// Verifies `signature` (raw bytes) over `signing_input` with `alg`. False — never a panic —
    /// for a wrong-length or garbage signature, or an `alg` this key may not verify.
    pub fn verify(&self, alg: Algorithm, signing_input: &[u8], signature: &[u8]) -> bool {
        if !self.algs.contains(alg) || !self.kind.algs().contains(alg) {
            return false;
        }
        #[cfg(test)]
        test_hook::SIGNATURE_COMPUTATIONS.with(|n| n.set(n.get() + 1));
        match self.verifiers.iter().find(|(a, _)| *a == alg) {
            Some((_, Verifier::Public(k))) => k.verify_sig(signing_input, signature).is_ok(),
            Some((_, Verifier::Hmac(k))) => hmac::verify(k, signing_input, signature).is_ok(),
            None => false,
        }
    }

    /// A fingerprint of the key (kind, algorithms, kid and key bytes): 128 bits of SHA-256.
    pub fn fingerprint(&self) -> u128 {
        self.fingerprint
    }
}

/// Test hook: counts the signature computations of this thread (rejection-order tests).
#[cfg(test)]
pub(crate) mod test_hook {
    thread_local! {
        pub(crate) static SIGNATURE_COMPUTATIONS: std::cell::Cell<u64> =
            const { std::cell::Cell::new(0) };
    }

    /// The signature computations `f` caused, with its result.
    pub(crate) fn counting<T>(f: impl FnOnce() -> T) -> (T, u64) {
        let before = SIGNATURE_COMPUTATIONS.with(std::cell::Cell::get);
        let out = f();
        (
            out,
            SIGNATURE_COMPUTATIONS.with(std::cell::Cell::get) - before,
        )
    }
}

/// Keys read from one document, plus warnings about entries that were skipped.
#[derive(Debug, Default)]
pub struct Loaded {
    pub keys: Vec<Key>,
    pub warnings: Vec<String>,
}

/// Why a key document cannot be used. The message is short and never contains key bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyError(String);

impl KeyError {
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

impl From<String> for KeyError {
    fn from(s: String) -> Self {
        KeyError(s)
    }
}

/// A problem with one key: unusable (skipped inside a JWKS) or fatal for the whole document.
enum Problem {
    Unusable(String),
    Fatal(String),
}

impl From<String> for Problem {
    fn from(s: String) -> Self {
        Problem::Unusable(s)
    }
}

impl From<&str> for Problem {
    fn from(s: &str) -> Self {
        Problem::Unusable(s.to_string())
    }
}

impl Problem {
    fn message(self) -> String {
        match self {
            Problem::Unusable(m) | Problem::Fatal(m) => m,
        }
    }
}

const PRIVATE_MATERIAL: &str = "contains private key material";

/// Reads a key file: PEM (`PUBLIC KEY`, `RSA PUBLIC KEY`, `CERTIFICATE`; several blocks give
/// several keys), a JWK, or a JWKS, detected from the content.
pub fn parse_key_file(bytes: &[u8]) -> Result<Loaded, KeyError> {
    let text = trim_start(bytes);
    if text.first() == Some(&b'{') {
        let value: Value = serde_json::from_slice(text)
            .map_err(|e| KeyError(format!("invalid JSON at line {}", e.line())))?;
        let Value::Object(obj) = value else {
            return Err(KeyError("not a PEM, JWK or JWKS document".into()));
        };
        if obj.contains_key("keys") {
            return jwks_from_object(&obj);
        }
        if obj.contains_key("kty") {
            let key = jwk_to_key(&obj).map_err(|p| KeyError(p.message()))?;
            return Ok(Loaded {
                keys: vec![key],
                warnings: Vec::new(),
            });
        }
        return Err(KeyError(
            "JSON document is neither a JWK (no \"kty\") nor a JWKS".into(),
        ));
    }
    if contains(text, b"-----BEGIN ") {
        return parse_pem(text);
    }
    Err(KeyError("not a PEM, JWK or JWKS document".into()))
}

/// Reads a JWKS (`{"keys": [...]}`): unusable keys are skipped with a warning; a private key
/// or a set without any usable key is an error.
pub fn parse_jwks(bytes: &[u8]) -> Result<Loaded, KeyError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| KeyError(format!("invalid JWKS JSON at line {}", e.line())))?;
    match value {
        Value::Object(obj) if obj.contains_key("keys") => jwks_from_object(&obj),
        _ => Err(KeyError("not a JWKS (no \"keys\" member)".into())),
    }
}

/// An HMAC secret file: its bytes with one trailing `\n` or `\r\n` removed.
pub fn secret_key(bytes: &[u8]) -> Result<Key, KeyError> {
    let secret = bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(bytes);
    check_secret_len(secret.len())?;
    Ok(Key::new(
        KeyKind::Hmac,
        AlgSet::HMAC,
        None,
        Material::Secret(secret.to_vec()),
    ))
}

fn check_secret_len(len: usize) -> Result<(), String> {
    if len < MIN_SECRET_LEN {
        return Err(format!(
            "secret is {len} bytes, at least {MIN_SECRET_LEN} are required"
        ));
    }
    Ok(())
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// JWK / JWKS

fn jwks_from_object(obj: &Map<String, Value>) -> Result<Loaded, KeyError> {
    let Some(Value::Array(entries)) = obj.get("keys") else {
        return Err(KeyError("JWKS \"keys\" is not an array".into()));
    };
    if entries.is_empty() {
        return Err(KeyError("JWKS has no keys".into()));
    }
    let mut loaded = Loaded::default();
    for (i, entry) in entries.iter().enumerate() {
        let label = jwk_label(i, entry);
        let result = match entry {
            Value::Object(jwk) => jwk_to_key(jwk),
            _ => Err(Problem::Unusable("not a JSON object".into())),
        };
        match result {
            Ok(key) => loaded.keys.push(key),
            Err(Problem::Fatal(m)) => return Err(KeyError(format!("{label}: {m}"))),
            Err(Problem::Unusable(m)) => loaded.warnings.push(format!("{label}: {m}")),
        }
    }
    if loaded.keys.is_empty() {
        let mut msg = "JWKS has no usable key".to_string();
        for w in loaded.warnings.iter().take(4) {
            msg.push_str("; ");
            msg.push_str(w);
        }
        return Err(KeyError(msg));
    }
    Ok(loaded)
}

/// `JWK 2` or `JWK 2 (kid "abc")`, 1-based.
fn jwk_label(i: usize, entry: &Value) -> String {
    match entry.get("kid") {
        Some(Value::String(kid)) => format!("JWK {} (kid \"{}\")", i + 1, sanitize(kid, 64)),
        _ => format!("JWK {}", i + 1),
    }
}

fn jwk_to_key(jwk: &Map<String, Value>) -> Result<Key, Problem> {
    let kty = match jwk.get("kty") {
        Some(Value::String(k)) => k.as_str(),
        Some(_) => return Err("\"kty\" is not a string".into()),
        None => return Err("missing \"kty\"".into()),
    };
    if kty != "oct" {
        for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            if jwk.contains_key(member) {
                return Err(Problem::Fatal(format!("JWK {PRIVATE_MATERIAL}")));
            }
        }
    }
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err("\"kid\" is not a string".into()),
    };
    match jwk.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(Value::String(u)) => {
            return Err(format!("\"use\" is \"{}\", not \"sig\"", sanitize(u, 32)).into())
        }
        Some(_) => return Err("\"use\" is not a string".into()),
    }
    match jwk.get("key_ops") {
        None => {}
        Some(Value::Array(ops)) => {
            if ops.iter().any(|o| !o.is_string()) {
                return Err("\"key_ops\" is not an array of strings".into());
            }
            if !ops.iter().any(|o| o.as_str() == Some("verify")) {
                return Err("\"key_ops\" does not allow \"verify\"".into());
            }
        }
        Some(_) => return Err("\"key_ops\" is not an array".into()),
    }

    let (kind, material) = match kty {
        "RSA" => {
            let n = b64_member(jwk, "n")?;
            let e = b64_member(jwk, "e")?;
            rsa_material(&n, &e)?
        }
        "EC" => {
            let crv = str_member(jwk, "crv")?;
            let (kind, len) = match crv {
                "P-256" => (KeyKind::EcP256, 32),
                "P-384" => (KeyKind::EcP384, 48),
                other => {
                    return Err(format!("unsupported curve \"{}\"", sanitize(other, 32)).into())
                }
            };
            let x = b64_member(jwk, "x")?;
            let y = b64_member(jwk, "y")?;
            if x.len() != len || y.len() != len {
                return Err(format!("EC coordinates for {crv} must be {len} bytes").into());
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (kind, Material::Ec(point))
        }
        "OKP" => {
            let crv = str_member(jwk, "crv")?;
            if crv != "Ed25519" {
                return Err(format!("unsupported curve \"{}\"", sanitize(crv, 32)).into());
            }
            let x = b64_member(jwk, "x")?;
            if x.len() != 32 {
                return Err("Ed25519 key must be 32 bytes".into());
            }
            (KeyKind::Ed25519, Material::Ed25519(x))
        }
        "oct" => {
            let k = b64_member(jwk, "k")?;
            check_secret_len(k.len())?;
            (KeyKind::Hmac, Material::Secret(k))
        }
        other => return Err(format!("unsupported key type \"{}\"", sanitize(other, 32)).into()),
    };

    let mut algs = kind.algs();
    match jwk.get("alg") {
        None => {}
        Some(Value::String(name)) => {
            let alg = parse_alg_name(name)?;
            if !algs.contains(alg) {
                return Err(format!("\"alg\" {} does not fit a {kty} key", alg_name(alg)).into());
            }
            algs = AlgSet::only(alg);
        }
        Some(_) => return Err("\"alg\" is not a string".into()),
    }
    Ok(Key::new(kind, algs, kid, material))
}

fn str_member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    match jwk.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("\"{name}\" is not a string")),
        None => Err(format!("missing \"{name}\"")),
    }
}

fn b64_member(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    let s = str_member(jwk, name)?;
    crate::token::b64url_decode(s.as_bytes())
        .or_else(|| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
        .ok_or_else(|| format!("\"{name}\" is not valid base64url"))
}

fn rsa_material(n: &[u8], e: &[u8]) -> Result<(KeyKind, Material), String> {
    let n = strip_leading_zeros(n);
    let e = strip_leading_zeros(e);
    let bits = match n.first() {
        Some(top) => n
            .len()
            .saturating_mul(8)
            .saturating_sub(top.leading_zeros() as usize),
        None => 0,
    };
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "RSA key is {bits} bits, at least {MIN_RSA_BITS} are required"
        ));
    }
    if bits > MAX_RSA_BITS {
        return Err(format!(
            "RSA key is {bits} bits, at most {MAX_RSA_BITS} are supported"
        ));
    }
    let odd = e.last().is_some_and(|b| b & 1 == 1);
    if e.len() > 4 || !odd || e == [1] {
        return Err("unsupported RSA public exponent".into());
    }
    Ok((
        KeyKind::Rsa { bits },
        Material::Rsa {
            n: n.to_vec(),
            e: e.to_vec(),
        },
    ))
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// PEM

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const OID_X25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");
const OID_X448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.111");

struct PemBlock {
    label: String,
    der: Vec<u8>,
}

/// Splits a PEM file into blocks. Text outside blocks is ignored; the base64 body must be
/// canonical standard base64 (any line width); RFC 1421 headers (encrypted keys) are refused.
fn pem_blocks(text: &[u8]) -> Result<Vec<PemBlock>, String> {
    let text = std::str::from_utf8(text).map_err(|_| "PEM file is not ASCII text".to_string())?;
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let line = line.trim();
        match current.take() {
            None => {
                if let Some(label) = line
                    .strip_prefix("-----BEGIN ")
                    .and_then(|l| l.strip_suffix("-----"))
                {
                    current = Some((label.to_string(), String::new()));
                }
            }
            Some((label, mut body)) => {
                if let Some(end) = line
                    .strip_prefix("-----END ")
                    .and_then(|l| l.strip_suffix("-----"))
                {
                    if end != label {
                        return Err(format!(
                            "PEM block \"{}\" ends with \"{}\"",
                            sanitize(&label, 40),
                            sanitize(end, 40)
                        ));
                    }
                    let der = STANDARD.decode(body.as_bytes()).map_err(|_| {
                        format!("PEM block \"{}\" is not valid base64", sanitize(&label, 40))
                    })?;
                    blocks.push(PemBlock { label, der });
                } else if line.starts_with("-----") {
                    return Err(format!(
                        "PEM block \"{}\" is not terminated",
                        sanitize(&label, 40)
                    ));
                } else if line.contains(':') {
                    if label.contains("PRIVATE KEY") {
                        return Err(PRIVATE_MATERIAL.to_string());
                    }
                    return Err("PEM headers (encrypted PEM) are not supported".to_string());
                } else {
                    body.push_str(line);
                    current = Some((label, body));
                }
            }
        }
    }
    if let Some((label, _)) = current {
        return Err(format!(
            "PEM block \"{}\" is not terminated",
            sanitize(&label, 40)
        ));
    }
    Ok(blocks)
}

fn parse_pem(text: &[u8]) -> Result<Loaded, KeyError> {
    let blocks = pem_blocks(text)?;
    if blocks.iter().any(|b| b.label.contains("PRIVATE KEY")) {
        return Err(KeyError(format!(
            "{PRIVATE_MATERIAL} (a PRIVATE KEY PEM block)"
        )));
    }
    let mut loaded = Loaded::default();
    let many = blocks.len() > 1;
    for (i, block) in blocks.iter().enumerate() {
        let key = match block.label.as_str() {
            "PUBLIC KEY" => spki_to_key(&block.der),
            "RSA PUBLIC KEY" => pkcs1_to_key(&block.der),
            "CERTIFICATE" => cert_to_key(&block.der),
            "EC PARAMETERS" => {
                loaded
                    .warnings
                    .push(format!("PEM block {}: EC PARAMETERS ignored", i + 1));
                continue;
            }
            other => Err(format!("unsupported PEM block \"{}\"", sanitize(other, 40))),
        };
        match key {
            Ok(key) => loaded.keys.push(key),
            Err(m) if many => return Err(KeyError(format!("PEM block {}: {m}", i + 1))),
            Err(m) => return Err(KeyError(m)),
        }
    }
    if loaded.keys.is_empty() {
        return Err(KeyError("no public key in PEM file".into()));
    }
    Ok(loaded)
}

fn pkcs1_to_key(der: &[u8]) -> Result<Key, String> {
    let rsa = pkcs1::RsaPublicKey::from_der(der).map_err(|_| "invalid PKCS#1 RSA public key")?;
    let (kind, material) = rsa_material(rsa.modulus.as_bytes(), rsa.public_exponent.as_bytes())?;
    Ok(Key::new(kind, kind.algs(), None, material))
}

fn cert_to_key(der: &[u8]) -> Result<Key, String> {
    let cert = x509_cert::Certificate::from_der(der).map_err(|_| "invalid X.509 certificate")?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| "invalid certificate public key")?;
    spki_to_key(&spki)
}

fn spki_to_key(der: &[u8]) -> Result<Key, String> {
    let spki =
        SubjectPublicKeyInfoRef::from_der(der).map_err(|_| "invalid SubjectPublicKeyInfo")?;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or("invalid SubjectPublicKeyInfo bit string")?;
    let oid = spki.algorithm.oid;
    if oid == OID_RSA || oid == OID_RSA_PSS {
        let rsa = pkcs1::RsaPublicKey::from_der(key).map_err(|_| "invalid RSA public key")?;
        let (kind, material) =
            rsa_material(rsa.modulus.as_bytes(), rsa.public_exponent.as_bytes())?;
        // An id-RSASSA-PSS key may only be used for PSS.
        let algs = if oid == OID_RSA_PSS {
            AlgSet::RSA_PSS
        } else {
            kind.algs()
        };
        return Ok(Key::new(kind, algs, None, material));
    }
    if oid == OID_EC {
        let curve = spki
            .algorithm
            .parameters
            .and_then(|p| ObjectIdentifier::try_from(p).ok())
            .ok_or("EC key without a named curve")?;
        let (kind, len) = match curve {
            c if c == OID_P256 => (KeyKind::EcP256, 65),
            c if c == OID_P384 => (KeyKind::EcP384, 97),
            c if c == OID_P521 => return Err("unsupported curve \"P-521\"".into()),
            c if c == OID_SECP256K1 => return Err("unsupported curve \"secp256k1\"".into()),
            c => return Err(format!("unsupported curve {c}")),
        };
        if key.len() != len || key.first() != Some(&0x04) {
            return Err("EC public key must be an uncompressed point of the curve's size".into());
        }
        return Ok(Key::new(
            kind,
            kind.algs(),
            None,
            Material::Ec(key.to_vec()),
        ));
    }
    if oid == OID_ED25519 {
        if key.len() != 32 {
            return Err("Ed25519 key must be 32 bytes".into());
        }
        return Ok(Key::new(
            KeyKind::Ed25519,
            AlgSet::only(Algorithm::EdDSA),
            None,
            Material::Ed25519(key.to_vec()),
        ));
    }
    let name = match oid {
        o if o == OID_ED448 => "Ed448".to_string(),
        o if o == OID_X25519 => "X25519".to_string(),
        o if o == OID_X448 => "X448".to_string(),
        o => o.to_string(),
    };
    Err(format!("unsupported key algorithm {name}"))
}

// ---------------------------------------------------------------------------------------------
// Key sets

/// The keys in force for a location, with kid-strict selection.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<Key>,
    algs: AlgSet,
    id: u128,
}

impl KeySet {
    pub fn new(keys: Vec<Key>) -> KeySet {
        let mut h = digest::Context::new(&digest::SHA256);
        let mut algs = AlgSet::EMPTY;
        h.update(&(keys.len() as u64).to_le_bytes());
        for key in &keys {
            h.update(&key.fingerprint.to_le_bytes());
            algs = algs.union(key.algs);
        }
        KeySet {
            keys,
            algs,
            id: fingerprint_of(h),
        }
    }

    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Union of the algorithms of every key.
    pub fn algs(&self) -> AlgSet {
        self.algs
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Identity of the set's content (kids, algorithms, key bytes, in order): 128 bits of
    /// SHA-256 over the keys' fingerprints, so two different sets never share one; for the
    /// verified-token cache.
    pub fn id(&self) -> u128 {
        self.id
    }

    /// True when some key carries exactly this `kid`.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The keys that may verify a token with `alg` and `kid`. A token with a `kid` is verified
    /// only by the keys with that kid when any exist, else only by keys without a kid; a token
    /// without kid may use every key. Always restricted to keys allowing `alg`.
    pub fn candidates<'a>(
        &'a self,
        alg: Algorithm,
        kid: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Key> + 'a {
        let kid_known = kid.is_some_and(|k| self.has_kid(k));
        self.keys.iter().filter(move |key| {
            key.algs.contains(alg)
                && match kid {
                    None => true,
                    Some(k) if kid_known => key.kid.as_deref() == Some(k),
                    Some(_) => key.kid.is_none(),
                }
        })
    }
}

/// The first 128 bits of a SHA-256.
fn fingerprint_of(h: digest::Context) -> u128 {
    let d = h.finish();
    let mut b = [0u8; 16];
    for (dst, src) in b.iter_mut().zip(d.as_ref()) {
        *dst = *src;
    }
    u128::from_le_bytes(b)
}

/// PKCS#1 `RSAPublicKey` DER for a modulus and exponent (what aws-lc parses for RSA).
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Option<Vec<u8>> {
    let key = pkcs1::RsaPublicKey {
        modulus: pkcs1::UintRef::new(n).ok()?,
        public_exponent: pkcs1::UintRef::new(e).ok()?,
    };
    key.to_der().ok()
}

/// The aws-lc verification algorithm of a JWS asymmetric algorithm.
fn verification_alg(alg: Algorithm) -> Option<&'static dyn signature::VerificationAlgorithm> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
        _ => return None,
    })
}

fn hmac_alg(alg: Algorithm) -> Option<hmac::Algorithm> {
    match alg {
        Algorithm::HS256 => Some(hmac::HMAC_SHA256),
        Algorithm::HS384 => Some(hmac::HMAC_SHA384),
        Algorithm::HS512 => Some(hmac::HMAC_SHA512),
        _ => None,
    }
}
