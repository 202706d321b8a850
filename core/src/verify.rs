//! Decoding a token and verifying its signature, as two steps: [`decode`] does every check of
//! the token's shape without any signature work, so that the checks that need no signature
//! ([`crate::Policy`]) can refuse a token first; [`Unverified::check_signature`] then does the
//! key selection and the signature.

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

/// A compact JWT decoded, its signature not yet checked: everything a check that needs no
/// signature looks at (README "Order of the checks"). Nothing in it may be trusted before
/// [`Unverified::check_signature`] succeeded.
#[derive(Clone, Debug)]
pub struct Unverified<'t> {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    signing_input: &'t [u8],
    signature: Vec<u8>,
}

/// The part of a token every caller decodes the same way: size, syntax, header, `alg` (within
/// `allowed`), `crit`, `kid`.
struct Head<'t> {
    parts: token::Parts<'t>,
    header: Map<String, Value>,
    alg: Algorithm,
    kid: Option<String>,
    signature: Vec<u8>,
}

/// Decodes `token` and runs the checks of its shape, in order: length (`too_large`); three
/// base64url segments, a header that is a JSON object within the caps ([`crate::token`]
/// "Limits"), a decodable signature (`malformed`, `too_large`); `alg` present, known and in
/// `allowed` (`alg_not_allowed`); no `crit` (`crit`); `kid`, if any, a string (`malformed`);
/// the claims set, a JSON object within the caps (`too_large`, `malformed`). No signature
/// work. `jwk`, `jku`, `x5u` and `x5c` headers are never used.
pub fn decode(token: &[u8], allowed: AlgSet) -> Result<Unverified<'_>, Failure> {
    let head = decode_head(token, allowed, true)?;
    let fail = |reason| Failure {
        reason,
        alg: Some(head.alg),
        kid: head.kid.as_deref().map(log_kid),
    };
    let payload =
        token::b64url_decode(head.parts.payload).ok_or_else(|| fail(Reason::Malformed))?;
    let claims = token::parse_json_object(&payload, MAX_CLAIMS).map_err(fail)?;
    Ok(Unverified {
        alg: head.alg,
        kid: head.kid,
        header: head.header,
        claims,
        signing_input: head.parts.signing_input,
        signature: head.signature,
    })
}

fn decode_head(token: &[u8], allowed: AlgSet, claims_set: bool) -> Result<Head<'_>, Failure> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Failure::new(Reason::TooLarge));
    }
    let parts = token::split(token).ok_or(Failure::new(Reason::Malformed))?;
    // A JWT needs a claims set: refuse an empty payload before anything else.
    if parts.header.is_empty() || (claims_set && parts.payload.is_empty()) {
        return Err(Failure::new(Reason::Malformed));
    }
    let header = token::decode_header(parts.header).map_err(Failure::new)?;
    let signature = token::b64url_decode(parts.signature).ok_or(Failure::new(Reason::Malformed))?;
    // For the log line of a rejection: the token's kid as sent (sanitized).
    let logged_kid = match header.get("kid") {
        Some(Value::String(k)) => Some(log_kid(k)),
        _ => None,
    };
    let alg = match header.get("alg") {
        Some(Value::String(name)) => parse_alg_name(name).ok(),
        _ => None,
    };
    let alg = match alg {
        Some(alg) if allowed.contains(alg) => alg,
        _ => {
            return Err(Failure {
                reason: Reason::AlgNotAllowed,
                alg,
                kid: logged_kid,
            });
        }
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
        Some(_) => {
            return Err(Failure {
                reason: Reason::Malformed,
                alg: Some(alg),
                kid: None,
            })
        }
    };
    Ok(Head {
        parts,
        header,
        alg,
        kid,
        signature,
    })
}

impl Unverified<'_> {
    /// The signature, with `keys` under `allowed`, in order: a key of the token's algorithm
    /// type (`alg_not_allowed`); the key selection of the `kid` (`unknown_kid`, `no_key`);
    /// the signature itself (`bad_signature`).
    pub fn check_signature(&self, keys: &KeySet, allowed: AlgSet) -> Result<(), Failure> {
        check_signature(
            self.alg,
            self.kid.as_deref(),
            self.signing_input,
            &self.signature,
            keys,
            allowed,
        )
    }

    /// The token as verified. Only after [`Unverified::check_signature`] succeeded.
    pub fn into_verified(self) -> Verified {
        Verified {
            alg: self.alg,
            kid: self.kid,
            header: self.header,
            claims: self.claims,
        }
    }

    /// A rejection of this token for `reason`, with its `alg` and `kid` for the log line.
    pub fn failure(&self, reason: Reason) -> Failure {
        Failure {
            reason,
            alg: Some(self.alg),
            kid: self.kid.as_deref().map(log_kid),
        }
    }
}

fn check_signature(
    alg: Algorithm,
    kid: Option<&str>,
    signing_input: &[u8],
    signature: &[u8],
    keys: &KeySet,
    allowed: AlgSet,
) -> Result<(), Failure> {
    let fail = |reason| Failure {
        reason,
        alg: Some(alg),
        kid: kid.map(log_kid),
    };
    if !allowed.intersection(keys.algs()).contains(alg) {
        return Err(fail(Reason::AlgNotAllowed));
    }
    let mut candidates = keys.candidates(alg, kid).peekable();
    if candidates.peek().is_none() {
        return Err(fail(match kid {
            Some(k) if !keys.has_kid(k) => Reason::UnknownKid,
            _ => Reason::NoKey,
        }));
    }
    if signature.is_empty() || !candidates.any(|key| key.verify(alg, signing_input, signature)) {
        return Err(fail(Reason::BadSignature));
    }
    Ok(())
}

/// Verifies a compact JWT's signature with `keys` under `allowed`: [`decode`], then
/// [`Unverified::check_signature`]. No claim is checked here (see [`crate::Policy`]).
pub fn verify_signature(token: &[u8], keys: &KeySet, allowed: AlgSet) -> Result<Verified, Failure> {
    let t = decode(token, allowed)?;
    t.check_signature(keys, allowed)?;
    Ok(t.into_verified())
}

/// The `kid` header of a token, if it has a decodable header (within the caps) with a string
/// `kid`.
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

/// A plain JWS (the payload need not be JSON, e.g. test vectors): the checks of [`decode`] but
/// the claims set, then the signature. An empty payload is allowed here.
pub fn verify_jws(token: &[u8], keys: &KeySet, allowed: AlgSet) -> Result<VerifiedJws, Failure> {
    let head = decode_head(token, allowed, false)?;
    let fail = |reason| Failure {
        reason,
        alg: Some(head.alg),
        kid: head.kid.as_deref().map(log_kid),
    };
    let payload =
        token::b64url_decode(head.parts.payload).ok_or_else(|| fail(Reason::Malformed))?;
    check_signature(
        head.alg,
        head.kid.as_deref(),
        head.parts.signing_input,
        &head.signature,
        keys,
        allowed,
    )?;
    Ok(VerifiedJws {
        alg: head.alg,
        kid: head.kid,
        header: head.header,
        payload,
    })
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
