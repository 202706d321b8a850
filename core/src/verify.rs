//! Signature verification, in two stages so that a cache of verified tokens can sit between
//! [`verify_signature`] and the claim checks.

use crate::alg::{parse_alg_name, AlgSet};
use crate::keys::KeySet;
use crate::reason::Reason;
use crate::token::{self, MAX_CLAIMS, MAX_TOKEN_LEN};
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

/// A token whose signature verified with one of the configured keys.
#[derive(Clone, Debug)]
pub struct Verified {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}

impl Verified {
    /// The claims set as compact JSON (`$jwt_payload`), free of control characters (DEL
    /// included: [`crate::render::compact_json`]).
    pub fn claims_json(&self) -> String {
        crate::render::escape_del(serde_json::to_string(&self.claims).unwrap_or_default())
    }
}

/// Why verification failed. `alg` and `kid` are for logging only; `kid` is truncated and
/// sanitized (printable ASCII) so it can be logged as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub reason: Reason,
    pub alg: Option<Algorithm>,
    pub kid: Option<String>,
}

impl Failure {
    fn new(reason: Reason) -> Failure {
        Failure {
            reason,
            alg: None,
            kid: None,
        }
    }
}

/// Longest `kid` kept in a [`Failure`].
const LOG_KID_MAX: usize = 64;

/// A JWS whose signature verified, payload still raw (it need not be JSON).
#[derive(Clone, Debug)]
pub struct VerifiedJws {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub header: Map<String, Value>,
    pub payload: Vec<u8>,
}

/// Verifies a compact JWT: size, syntax, header, algorithm, key selection, the structural
/// caps of the claims set ([`crate::token`] "Limits": nesting depth, claim count), signature,
/// and only then parses the claims set (a JSON object). Every cap is checked before the
/// signature and before serde sees the bytes; a token over one is `too_large`. `jwk`, `jku`,
/// `x5u` and `x5c` headers are never used.
pub fn verify_signature(token: &[u8], keys: &KeySet, allowed: AlgSet) -> Result<Verified, Failure> {
    let jws = verify_parts(token, keys, allowed, true)?;
    // The caps were checked before the signature: a bounded scan, not a parse.
    let claims = match serde_json::from_slice::<Value>(&jws.payload) {
        Ok(Value::Object(map)) => map,
        _ => {
            return Err(Failure {
                reason: Reason::Malformed,
                alg: Some(jws.alg),
                kid: jws.kid.as_deref().map(log_kid),
            })
        }
    };
    Ok(Verified {
        alg: jws.alg,
        kid: jws.kid,
        header: jws.header,
        claims,
    })
}

/// The `kid` header of a token, if it has a decodable header (within the caps) with a string
/// `kid` (used to tell whether a rejected token names a key the gate does not have yet).
pub fn token_kid(token: &[u8]) -> Option<String> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let parts = token::split(token)?;
    match token::decode_header(parts.header).ok()?.get("kid") {
        Some(Value::String(k)) => Some(k.clone()),
        _ => None,
    }
}

/// The JWS part of [`verify_signature`]: everything but parsing the payload as JSON. An empty
/// or non-JSON payload is allowed here (plain JWS, e.g. test vectors), and the claim caps do
/// not apply to it; the token length and header caps do.
pub fn verify_jws(token: &[u8], keys: &KeySet, allowed: AlgSet) -> Result<VerifiedJws, Failure> {
    verify_parts(token, keys, allowed, false)
}

/// Shared by [`verify_signature`] (`claims_set`: the payload must be a non-empty claims set
/// within the caps) and [`verify_jws`].
fn verify_parts(
    token: &[u8],
    keys: &KeySet,
    allowed: AlgSet,
    claims_set: bool,
) -> Result<VerifiedJws, Failure> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Failure::new(Reason::TooLarge));
    }
    let parts = token::split(token).ok_or(Failure::new(Reason::Malformed))?;
    // A JWT needs a claims set: refuse an empty payload before any crypto.
    if parts.header.is_empty() || (claims_set && parts.payload.is_empty()) {
        return Err(Failure::new(Reason::Malformed));
    }
    let header = token::decode_header(parts.header).map_err(Failure::new)?;
    let signature = token::b64url_decode(parts.signature).ok_or(Failure::new(Reason::Malformed))?;

    let alg = match header.get("alg") {
        Some(Value::String(name)) => parse_alg_name(name).ok(),
        _ => None,
    };
    // For the log line of a rejection: the token's kid as sent (sanitized).
    let logged_kid = match header.get("kid") {
        Some(Value::String(k)) => Some(log_kid(k)),
        _ => None,
    };
    let alg = match alg {
        Some(alg) if allowed.intersection(keys.algs()).contains(alg) => alg,
        _ => {
            return Err(Failure {
                reason: Reason::AlgNotAllowed,
                alg,
                kid: logged_kid,
            });
        }
    };
    let fail = |reason, kid: Option<&str>| Failure {
        reason,
        alg: Some(alg),
        kid: kid.map(log_kid),
    };
    if header.contains_key("crit") {
        return Err(Failure {
            reason: Reason::Crit,
            alg: Some(alg),
            kid: logged_kid,
        });
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(fail(Reason::Malformed, None)),
    };
    let kid_ref = kid.as_deref();

    {
        let mut candidates = keys.candidates(alg, kid_ref).peekable();
        if candidates.peek().is_none() {
            let reason = match kid_ref {
                Some(k) if !keys.has_kid(k) => Reason::UnknownKid,
                _ => Reason::NoKey,
            };
            return Err(fail(reason, kid_ref));
        }
        // The payload is decoded (strict base64url) and, for a claims set, scanned for the
        // caps here, before the signature: both are linear and cheap, the signature is not. A
        // payload that does not decode is reported after the signature check, as before.
        let payload = token::b64url_decode(parts.payload);
        if claims_set
            && payload
                .as_deref()
                .is_some_and(|p| token::check_json_limits(p, MAX_CLAIMS).is_err())
        {
            return Err(fail(Reason::TooLarge, kid_ref));
        }
        if signature.is_empty()
            || !candidates.any(|key| key.verify(alg, parts.signing_input, &signature))
        {
            return Err(fail(Reason::BadSignature, kid_ref));
        }
        let payload = payload.ok_or(fail(Reason::Malformed, kid_ref))?;
        Ok(VerifiedJws {
            alg,
            kid: kid_ref.map(str::to_string),
            header,
            payload,
        })
    }
}

/// `kid` made safe for a log line: at most 64 characters, printable ASCII, others as `?`.
pub fn log_kid(kid: &str) -> String {
    crate::sanitize(kid, LOG_KID_MAX)
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
