//! Token syntax: splitting, strict base64url, the JOSE header (caps, then serde), JWT shape and
//! `kid` extraction, on arbitrary bytes. The input is also scanned and parsed as decoded JSON,
//! so that the structural caps are checked against serde's own view of the document.
#![no_main]

use auth_jwt_core::token::{
    b64url_decode, b64url_valid, check_json_limits, decode_header, decode_json_object,
    parse_json_object, split, Limit, MAX_CLAIMS, MAX_HEADER_MEMBERS, MAX_JSON_DEPTH,
};
use auth_jwt_core::verify::token_kid;
use auth_jwt_core::{is_jwt_shaped, Reason};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    token(data);
    json(data, MAX_CLAIMS);
    json(data, MAX_HEADER_MEMBERS);
});

fn token(data: &[u8]) {
    // the check without decoding accepts exactly what the decoder accepts
    assert_eq!(b64url_valid(data), b64url_decode(data).is_some());
    let shaped = is_jwt_shaped(data);
    let kid = token_kid(data);
    let Some(parts) = split(data) else {
        assert!(kid.is_none());
        return;
    };
    // the segments are exactly the token's bytes around its two dots
    let mut joined = parts.header.to_vec();
    joined.push(b'.');
    joined.extend_from_slice(parts.payload);
    assert_eq!(&joined[..], parts.signing_input);
    joined.push(b'.');
    joined.extend_from_slice(parts.signature);
    assert_eq!(&joined[..], data);

    for seg in [parts.header, parts.payload, parts.signature] {
        // strict base64url is canonical: what decodes re-encodes to the same text
        if let Some(bytes) = b64url_decode(seg) {
            assert_eq!(URL_SAFE_NO_PAD.encode(&bytes).as_bytes(), seg);
            json(&bytes, MAX_CLAIMS);
        }
    }
    match decode_header(parts.header) {
        Ok(h) => {
            assert!(shaped, "a decodable header is JWT-shaped");
            assert!(h.len() <= MAX_HEADER_MEMBERS);
            assert!(depth_of(&Value::Object(h.clone())) <= MAX_JSON_DEPTH);
            if data.len() <= auth_jwt_core::MAX_TOKEN_LEN {
                let want = match h.get("kid") {
                    Some(Value::String(k)) => Some(k.clone()),
                    _ => None,
                };
                assert_eq!(kid, want);
            }
        }
        Err(Reason::TooLarge) => assert!(kid.is_none()),
        Err(r) => {
            assert_eq!(r, Reason::Malformed);
            assert!(
                !shaped,
                "a header that is not a JSON object is not JWT-shaped"
            );
            assert!(kid.is_none());
        }
    }
    let _ = decode_json_object(parts.payload);
}

/// The linear scan agrees with serde on every document serde accepts.
fn json(bytes: &[u8], max_members: usize) {
    let scan = check_json_limits(bytes, max_members);
    let parsed = parse_json_object(bytes, max_members);
    match (&scan, &parsed) {
        (Err(_), Err(Reason::TooLarge)) | (Ok(()), Ok(_)) | (Ok(()), Err(Reason::Malformed)) => {}
        _ => panic!("scan {scan:?} but parse {parsed:?}"),
    }
    if let Ok(map) = &parsed {
        assert!(map.len() <= max_members);
        assert!(depth_of(&Value::Object(map.clone())) <= MAX_JSON_DEPTH);
    }
    // serde's own recursion limit (128) applies to what the scan would refuse; within it, the
    // scan must be exact for valid JSON
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        let depth = depth_of(&v);
        let members = match &v {
            Value::Object(m) => m.len(),
            _ => 0,
        };
        match scan {
            Ok(()) => assert!(depth <= MAX_JSON_DEPTH && members <= max_members),
            Err(Limit::Depth) => assert!(depth > MAX_JSON_DEPTH, "depth {depth}"),
            // the scan stops at the first cap it meets (deeper nesting may follow), and
            // duplicate names collapse in the map: only the scan saw them all
            Err(Limit::Members) => assert!(matches!(v, Value::Object(_))),
        }
    }
}

fn depth_of(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth_of).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth_of).max().unwrap_or(0),
        _ => 0,
    }
}
