//! `auth_jwt_rs_require_claim PATH OP [VALUE ...] [error=CODE]` (README, "Authorization rules").

use crate::json::JsonObject;
use crate::path::ClaimPath;
use crate::render::render;
use pcre2::bytes::{Regex, RegexBuilder};
use serde_json::{Number, Value};

#[derive(Clone, Debug)]
pub enum Op {
    Eq(String),
    Ne(String),
    In(Vec<String>),
    Has(Vec<String>),
    HasAny(Vec<String>),
    Match(Regex),
    Present,
}

#[derive(Clone, Debug)]
pub struct ClaimRule {
    pub path: ClaimPath,
    pub op: Op,
    /// HTTP status when the rule fails: 401 or 403.
    pub status: u16,
}

/// Parses the directive arguments after the directive name. A last argument starting with
/// `error=` is the status code, never a value.
pub fn parse_rule(args: &[&str]) -> Result<ClaimRule, String> {
    let (mut rest, status) = match args.split_last() {
        Some((last, init)) if last.starts_with("error=") => {
            (init, parse_status(last.trim_start_matches("error="))?)
        }
        _ => (args, 403),
    };
    let path = match rest.split_first() {
        Some((p, r)) => {
            rest = r;
            ClaimPath::parse(p)?
        }
        None => return Err("missing claim path".to_string()),
    };
    let (op, values) = match rest.split_first() {
        Some((op, values)) => (*op, values),
        None => return Err("missing operator".to_string()),
    };
    let owned = || values.iter().map(|v| (*v).to_string()).collect::<Vec<_>>();
    let one = || match values {
        [v] => Ok((*v).to_string()),
        _ => Err(format!(
            "operator \"{op}\" takes exactly one value, {} given",
            values.len()
        )),
    };
    let some = || {
        if values.is_empty() {
            Err(format!("operator \"{op}\" takes one or more values"))
        } else {
            Ok(owned())
        }
    };
    let op = match op {
        "eq" => Op::Eq(one()?),
        "ne" => Op::Ne(one()?),
        "in" => Op::In(some()?),
        "has" => Op::Has(some()?),
        "has_any" => Op::HasAny(some()?),
        "match" => {
            let re = one()?;
            Op::Match(compile_regex(&re)?)
        }
        "present" => {
            if !values.is_empty() {
                return Err("operator \"present\" takes no value".to_string());
            }
            Op::Present
        }
        other => {
            return Err(format!(
                "unknown operator \"{other}\" (expected eq, ne, in, has, has_any, match or present)"
            ))
        }
    };
    Ok(ClaimRule { path, op, status })
}

fn parse_status(code: &str) -> Result<u16, String> {
    match code {
        "401" => Ok(401),
        "403" => Ok(403),
        _ => Err(format!(
            "invalid \"error={code}\", expected error=401 or error=403"
        )),
    }
}

impl ClaimRule {
    /// True when the claims satisfy the rule. A missing (or `null`) claim fails every operator
    /// but `ne`.
    pub fn check(&self, claims: &JsonObject) -> bool {
        let claim = self.path.lookup(claims).filter(|v| !v.is_null());
        let Some(claim) = &claim else {
            return matches!(self.op, Op::Ne(_));
        };
        match &self.op {
            Op::Eq(v) => equals(claim, v),
            Op::Ne(v) => !equals(claim, v),
            Op::In(vs) => vs.iter().any(|v| equals(claim, v)),
            Op::Has(vs) => contains(claim, vs, true),
            Op::HasAny(vs) => contains(claim, vs, false),
            // A matching error (e.g. PCRE's match limit) fails the rule: fail closed.
            Op::Match(re) => match claim {
                Value::String(s) => re.is_match(s.as_bytes()).unwrap_or(false),
                Value::Number(_) | Value::Bool(_) => {
                    render(claim).is_some_and(|s| re.is_match(s.as_bytes()).unwrap_or(false))
                }
                _ => false,
            },
            Op::Present => true,
        }
    }
}

/// Compiles a `match` regex with PCRE2 (the regex library nginx uses), with UTF-8 checking and
/// JIT when available. The error is flattened to one line for nginx's log.
fn compile_regex(re: &str) -> Result<Regex, String> {
    RegexBuilder::new()
        .utf(true)
        .jit_if_available(true)
        .build(re)
        .map_err(|e| {
            let msg = e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            format!("invalid regex \"{re}\": {msg}")
        })
}

/// Scalar equality: string to string, number to the value read as a number, bool to
/// `true`/`false`. Arrays, objects and null never equal anything.
fn equals(claim: &Value, v: &str) -> bool {
    match claim {
        Value::String(s) => s == v,
        Value::Bool(b) => v == if *b { "true" } else { "false" },
        Value::Number(n) => number_eq(n, v),
        _ => false,
    }
}

fn number_eq(n: &Number, v: &str) -> bool {
    // Integers compare exactly; anything else as f64 (JSON number grammar via serde_json).
    let Ok(Value::Number(want)) = serde_json::from_str::<Value>(v.trim()) else {
        return false;
    };
    let as_int = |x: &Number| {
        x.as_i64()
            .map(i128::from)
            .or_else(|| x.as_u64().map(i128::from))
    };
    match (as_int(n), as_int(&want)) {
        (Some(a), Some(b)) => a == b,
        _ => match (n.as_f64(), want.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
    }
}

/// `has` (`all`) / `has_any`: array elements compared like `eq`, or words of a space-separated
/// string such as `scope`.
fn contains(claim: &Value, wanted: &[String], all: bool) -> bool {
    let has = |w: &String| match claim {
        Value::Array(items) => items.iter().any(|item| equals(item, w)),
        Value::String(s) => s.split(' ').any(|word| word == w),
        _ => false,
    };
    if all {
        wanted.iter().all(has)
    } else {
        wanted.iter().any(has)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims() -> JsonObject {
        match json!({
            "sub": "alice",
            "n": 42,
            "f": 1.5,
            "big": 18446744073709551615u64,
            "admin": true,
            "off": false,
            "scope": "read write  admin",
            "roles": ["dev", "ops", 7, true],
            "realm_access": {"roles": ["admin"]},
            "nul": null,
            "obj": {"a": 1},
            "ml": "line1\nline2",
        }) {
            Value::Object(m) => JsonObject::from_map(&m),
            _ => unreachable!(),
        }
    }

    fn rule(args: &[&str]) -> ClaimRule {
        parse_rule(args).unwrap()
    }

    fn ok(args: &[&str]) -> bool {
        rule(args).check(&claims())
    }

    #[test]
    fn eq_and_ne() {
        assert!(ok(&["sub", "eq", "alice"]));
        assert!(!ok(&["sub", "eq", "Alice"]));
        assert!(ok(&["n", "eq", "42"]));
        assert!(ok(&["n", "eq", "42.0"]));
        assert!(ok(&["n", "eq", "4.2e1"]));
        assert!(!ok(&["n", "eq", "43"]));
        assert!(!ok(&["n", "eq", "forty-two"]));
        assert!(ok(&["f", "eq", "1.5"]));
        assert!(ok(&["big", "eq", "18446744073709551615"]));
        assert!(!ok(&["big", "eq", "18446744073709551614"]));
        assert!(ok(&["admin", "eq", "true"]));
        assert!(!ok(&["admin", "eq", "1"]));
        assert!(ok(&["off", "eq", "false"]));
        assert!(!ok(&["roles", "eq", "dev"]));
        assert!(!ok(&["obj", "eq", "{\"a\":1}"]));
        assert!(!ok(&["missing", "eq", "x"]));
        assert!(!ok(&["nul", "eq", "null"]));
        assert!(ok(&["sub", "ne", "bob"]));
        assert!(!ok(&["sub", "ne", "alice"]));
        assert!(ok(&["missing", "ne", "x"]));
        assert!(ok(&["nul", "ne", "x"]));
        assert!(!ok(&["n", "ne", "42"]));
    }

    #[test]
    fn in_op() {
        assert!(ok(&["sub", "in", "bob", "alice"]));
        assert!(!ok(&["sub", "in", "bob", "carol"]));
        assert!(ok(&["n", "in", "1", "42"]));
        assert!(!ok(&["roles", "in", "dev"]));
        assert!(!ok(&["missing", "in", "x"]));
    }

    #[test]
    fn has_and_has_any() {
        assert!(ok(&["roles", "has", "dev", "ops"]));
        assert!(ok(&["roles", "has", "7", "true"]));
        assert!(!ok(&["roles", "has", "dev", "qa"]));
        assert!(ok(&["roles", "has_any", "qa", "ops"]));
        assert!(!ok(&["roles", "has_any", "qa", "sec"]));
        assert!(ok(&["scope", "has", "read", "admin"]));
        assert!(!ok(&["scope", "has", "read", "delete"]));
        assert!(!ok(&["scope", "has", "rea"]));
        assert!(ok(&["scope", "has_any", "delete", "write"]));
        assert!(!ok(&["scope", "has_any", "delete"]));
        assert!(ok(&["realm_access.roles", "has", "admin"]));
        assert!(!ok(&["n", "has", "42"]));
        assert!(!ok(&["missing", "has", "x"]));
        assert!(!ok(&["missing", "has_any", "x"]));
    }

    #[test]
    fn match_op() {
        assert!(ok(&["sub", "match", "^al"]));
        assert!(ok(&["sub", "match", "lic"]));
        assert!(!ok(&["sub", "match", "^lic$"]));
        assert!(ok(&["n", "match", "^4[0-9]$"]));
        assert!(ok(&["admin", "match", "^true$"]));
        assert!(!ok(&["roles", "match", "dev"]));
        assert!(!ok(&["obj", "match", "a"]));
        assert!(!ok(&["missing", "match", ".*"]));
        assert!(ok(&["ml", "match", "line2$"]));
    }

    #[test]
    fn present_op() {
        assert!(ok(&["sub", "present"]));
        assert!(ok(&["off", "present"]));
        assert!(ok(&["/realm_access/roles/0", "present"]));
        assert!(!ok(&["missing", "present"]));
        assert!(!ok(&["nul", "present"]));
    }

    #[test]
    fn status_codes() {
        assert_eq!(rule(&["sub", "present"]).status, 403);
        assert_eq!(rule(&["sub", "present", "error=401"]).status, 401);
        assert_eq!(rule(&["sub", "eq", "x", "error=403"]).status, 403);
        assert!(parse_rule(&["sub", "present", "error=500"])
            .unwrap_err()
            .contains("error=500"));
        assert!(parse_rule(&["sub", "present", "error="]).is_err());
    }

    #[test]
    fn parse_errors() {
        let e = |a: &[&str]| parse_rule(a).unwrap_err();
        assert!(e(&[]).contains("missing claim path"));
        assert!(e(&["sub"]).contains("missing operator"));
        assert!(e(&["sub", "like", "x"]).contains("unknown operator \"like\""));
        assert!(e(&["sub", "eq"]).contains("exactly one value"));
        assert!(e(&["sub", "eq", "a", "b"]).contains("exactly one value, 2 given"));
        assert!(e(&["sub", "ne"]).contains("exactly one"));
        assert!(e(&["sub", "match"]).contains("exactly one"));
        assert!(e(&["sub", "in"]).contains("one or more"));
        assert!(e(&["sub", "has"]).contains("one or more"));
        assert!(e(&["sub", "has_any", "error=401"]).contains("one or more"));
        assert!(e(&["sub", "present", "x"]).contains("no value"));
        assert!(e(&["sub", "match", "(unclosed"]).contains("invalid regex"));
        assert!(e(&["a..b", "present"]).contains("empty segment"));
        assert!(e(&["/a~2", "present"]).contains("invalid escape"));
        assert_eq!(
            rule(&["realm_access.roles", "has", "admin"]).path.as_str(),
            "realm_access.roles"
        );
    }
}
