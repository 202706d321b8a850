//! Compact JWS syntax: splitting, strict base64url and the JOSE header.
//!
//! Strictness: exactly three segments; each segment only `[A-Za-z0-9_-]`; base64url without
//! padding and with zero trailing bits (canonical); empty header or payload segment = malformed.
//! An empty *signature* segment is syntactically valid (it decodes to zero bytes) and is
//! reported as a bad signature: such a token is still JWT-shaped (README, "auth_jwt_rs_fallback").
//!
//! # Limits
//!
//! Untrusted input is bounded before any expensive work (serde parsing, signature checks):
//!
//! | cap | value | checked |
//! |---|---|---|
//! | token length | [`MAX_TOKEN_LEN`] = 16384 bytes | first, on the raw bytes |
//! | JSON nesting depth (header and claims set) | [`MAX_JSON_DEPTH`] = 32 | by [`check_json_limits`], a single linear scan of the decoded segment, before serde |
//! | JOSE header members | [`MAX_HEADER_MEMBERS`] = 32 | same scan |
//! | claims (top-level members of the claims set) | [`MAX_CLAIMS`] = 256 | same scan, before the signature is checked |
//!
//! A token over any cap is refused with [`Reason::TooLarge`] (`$jwt_reason` `too_large`):
//! "too large" in size or in structure. Duplicate member names count once per occurrence.

use crate::reason::Reason;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// Longest token accepted; longer ones are refused before any parsing (`too_large`).
pub const MAX_TOKEN_LEN: usize = 16384;

/// Deepest nesting of JSON objects and arrays accepted in the header or the claims set, the
/// outermost object counting as 1 (`too_large` beyond). Real IdP tokens nest 2 to 5 levels
/// (`realm_access.roles`, `resource_access.<client>.roles`, RFC 9396 `authorization_details`);
/// 32 leaves ample room while keeping every recursive walk of a claim (serde parsing, drop,
/// `$jwt_payload` serialization, rendering) far below serde_json's own limit of 128 and any
/// stack concern.
pub const MAX_JSON_DEPTH: usize = 32;

/// Most top-level members accepted in the claims set (`too_large` beyond). IdP tokens carry
/// 10 to 40 claims; 256 is generous and bounds the map built for every verified token.
pub const MAX_CLAIMS: usize = 256;

/// Most members accepted in the JOSE header (`too_large` beyond); headers carry 2 to 8
/// (`alg`, `typ`, `kid`, `cty`, `x5t`, ...).
pub const MAX_HEADER_MEMBERS: usize = 32;

/// Which structural cap a JSON document exceeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Nesting deeper than [`MAX_JSON_DEPTH`].
    Depth,
    /// More top-level members than allowed.
    Members,
}

/// One linear pass over `json` (no allocation, no recursion) that tracks the nesting depth of
/// `{`/`[` outside strings (escapes handled) and counts the members of the outermost object
/// (its `:` outside strings). Refuses nesting deeper than [`MAX_JSON_DEPTH`] and more than
/// `max_members` top-level members. It does not validate JSON: serde does that afterwards,
/// on input this scan has bounded. For valid JSON the counts are exact.
pub fn check_json_limits(json: &[u8], max_members: usize) -> Result<(), Limit> {
    let mut depth = 0usize;
    let mut members = 0usize;
    let mut i = 0usize;
    while let Some(&b) = json.get(i) {
        i += 1;
        match b {
            // A string: jump to its closing quote, past escaped characters. An unterminated
            // string ends the scan (serde refuses it afterwards).
            b'"' => loop {
                let Some(rest) = json.get(i..) else {
                    return Ok(());
                };
                match memchr::memchr2(b'"', b'\\', rest) {
                    None => return Ok(()),
                    Some(j) if rest.get(j) == Some(&b'"') => {
                        i += j + 1;
                        break;
                    }
                    // a backslash: skip it and the character it escapes
                    Some(j) => i += j + 2,
                }
            },
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(Limit::Depth);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b':' if depth == 1 => {
                members += 1;
                if members > max_members {
                    return Err(Limit::Members);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Parses `json` as a JSON object after [`check_json_limits`]: over a cap → `TooLarge`, not a
/// JSON object → `Malformed`.
pub fn parse_json_object(json: &[u8], max_members: usize) -> Result<Map<String, Value>, Reason> {
    check_json_limits(json, max_members).map_err(|_| Reason::TooLarge)?;
    match serde_json::from_slice::<Value>(json) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Reason::Malformed),
    }
}

/// Decodes a JOSE header segment: strict base64url, then [`parse_json_object`] with
/// [`MAX_HEADER_MEMBERS`].
pub fn decode_header(seg: &[u8]) -> Result<Map<String, Value>, Reason> {
    let bytes = b64url_decode(seg).ok_or(Reason::Malformed)?;
    parse_json_object(&bytes, MAX_HEADER_MEMBERS)
}

/// The three segments of a compact JWS, still encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts<'a> {
    pub header: &'a [u8],
    pub payload: &'a [u8],
    pub signature: &'a [u8],
    /// `header "." payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
}

/// The 6-bit value of each base64url character; [`NOT_B64`] for every other byte.
const NOT_B64: u8 = 0x80;
const B64_VALUE: [u8; 256] = {
    let mut t = [NOT_B64; 256];
    let mut i = 0u8;
    while i < 26 {
        t[(b'A' + i) as usize] = i;
        t[(b'a' + i) as usize] = 26 + i;
        if i < 10 {
            t[(b'0' + i) as usize] = 52 + i;
        }
        i += 1;
    }
    t[b'-' as usize] = 62;
    t[b'_' as usize] = 63;
    t
};

/// Splits `token` at exactly two dots; every segment must use only the base64url alphabet.
/// Empty segments are allowed here (callers decide). One pass over the bytes.
pub fn split(token: &[u8]) -> Option<Parts<'_>> {
    let mut dots = [0usize; 2];
    let mut n = 0usize;
    for (i, &b) in token.iter().enumerate() {
        if b == b'.' {
            *dots.get_mut(n)? = i;
            n += 1;
        } else if B64_VALUE[usize::from(b)] == NOT_B64 {
            return None;
        }
    }
    if n != 2 {
        return None;
    }
    let [first, second] = dots;
    Some(Parts {
        header: token.get(..first)?,
        payload: token.get(first + 1..second)?,
        signature: token.get(second + 1..)?,
        signing_input: token.get(..second)?,
    })
}

/// The three segments of `token`, which must hold exactly two dots, without looking at the
/// other bytes: for a caller that base64url-decodes every segment anyway (the decoder refuses
/// any byte outside the alphabet).
pub fn split_dots(token: &[u8]) -> Option<Parts<'_>> {
    let first = memchr::memchr(b'.', token)?;
    let second = first + 1 + memchr::memchr(b'.', token.get(first + 1..)?)?;
    if memchr::memchr(b'.', token.get(second + 1..)?).is_some() {
        return None;
    }
    Some(Parts {
        header: token.get(..first)?,
        payload: token.get(first + 1..second)?,
        signature: token.get(second + 1..)?,
        signing_input: token.get(..second)?,
    })
}

/// Strict base64url decoding: no padding, no characters outside the alphabet, canonical
/// trailing bits (all refused by the `URL_SAFE_NO_PAD` engine itself).
pub fn b64url_decode(seg: &[u8]) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(seg).ok()
}

/// Whether [`b64url_decode`] accepts `seg`, without decoding it: only base64url characters, a
/// length that is not 1 modulo 4, and zero trailing bits in the last character. Lets a segment
/// that may never be needed (the signature of a token refused on its claims) be checked for
/// `malformed` at its place in the order of the checks and decoded only when it is used.
pub fn b64url_valid(seg: &[u8]) -> bool {
    // bits of the last character that fall outside the decoded bytes, by length modulo 4
    let spare = match seg.len() % 4 {
        0 => 0,
        2 => 0x0f,
        3 => 0x03,
        _ => return false,
    };
    let any_invalid = seg
        .iter()
        .fold(0u8, |acc, &b| acc | B64_VALUE[usize::from(b)]);
    any_invalid & NOT_B64 == 0
        && seg
            .last()
            .is_none_or(|&b| B64_VALUE[usize::from(b)] & spare == 0)
}

/// Decodes a segment that must hold a JSON object (header or claims set), within
/// [`MAX_JSON_DEPTH`] and [`MAX_CLAIMS`] members (the larger of the two member caps).
pub fn decode_json_object(seg: &[u8]) -> Option<Map<String, Value>> {
    let bytes = b64url_decode(seg)?;
    parse_json_object(&bytes, MAX_CLAIMS).ok()
}

/// "JWT-shaped" (README, "auth_jwt_rs_fallback"): exactly two dots and a first segment that decodes
/// as base64url to a JSON object. Nothing else (payload, signature) is looked at. A header over the
/// caps is not parsed: it counts as shaped when it starts with `{` (leading JSON whitespace
/// skipped), so such a token is a `too_large` 401, never delegated to the fallback.
pub fn is_jwt_shaped(token: &[u8]) -> bool {
    if token.iter().filter(|b| **b == b'.').count() != 2 {
        return false;
    }
    let Some(bytes) = token.split(|b| *b == b'.').next().and_then(b64url_decode) else {
        return false;
    };
    match crate::json::JsonObject::parse(&bytes, MAX_HEADER_MEMBERS) {
        Ok(_) => true,
        Err(Reason::TooLarge) => bytes
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .is_some_and(|b| *b == b'{'),
        Err(_) => false,
    }
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

    /// `b64url_valid` agrees with the decoder on every string of up to 3 bytes over the
    /// alphabet and its near misses, and on those strings after a valid 4-byte prefix.
    #[test]
    fn validity_matches_decoder() {
        let mut chars: Vec<u8> = (0u8..=255)
            .filter(|&b| B64_VALUE[usize::from(b)] != NOT_B64)
            .collect();
        chars.extend_from_slice(b"=+/.\0 \xff");
        let mut strings = vec![Vec::new()];
        for len in 1..=3 {
            let prev: Vec<Vec<u8>> = strings
                .iter()
                .filter(|s| s.len() == len - 1)
                .cloned()
                .collect();
            for p in prev {
                for &c in &chars {
                    let mut s = p.clone();
                    s.push(c);
                    strings.push(s);
                }
            }
        }
        for s in &strings {
            for prefix in [&b""[..], b"Zm9v", b"_-A9"] {
                let seg = [prefix, s.as_slice()].concat();
                assert_eq!(b64url_valid(&seg), b64url_decode(&seg).is_some(), "{seg:?}");
            }
        }
        // a bad byte anywhere in a long segment
        let long = URL_SAFE_NO_PAD.encode([7u8; 256]);
        assert!(b64url_valid(long.as_bytes()));
        for i in [0, 100, long.len() - 1] {
            let mut bad = long.clone().into_bytes();
            bad[i] = b'=';
            assert!(!b64url_valid(&bad));
        }
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

    /// `{"a":[[...[0]...]]}` with `depth` containers in all (the outer object included).
    fn nested(depth: usize) -> String {
        let inner = depth - 1;
        format!("{{\"a\":{}0{}}}", "[".repeat(inner), "]".repeat(inner))
    }

    /// An object with `n` members `"m0":0, ...`.
    fn members(n: usize) -> String {
        let body: Vec<String> = (0..n).map(|i| format!("\"m{i}\":0")).collect();
        format!("{{{}}}", body.join(","))
    }

    #[test]
    fn depth_cap() {
        let at = nested(MAX_JSON_DEPTH);
        assert_eq!(check_json_limits(at.as_bytes(), MAX_CLAIMS), Ok(()));
        assert!(parse_json_object(at.as_bytes(), MAX_CLAIMS).is_ok());
        let over = nested(MAX_JSON_DEPTH + 1);
        assert_eq!(
            check_json_limits(over.as_bytes(), MAX_CLAIMS),
            Err(Limit::Depth)
        );
        assert_eq!(
            parse_json_object(over.as_bytes(), MAX_CLAIMS),
            Err(Reason::TooLarge)
        );
        // objects count like arrays; closing brackets bring the depth back down
        let objs = format!(
            "{}{}",
            "{\"k\":".repeat(MAX_JSON_DEPTH - 1) + "{}",
            "}".repeat(MAX_JSON_DEPTH - 1)
        );
        assert!(parse_json_object(objs.as_bytes(), MAX_CLAIMS).is_ok());
        let siblings = format!("[{}]", vec![nested(MAX_JSON_DEPTH - 1); 50].join(","));
        assert_eq!(check_json_limits(siblings.as_bytes(), 0), Ok(()));
        // far deeper than serde_json's own recursion limit (128): refused by the scan
        let deep = "[".repeat(100_000);
        assert_eq!(check_json_limits(deep.as_bytes(), 0), Err(Limit::Depth));
        assert!(decode_json_object(enc(&deep).as_bytes()).is_none());
    }

    #[test]
    fn member_caps() {
        let at = members(MAX_CLAIMS);
        assert_eq!(
            parse_json_object(at.as_bytes(), MAX_CLAIMS).unwrap().len(),
            MAX_CLAIMS
        );
        let over = members(MAX_CLAIMS + 1);
        assert_eq!(
            check_json_limits(over.as_bytes(), MAX_CLAIMS),
            Err(Limit::Members)
        );
        assert_eq!(
            parse_json_object(over.as_bytes(), MAX_CLAIMS),
            Err(Reason::TooLarge)
        );
        // duplicates count per occurrence
        let dups = format!("{{{}}}", vec!["\"a\":1"; MAX_CLAIMS + 1].join(","));
        assert_eq!(
            check_json_limits(dups.as_bytes(), MAX_CLAIMS),
            Err(Limit::Members)
        );
        // only top-level members count
        let nested_members = format!("{{\"a\":{}}}", members(MAX_CLAIMS * 2));
        assert_eq!(check_json_limits(nested_members.as_bytes(), 1), Ok(()));
        // header cap
        let h_at = members(MAX_HEADER_MEMBERS);
        assert!(decode_header(enc(&h_at).as_bytes()).is_ok());
        let h_over = members(MAX_HEADER_MEMBERS + 1);
        assert_eq!(
            decode_header(enc(&h_over).as_bytes()),
            Err(Reason::TooLarge)
        );
        assert_eq!(decode_header(b"%%"), Err(Reason::Malformed));
        assert_eq!(decode_header(enc("[1]").as_bytes()), Err(Reason::Malformed));
    }

    #[test]
    fn scan_ignores_strings() {
        // brackets, colons and quotes inside strings (escaped or not) are not structure
        let tricky = format!(
            "{{\"k\":\"{}\",\"q\":\"a\\\"[{{:\\\\\",\"z\":\"\\\\\"}}",
            "[{:".repeat(1000)
        );
        assert!(serde_json::from_str::<Value>(&tricky).is_ok(), "{tricky}");
        assert_eq!(check_json_limits(tricky.as_bytes(), 3), Ok(()));
        assert_eq!(check_json_limits(tricky.as_bytes(), 2), Err(Limit::Members));
        // an escaped backslash ends before the closing quote: the `[` after it is structure
        let s = format!("[\"\\\\\"{}", "[".repeat(MAX_JSON_DEPTH));
        assert_eq!(check_json_limits(s.as_bytes(), 0), Err(Limit::Depth));
        // unbalanced input never underflows
        assert_eq!(check_json_limits(b"]]]]}}}}{:", 1), Ok(()));
        assert_eq!(check_json_limits(b"", 0), Ok(()));
    }

    #[test]
    fn over_cap_header_is_still_shaped() {
        let deep = enc(&nested(MAX_JSON_DEPTH + 1));
        assert!(is_jwt_shaped(format!("{deep}.e30.x").as_bytes()));
        let wide = enc(&members(MAX_HEADER_MEMBERS + 1));
        assert!(is_jwt_shaped(format!("{wide}.e30.x").as_bytes()));
        let ws = enc(&format!(" \n{}", members(MAX_HEADER_MEMBERS + 1)));
        assert!(is_jwt_shaped(format!("{ws}.e30.x").as_bytes()));
        let arr = enc(&"[".repeat(MAX_JSON_DEPTH + 1));
        assert!(!is_jwt_shaped(format!("{arr}.e30.x").as_bytes()));
        assert!(decode_json_object(deep.as_bytes()).is_none());
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
