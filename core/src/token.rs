//! Compact JWS syntax: splitting, strict base64url and the JOSE header.
//!
//! Strictness: exactly three segments; each segment only `[A-Za-z0-9_-]`; base64url without
//! padding and with zero trailing bits (canonical); empty header or payload segment = malformed.
//! An empty *signature* segment is syntactically valid (it decodes to zero bytes) and is
//! reported as a bad signature: such a token is still JWT-shaped (SPEC §9).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// Longest token accepted; longer ones are refused before any parsing (`too_large`).
pub const MAX_TOKEN_LEN: usize = 16384;

/// The three segments of a compact JWS, still encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts<'a> {
    pub header: &'a [u8],
    pub payload: &'a [u8],
    pub signature: &'a [u8],
    /// `header "." payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
}

/// Splits `token` at exactly two dots; every segment must use only the base64url alphabet.
/// Empty segments are allowed here (callers decide).
pub fn split(token: &[u8]) -> Option<Parts<'_>> {
    let mut dots = token
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'.')
        .map(|(i, _)| i);
    let (first, second) = (dots.next()?, dots.next()?);
    if dots.next().is_some() {
        return None;
    }
    let header = token.get(..first)?;
    let payload = token.get(first + 1..second)?;
    let signature = token.get(second + 1..)?;
    let signing_input = token.get(..second)?;
    if ![header, payload, signature]
        .iter()
        .all(|s| is_b64url_alphabet(s))
    {
        return None;
    }
    Some(Parts {
        header,
        payload,
        signature,
        signing_input,
    })
}

fn is_b64url_alphabet(seg: &[u8]) -> bool {
    seg.iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Strict base64url decoding: no padding, no characters outside the alphabet, canonical
/// trailing bits.
pub fn b64url_decode(seg: &[u8]) -> Option<Vec<u8>> {
    if !is_b64url_alphabet(seg) {
        return None;
    }
    URL_SAFE_NO_PAD.decode(seg).ok()
}

/// Decodes a segment that must hold a JSON object (header or claims set).
pub fn decode_json_object(seg: &[u8]) -> Option<Map<String, Value>> {
    let bytes = b64url_decode(seg)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// SPEC §9 "JWT-shaped": exactly two dots and a first segment that decodes as base64url to a
/// JSON object. Nothing else (payload, signature) is looked at.
pub fn is_jwt_shaped(token: &[u8]) -> bool {
    token.iter().filter(|b| **b == b'.').count() == 2
        && token
            .split(|b| *b == b'.')
            .next()
            .is_some_and(|h| decode_json_object(h).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn splits_three_segments() {
        let p = split(b"aGVh.cGF5.c2ln").unwrap();
        assert_eq!(p.header, b"aGVh");
        assert_eq!(p.payload, b"cGF5");
        assert_eq!(p.signature, b"c2ln");
        assert_eq!(p.signing_input, b"aGVh.cGF5");
        assert!(split(b"a.b").is_none());
        assert!(split(b"a.b.c.d").is_none());
        assert!(split(b"a.b.c.").is_none());
        assert!(split(b"").is_none());
        assert!(split(b"abc").is_none());
        assert!(split(b"a.b.").is_some());
        assert!(split(b"..").is_some());
        for bad in [
            &b"a=.b.c"[..],
            b"a.b+.c",
            b"a.b/.c",
            b"a .b.c",
            b"a.b.c\n",
            b"a.\xff.c",
        ] {
            assert!(split(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn strict_base64url() {
        assert_eq!(b64url_decode(b"Zm9v").unwrap(), b"foo");
        assert_eq!(b64url_decode(b"Zm8").unwrap(), b"fo");
        assert_eq!(b64url_decode(b"").unwrap(), b"");
        assert!(b64url_decode(b"Zm8=").is_none(), "padding");
        assert!(
            b64url_decode(b"Zm9").is_none(),
            "non-canonical trailing bits"
        );
        assert!(b64url_decode(b"Zg").is_some());
        assert!(
            b64url_decode(b"Zh").is_none(),
            "non-canonical trailing bits"
        );
        assert!(b64url_decode(b"Z").is_none(), "impossible length");
        assert!(b64url_decode(b"Zm+v").is_none());
        assert!(b64url_decode(b"Zm/v").is_none());
        assert_eq!(b64url_decode(b"-_8").unwrap(), vec![0xfb, 0xff]);
    }

    #[test]
    fn json_objects_only() {
        assert!(decode_json_object(enc("{\"alg\":\"HS256\"}").as_bytes()).is_some());
        assert!(decode_json_object(enc(" { } ").as_bytes()).is_some());
        for bad in [
            "[1]",
            "\"s\"",
            "1",
            "null",
            "{",
            "{\"a\":1}x",
            "",
            "\u{feff}{}",
        ] {
            assert!(decode_json_object(enc(bad).as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn jwt_shape() {
        let h = enc("{\"alg\":\"RS256\"}");
        assert!(is_jwt_shaped(format!("{h}.e30.sig").as_bytes()));
        assert!(
            is_jwt_shaped(format!("{h}..").as_bytes()),
            "empty signature is still shaped"
        );
        assert!(
            is_jwt_shaped(format!("{h}.not*b64.x").as_bytes()),
            "only the header counts"
        );
        assert!(!is_jwt_shaped(format!("{h}.e30").as_bytes()));
        assert!(!is_jwt_shaped(format!("{h}.e30.a.b").as_bytes()));
        assert!(!is_jwt_shaped(b"opaque-session-cookie"));
        assert!(!is_jwt_shaped(b"a.b.c"));
        assert!(!is_jwt_shaped(format!("{}.e30.x", enc("[1]")).as_bytes()));
        assert!(!is_jwt_shaped(b".e30.x"));
        assert!(!is_jwt_shaped(b""));
        let long = format!("{h}.{}.x", "A".repeat(MAX_TOKEN_LEN));
        assert!(is_jwt_shaped(long.as_bytes()));
    }
}
