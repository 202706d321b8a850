//! The documented caps (token length, JSON nesting depth, claim count, header members): a
//! token at each cap verifies, one over is `too_large`, and the caps are enforced before the
//! signature is checked.

mod common;

use auth_jwt_core::verify::token_kid;
use auth_jwt_core::{
    is_jwt_shaped, secret_key, verify_jws, verify_signature, AlgSet, Algorithm, KeySet, Reason,
    MAX_CLAIMS, MAX_HEADER_MEMBERS, MAX_JSON_DEPTH, MAX_TOKEN_LEN,
};
use common::*;

const HEADER: &str = r#"{"alg":"HS256"}"#;
const EXP: u64 = NOW + 3600;

fn keys() -> KeySet {
    KeySet::new(vec![secret_key(SECRET).unwrap()])
}

fn hs(header: &str, payload: &str) -> String {
    sign_raw(Algorithm::HS256, header, payload, &hmac_enc())
}

fn verdict(token: &str) -> Result<(), Reason> {
    verify_signature(token.as_bytes(), &keys(), AlgSet::ALL)
        .map(|_| ())
        .map_err(|f| f.reason)
}

/// `token` with its signature replaced by a wrong one of the same length.
fn bad_sig(token: &str) -> String {
    let (input, sig) = token.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    format!("{input}.{flipped}{}", &sig[1..])
}

/// A claims set with `n` members (`exp` and `c1`..).
fn claims_with(n: usize) -> String {
    let mut members = vec![format!("\"exp\":{EXP}")];
    members.extend((1..n).map(|i| format!("\"c{i}\":{i}")));
    format!("{{{}}}", members.join(","))
}

/// A claims set whose `deep` claim makes the nesting `depth` levels (the claims set is 1).
fn claims_deep(depth: usize) -> String {
    let inner = depth - 1;
    format!(
        "{{\"exp\":{EXP},\"deep\":{}\"x\"{}}}",
        "[".repeat(inner),
        "]".repeat(inner)
    )
}

/// A header with `n` members (`alg` and `h1`..).
fn header_with(n: usize) -> String {
    let mut members = vec![r#""alg":"HS256""#.to_string()];
    members.extend((1..n).map(|i| format!("\"h{i}\":{i}")));
    format!("{{{}}}", members.join(","))
}

#[test]
fn claim_count_cap() {
    assert_eq!(verdict(&hs(HEADER, &claims_with(MAX_CLAIMS))), Ok(()));
    let over = hs(HEADER, &claims_with(MAX_CLAIMS + 1));
    assert_eq!(verdict(&over), Err(Reason::TooLarge));
    // refused before the signature is checked
    assert_eq!(verdict(&bad_sig(&over)), Err(Reason::TooLarge));
    let at = bad_sig(&hs(HEADER, &claims_with(MAX_CLAIMS)));
    assert_eq!(verdict(&at), Err(Reason::BadSignature));
}

#[test]
fn depth_cap() {
    let at = hs(HEADER, &claims_deep(MAX_JSON_DEPTH));
    let v = verify_signature(at.as_bytes(), &keys(), AlgSet::ALL).unwrap();
    assert!(v.claims.get("deep").unwrap().is_array());
    let over = hs(HEADER, &claims_deep(MAX_JSON_DEPTH + 1));
    assert_eq!(verdict(&over), Err(Reason::TooLarge));
    assert_eq!(verdict(&bad_sig(&over)), Err(Reason::TooLarge));
    // header nesting
    let h = |d: usize| {
        format!(
            r#"{{"alg":"HS256","x":{}0{}}}"#,
            "[".repeat(d - 1),
            "]".repeat(d - 1)
        )
    };
    assert_eq!(verdict(&hs(&h(MAX_JSON_DEPTH), &claims_with(1))), Ok(()));
    assert_eq!(
        verdict(&hs(&h(MAX_JSON_DEPTH + 1), &claims_with(1))),
        Err(Reason::TooLarge)
    );
}

#[test]
fn header_member_cap() {
    let at = hs(&header_with(MAX_HEADER_MEMBERS), &claims_with(1));
    assert_eq!(verdict(&at), Ok(()));
    let over = hs(&header_with(MAX_HEADER_MEMBERS + 1), &claims_with(1));
    assert_eq!(verdict(&over), Err(Reason::TooLarge));
    // an over-cap header is never parsed, so its kid is not read, but the token stays
    // JWT-shaped (a 401, never the fallback)
    let kid_over = hs(
        &header_with(MAX_HEADER_MEMBERS + 1).replacen('{', r#"{"kid":"k1","#, 1),
        &claims_with(1),
    );
    assert_eq!(token_kid(kid_over.as_bytes()), None);
    assert!(is_jwt_shaped(kid_over.as_bytes()));
    let kid_at = hs(
        &header_with(MAX_HEADER_MEMBERS - 1).replacen('{', r#"{"kid":"k1","#, 1),
        &claims_with(1),
    );
    assert_eq!(token_kid(kid_at.as_bytes()).as_deref(), Some("k1"));
}

#[test]
fn token_length_cap() {
    // pad a claim (and, base64url lengths never being 1 mod 4, the header) so that the whole
    // token is exactly MAX_TOKEN_LEN bytes
    let at = (0..4)
        .flat_map(|extra| {
            let header = format!(r#"{{"alg":"HS256","p":"{}"}}"#, "y".repeat(extra));
            (MAX_TOKEN_LEN * 3 / 4 - 100..MAX_TOKEN_LEN * 3 / 4)
                .map(move |pad| (header.clone(), pad))
        })
        .map(|(header, pad)| {
            hs(
                &header,
                &format!("{{\"exp\":{EXP},\"pad\":\"{}\"}}", "x".repeat(pad)),
            )
        })
        .find(|t| t.len() == MAX_TOKEN_LEN)
        .unwrap();
    assert_eq!(at.len(), MAX_TOKEN_LEN);
    assert_eq!(verdict(&at), Ok(()));
    let over = format!("{at}A");
    assert_eq!(verdict(&over), Err(Reason::TooLarge));
    assert_eq!(
        verify_jws(over.as_bytes(), &keys(), AlgSet::ALL)
            .unwrap_err()
            .reason,
        Reason::TooLarge
    );
}

#[test]
fn plain_jws_payload_is_not_capped() {
    // verify_jws (plain JWS, payload need not be JSON) does not apply the claim caps
    let t = hs(HEADER, &"[".repeat(MAX_JSON_DEPTH + 10));
    let jws = verify_jws(t.as_bytes(), &keys(), AlgSet::ALL).unwrap();
    assert_eq!(jws.payload.len(), MAX_JSON_DEPTH + 10);
    assert_eq!(verdict(&t), Err(Reason::TooLarge));
}

#[test]
fn too_large_is_stable() {
    assert_eq!(Reason::TooLarge.as_str(), "too_large");
    assert!(Reason::ALL.contains(&Reason::TooLarge));
}

/// Regression (claims fuzz target): serde_json writes DEL (0x7F) raw, so `$jwt_payload` of a
/// claims set with DEL in a name or a value held a control character.
#[test]
fn payload_json_escapes_del() {
    let t = hs(HEADER, &format!("{{\"exp\":{EXP},\"k\x7f\":\"a\x7fb\"}}"));
    let v = verify_signature(t.as_bytes(), &keys(), AlgSet::ALL).unwrap();
    let json = v.claims_json();
    assert!(!json.bytes().any(|b| b < 0x20 || b == 0x7f), "{json}");
    assert!(json.contains(r#""k\u007f":"a\u007fb""#), "{json}");
    let back: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back["k\x7f"], "a\x7fb");
}
