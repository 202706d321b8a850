//! Everything that runs on a verified token's claims: the registered-claim policy (`exp`,
//! `nbf`, `iat`, `iss`, `aud`), claim paths (dotted and JSON Pointer) and their lookup,
//! value rendering and the control-character guard of the variables, `$jwt_payload`, the
//! `auth_jwt_rs_require_claim` operators, and the verified-token cache's `exp` handling, on
//! an arbitrary claims set (parsed within the caps, as the request path does). The claims set
//! is held as the request path holds it (`JsonObject`), and checked against a full
//! `serde_json` parse of the same bytes: accepted by both or by neither, same members.
#![no_main]

use arbitrary::Arbitrary;
use auth_jwt_core::cache::TokenCache;
use auth_jwt_core::render::has_control;
use auth_jwt_core::token::{parse_json_object, MAX_CLAIMS};
use auth_jwt_core::{
    expose, parse_rule, render, AlgSet, Algorithm, ClaimPath, Exposed, JsonObject, Policy,
    Provider, Verified,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use std::rc::Rc;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    now: u64,
    leeway: u16,
    require_exp: bool,
    issuers: Vec<&'a str>,
    audiences: Vec<&'a str>,
    /// Claim path as in `auth_jwt_rs_claim_set` / `auth_jwt_rs_require_claim`.
    path: &'a str,
    /// Operator index and values of a rule.
    op: u8,
    values: Vec<&'a str>,
    /// `$jwt_claim_NAME` / `$jwt_header_NAME`.
    name: &'a str,
    /// The claims set, decoded JSON bytes.
    claims: &'a [u8],
}

const OPS: [&str; 8] = [
    "eq", "ne", "in", "has", "has_any", "match", "present", "bogus",
];
/// `match` patterns come from the configuration, not the request: a fixed set.
const REGEXES: [&str; 4] = [
    "^admin$",
    "^[a-z0-9._%+-]+@example\\.com$",
    "a.*b",
    "^\\d+$",
];

fuzz_target!(|input: Input| {
    let full = parse_json_object(input.claims, MAX_CLAIMS);
    let compact = JsonObject::parse(input.claims, MAX_CLAIMS);
    assert_eq!(
        full.is_ok(),
        compact.is_ok(),
        "JsonObject and serde disagree"
    );
    let (Ok(map), Ok(claims)) = (full, compact) else {
        return;
    };
    same_members(&input, &claims, &map);
    policy(&input, &claims);
    variables(&input, &claims, &map);
    rule(&input, &claims);
    cache(&claims, input.now);
});

/// The compact claims set reads every member as the full parse does.
fn same_members(input: &Input, claims: &JsonObject, map: &Map<String, Value>) {
    assert_eq!(&claims.to_map(), map);
    assert_eq!(claims.get(input.name).as_ref(), map.get(input.name));
    for (k, v) in map {
        assert_eq!(claims.get(k).as_ref(), Some(v), "{k}");
        assert_eq!(claims.get_str(k).as_deref(), v.as_str(), "{k}");
    }
}

fn policy(input: &Input, claims: &JsonObject) {
    let p = Policy {
        leeway: u64::from(input.leeway),
        require_exp: input.require_exp,
        issuers: input.issuers.iter().map(|s| s.to_string()).collect(),
        audiences: input.audiences.iter().map(|s| s.to_string()).collect(),
        max_lifetime: input.require_exp.then_some(u64::from(input.leeway)),
        types: Vec::new(),
    };
    let header = JsonObject::default();
    let unbound = Some(&Provider::UNBOUND);
    let verdict = p.check(&header, claims, input.now, unbound);
    // a larger leeway never turns an accepted token into a rejected one
    if verdict.is_ok() {
        let wider = Policy {
            leeway: p.leeway + 60,
            ..p.clone()
        };
        assert_eq!(wider.check(&header, claims, input.now, unbound), Ok(()));
    }
    // an integer exp at or before now - leeway is always expired
    if let Some(exp) = claims.get("exp").as_ref().and_then(Value::as_u64) {
        if exp.saturating_add(p.leeway) <= input.now {
            assert!(verdict.is_err());
        }
    }
}

fn variables(input: &Input, claims: &JsonObject, map: &Map<String, Value>) {
    if let Ok(path) = ClaimPath::parse(input.path) {
        assert_eq!(path.as_str(), input.path);
        check_exposed(path.lookup(claims).as_ref());
        // a one-segment dotted path is the same as the top-level claim
        if !input.path.starts_with('/') && !input.path.contains('.') {
            assert_eq!(path.lookup(claims), claims.get(input.path));
        }
    }
    check_exposed(claims.get(input.name).as_ref());
    for v in map.values() {
        check_exposed(Some(v));
    }
    // $jwt_payload: compact JSON, control characters always escaped (floats need not
    // round-trip bit for bit: serde_json parses them best-effort by default)
    let v = Verified {
        alg: Algorithm::HS256,
        kid: None,
        header: JsonObject::default(),
        claims: claims.clone(),
    };
    let json = v.claims_json();
    assert!(!has_control(json.as_bytes()));
    let back: Value = serde_json::from_str(&json).expect("claims_json is JSON");
    assert_eq!(back.as_object().map(Map::len), Some(map.len()));
}

fn check_exposed(v: Option<&Value>) {
    match expose(v) {
        Exposed::Value(s) => {
            assert!(!has_control(s.as_bytes()));
            assert_eq!(Some(s.as_ref()), v.and_then(render).as_deref());
        }
        Exposed::Empty => assert!(v.is_none_or(Value::is_null)),
        Exposed::Unsafe => assert!(v
            .and_then(render)
            .is_some_and(|s| has_control(s.as_bytes()))),
    }
}

fn rule(input: &Input, claims: &JsonObject) {
    let op = OPS[usize::from(input.op) % OPS.len()];
    let mut args: Vec<&str> = vec![input.path, op];
    if op == "match" {
        args.push(REGEXES[usize::from(input.op / 8) % REGEXES.len()]);
    } else {
        args.extend(input.values.iter().take(8));
    }
    if input.op & 0x80 != 0 {
        args.push("error=401");
    }
    if let Ok(rule) = parse_rule(&args) {
        let ok = rule.check(claims);
        // a missing claim fails every operator but `ne`
        if rule.path.lookup(claims).as_ref().is_none_or(Value::is_null) {
            assert_eq!(ok, op == "ne");
        }
    }
}

fn cache(claims: &JsonObject, now: u64) {
    let Some(mut c) = TokenCache::new(2) else {
        return;
    };
    let Some(key) = c.key(b"t") else {
        return;
    };
    let v = Rc::new(Verified {
        alg: Algorithm::HS256,
        kid: None,
        header: JsonObject::default(),
        claims: claims.clone(),
    });
    c.insert(key, v, 1, AlgSet::ALL);
    let _ = c.get(&key, now).map(|h| h.verified_with(1, AlgSet::ALL));
    let _ = c.get(&key, 0);
}
