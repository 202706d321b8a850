//! Decoding a token and verifying its signature, as two steps: [`decode`] does every check of
//! the token's shape without any signature work, so that the checks that need no signature
//! ([`crate::Policy`]) can refuse a token first; [`Unverified::check_signature`] then does the
//! key selection and the signature.

use crate::alg::{parse_alg_name, AlgSet};
use crate::json::JsonObject;
use crate::keys::KeySet;
use crate::reason::Reason;
use crate::token::{self, MAX_CLAIMS, MAX_HEADER_MEMBERS, MAX_TOKEN_LEN};
use jsonwebtoken::Algorithm;

/// A token whose signature verified with one of the configured keys.
#[derive(Clone, Debug)]
pub struct Verified {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub header: JsonObject,
    pub claims: JsonObject,
}

impl Verified {
    /// The claims set as compact JSON (`$jwt_payload`), free of control characters (DEL
    /// included: [`crate::render::compact_json`]).
    pub fn claims_json(&self) -> String {
        crate::render::escape_del(serde_json::to_string(&self.claims.to_map()).unwrap_or_default())
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
    pub header: JsonObject,
    pub payload: Vec<u8>,
}

/// A compact JWT decoded, its signature not yet checked: everything a check that needs no
/// signature looks at (docs/verification.md, "Order of the checks"). Nothing in it may be
/// trusted before [`Unverified::check_signature`] succeeded.
#[derive(Clone, Debug)]
pub struct Unverified<'t> {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub header: JsonObject,
    pub claims: JsonObject,
    signing_input: &'t [u8],
    /// Still base64url: checked at its place in the order, decoded only when it is used.
    signature: &'t [u8],
}

/// The part of a token every caller decodes the same way: size, syntax, header, `alg` (within
/// `allowed`), `crit`, `kid`.
struct Head<'t> {
    signing_input: &'t [u8],
    header: JsonObject,
    alg: Algorithm,
    kid: Option<String>,
    payload: Vec<u8>,
    signature: &'t [u8],
}

/// Decodes `token` and runs the checks of its shape, in order: length (`too_large`); three
/// strict base64url segments, a header that is a JSON object within the caps
/// ([`crate::token`] "Limits") (`malformed`, `too_large`); `alg` present, known and in
/// `allowed` (`alg_not_allowed`); no `crit` (`crit`); `kid`, if any, a string (`malformed`);
/// the claims set, a JSON object within the caps (`too_large`, `malformed`). No signature
/// work. `jwk`, `jku`, `x5u` and `x5c` headers are never used.
pub fn decode(token: &[u8], allowed: AlgSet) -> Result<Unverified<'_>, Failure> {
    let head = decode_head(token, allowed, true)?;
    let claims = JsonObject::from_vec(head.payload, MAX_CLAIMS).map_err(|reason| Failure {
        reason,
        alg: Some(head.alg),
        kid: head.kid.as_deref().map(log_kid),
    })?;
    Ok(Unverified {
        alg: head.alg,
        kid: head.kid,
        header: head.header,
        claims,
        signing_input: head.signing_input,
        signature: head.signature,
    })
}

fn decode_head(token: &[u8], allowed: AlgSet, claims_set: bool) -> Result<Head<'_>, Failure> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Failure::new(Reason::TooLarge));
    }
    let parts = token::split_dots(token).ok_or(Failure::new(Reason::Malformed))?;
    // A JWT needs a claims set: refuse an empty payload before anything else.
    if parts.header.is_empty() || (claims_set && parts.payload.is_empty()) {
        return Err(Failure::new(Reason::Malformed));
    }
    // Strict base64url for all three segments (the decoder refuses any other byte); the
    // signature is only checked here: a token refused on its claims never needs its bytes.
    let decode = |seg| token::b64url_decode(seg).ok_or(Failure::new(Reason::Malformed));
    let header_json = decode(parts.header)?;
    let payload = decode(parts.payload)?;
    if !token::b64url_valid(parts.signature) {
        return Err(Failure::new(Reason::Malformed));
    }
    let signature = parts.signature;
    let header = JsonObject::from_vec(header_json, MAX_HEADER_MEMBERS).map_err(Failure::new)?;
    // For the log line of a rejection: the token's kid as sent (sanitized), made only then.
    let logged_kid = || header.get_str("kid").map(|k| log_kid(&k));
    let alg = header
        .get_str("alg")
        .and_then(|name| parse_alg_name(&name).ok());
    let alg = match alg {
        Some(alg) if allowed.contains(alg) => alg,
        _ => {
            return Err(Failure {
                reason: Reason::AlgNotAllowed,
                alg,
                kid: logged_kid(),
            });
        }
    };
    if header.contains_key("crit") {
        return Err(Failure {
            reason: Reason::Crit,
            alg: Some(alg),
            kid: logged_kid(),
        });
    }
    let kid = match header.raw("kid") {
        None => None,
        Some(_) => match header.get_str("kid") {
            Some(kid) => Some(kid.into_owned()),
            None => {
                return Err(Failure {
                    reason: Reason::Malformed,
                    alg: Some(alg),
                    kid: None,
                })
            }
        },
    };
    Ok(Head {
        signing_input: parts.signing_input,
        header,
        alg,
        kid,
        payload,
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
            self.signature,
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
    signature_b64: &[u8],
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
    // `decode_head` checked the segment: this decoding does not fail (and would fail closed).
    let signature = token::b64url_decode(signature_b64).unwrap_or_default();
    if signature.is_empty() || !candidates.any(|key| key.verify(alg, signing_input, &signature)) {
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
    let header =
        JsonObject::parse(&token::b64url_decode(parts.header)?, MAX_HEADER_MEMBERS).ok()?;
    header.get_str("kid").map(|k| k.into_owned())
}

/// A plain JWS (the payload need not be JSON, e.g. test vectors): the checks of [`decode`] but
/// the claims set, then the signature. An empty payload is allowed here.
pub fn verify_jws(token: &[u8], keys: &KeySet, allowed: AlgSet) -> Result<VerifiedJws, Failure> {
    let head = decode_head(token, allowed, false)?;
    check_signature(
        head.alg,
        head.kid.as_deref(),
        head.signing_input,
        head.signature,
        keys,
        allowed,
    )?;
    Ok(VerifiedJws {
        alg: head.alg,
        kid: head.kid,
        header: head.header,
        payload: head.payload,
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

#[cfg(test)]
mod rejection_order {
    //! Everything that can refuse a token without its signature is checked before any
    //! signature work (docs/verification.md, "Order of the checks"): a token that is expired
    //! *and* badly signed costs no signature computation, and `$jwt_reason` is the first failed
    //! check.

    use super::*;
    use crate::claims::{type_key, Policy};
    use crate::keys::{parse_key_file, test_hook::counting, KeySet};
    use crate::providers::{parse_binding, Providers};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use jsonwebtoken::EncodingKey;
    use serde_json::{json, Value};

    const NOW: u64 = 1_700_000_000;
    const ISS: &str = "https://a.example";

    fn rsa_public(kid: &str) -> Vec<crate::keys::Key> {
        let mut keys = parse_key_file(include_bytes!("../tests/data/rsa2048_public.pem"))
            .unwrap()
            .keys;
        for k in &mut keys {
            k.kid = Some(kid.into());
        }
        keys
    }

    fn sign(header: &Value, claims: &Value, private: &[u8]) -> String {
        let alg = match header["alg"].as_str() {
            Some("PS256") => Algorithm::PS256,
            Some("HS256") => Algorithm::HS256,
            _ => Algorithm::RS256,
        };
        let key = match alg {
            Algorithm::HS256 => EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
            _ => EncodingKey::from_rsa_pem(private).unwrap(),
        };
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key, alg).unwrap();
        format!("{input}.{sig}")
    }

    const RIGHT: &[u8] = include_bytes!("../tests/data/rsa2048_private.pem");
    const WRONG: &[u8] = include_bytes!("../tests/data/rsa2048b_private.pem");

    /// The gate without nginx: decode, the checks that need no signature with the group of
    /// the token's iss, then the signature with that group's keys. Returns the outcome and
    /// the signature computations it took.
    fn gate(token: &str) -> (Result<(), Reason>, u64) {
        let mut groups: Providers<KeySet> = Providers::default();
        *groups
            .group_mut(
                &parse_binding(&[&format!("issuer={ISS}"), "audience=api"]).unwrap(),
                KeySet::default,
            )
            .unwrap() = KeySet::new(
            rsa_public("k1")
                .into_iter()
                .chain(rsa_public("k2"))
                .collect(),
        );
        let policy = Policy {
            require_exp: true,
            max_lifetime: Some(600),
            types: vec![type_key("at+jwt")],
            ..Policy::default()
        };
        let allowed = AlgSet::only(Algorithm::RS256).union(AlgSet::only(Algorithm::HS256));
        counting(|| {
            let t = decode(token.as_bytes(), allowed).map_err(|f| f.reason)?;
            let keys = groups.admit(&policy, &t.header, &t.claims, NOW)?;
            t.check_signature(keys, allowed).map_err(|f| f.reason)
        })
    }

    fn header() -> Value {
        json!({"alg": "RS256", "typ": "at+jwt", "kid": "k1"})
    }

    fn claims() -> Value {
        json!({"iss": ISS, "aud": "api", "sub": "alice", "iat": NOW - 10, "exp": NOW + 300})
    }

    fn with(mut v: Value, changes: Value) -> Value {
        for (k, x) in changes.as_object().unwrap() {
            if x.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = x.clone();
            }
        }
        v
    }

    #[test]
    fn cheap_rejections_cost_no_signature() {
        let cases: Vec<(Value, Value, Reason)> = vec![
            (
                header(),
                with(claims(), json!({"exp": NOW})),
                Reason::Expired,
            ),
            (
                header(),
                with(claims(), json!({"exp": null})),
                Reason::MissingExp,
            ),
            (
                header(),
                with(claims(), json!({"nbf": NOW + 60})),
                Reason::NotYetValid,
            ),
            (
                header(),
                with(claims(), json!({"iat": NOW + 60})),
                Reason::IssuedInFuture,
            ),
            (
                header(),
                with(claims(), json!({"exp": "soon"})),
                Reason::BadTimeClaim,
            ),
            (
                header(),
                with(claims(), json!({"exp": NOW + 601})),
                Reason::Lifetime,
            ),
            (
                header(),
                with(claims(), json!({"iat": null})),
                Reason::Lifetime,
            ),
            (
                header(),
                with(claims(), json!({"iss": "https://b.example"})),
                Reason::Issuer,
            ),
            (
                header(),
                with(claims(), json!({"iss": null})),
                Reason::Issuer,
            ),
            (
                header(),
                with(claims(), json!({"aud": "other"})),
                Reason::Audience,
            ),
            (
                with(header(), json!({"typ": "JWT"})),
                claims(),
                Reason::Type,
            ),
            (with(header(), json!({"typ": null})), claims(), Reason::Type),
            (
                with(header(), json!({"alg": "PS256"})),
                claims(),
                Reason::AlgNotAllowed,
            ),
            (
                with(header(), json!({"alg": "none"})),
                claims(),
                Reason::AlgNotAllowed,
            ),
            (
                with(header(), json!({"crit": ["exp"]})),
                claims(),
                Reason::Crit,
            ),
            (
                with(header(), json!({"kid": 7})),
                claims(),
                Reason::Malformed,
            ),
            // the key type: an HS256 token where the issuer's keys are RSA keys
            (
                with(header(), json!({"alg": "HS256"})),
                claims(),
                Reason::AlgNotAllowed,
            ),
            // an unknown kid, the keys being known
            (
                with(header(), json!({"kid": "k9"})),
                claims(),
                Reason::UnknownKid,
            ),
        ];
        for (h, c, reason) in cases {
            for key in [WRONG, RIGHT] {
                let t = sign(&h, &c, key);
                assert_eq!(gate(&t), (Err(reason), 0), "{h} {c}");
            }
        }
        // malformed and oversized tokens
        let good = sign(&header(), &claims(), WRONG);
        let (input, sig) = good.rsplit_once('.').unwrap();
        let (h64, _) = input.split_once('.').unwrap();
        for (t, reason) in [
            (
                format!("{h64}.{}.{sig}", URL_SAFE_NO_PAD.encode("[1]")),
                Reason::Malformed,
            ),
            (format!("{h64}.e30=.{sig}"), Reason::Malformed),
            (format!("{input}.{sig}.x"), Reason::Malformed),
            (
                format!("{input}.{}", "A".repeat(MAX_TOKEN_LEN)),
                Reason::TooLarge,
            ),
        ] {
            assert_eq!(gate(&t), (Err(reason), 0), "{t:.60}");
        }
    }

    #[test]
    fn expired_and_badly_signed() {
        let t = sign(&header(), &with(claims(), json!({"exp": NOW - 1})), WRONG);
        assert_eq!(gate(&t), (Err(Reason::Expired), 0));
    }

    #[test]
    fn first_failed_check_is_reported() {
        let expired = json!({"exp": NOW - 1});
        for (h, c, reason) in [
            // alg before crit before typ before the claims
            (
                json!({"alg": "none", "crit": ["x"], "typ": "JWT"}),
                expired.clone(),
                Reason::AlgNotAllowed,
            ),
            (
                json!({"crit": ["x"], "typ": "JWT"}),
                expired.clone(),
                Reason::Crit,
            ),
            (
                json!({"typ": "JWT"}),
                with(expired.clone(), json!({"iss": "x"})),
                Reason::Type,
            ),
            // time before lifetime before iss before aud
            (
                json!({}),
                json!({"exp": NOW - 1, "iat": 0, "iss": "x", "aud": "x"}),
                Reason::Expired,
            ),
            (
                json!({}),
                json!({"exp": NOW + 601, "iss": "x", "aud": "x"}),
                Reason::Lifetime,
            ),
            (json!({}), json!({"iss": "x", "aud": "x"}), Reason::Issuer),
            (json!({}), json!({"aud": "x"}), Reason::Audience),
            // all of those pass: the kid, and only then the signature
            (json!({"kid": "k9"}), json!({}), Reason::UnknownKid),
        ] {
            let t = sign(
                &with(header(), h.clone()),
                &with(claims(), c.clone()),
                WRONG,
            );
            assert_eq!(gate(&t), (Err(reason), 0), "{h} {c}");
        }
    }

    #[test]
    fn a_token_that_passes_them_all_needs_its_signature() {
        let good = sign(&header(), &claims(), RIGHT);
        assert_eq!(gate(&good), (Ok(()), 1));
        let forged = sign(&header(), &claims(), WRONG);
        assert_eq!(gate(&forged), (Err(Reason::BadSignature), 1));
        // without kid, every key of the issuer is tried
        let no_kid = with(header(), json!({"kid": null}));
        assert_eq!(
            gate(&sign(&no_kid, &claims(), WRONG)),
            (Err(Reason::BadSignature), 2)
        );
        assert_eq!(gate(&sign(&no_kid, &claims(), RIGHT)), (Ok(()), 1));
    }
}
