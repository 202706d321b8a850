//! Registered claims: `exp`, `nbf`, `iat`, `iss`, `aud` (SPEC §3).

use crate::reason::Reason;
use serde_json::{Map, Number, Value};
use std::cmp::Ordering;

#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Allowed clock skew in seconds.
    pub leeway: u64,
    pub require_exp: bool,
    /// When non-empty, `iss` must be a string equal to one of these.
    pub issuers: Vec<String>,
    /// When non-empty, `aud` (string or array of strings) must contain one of these.
    pub audiences: Vec<String>,
}

impl Policy {
    /// Checks the time claims against `now` (seconds since the epoch), then `iss` and `aud`.
    pub fn check(&self, claims: &Map<String, Value>, now: u64) -> Result<(), Reason> {
        let exp = time_claim(claims, "exp")?;
        let nbf = time_claim(claims, "nbf")?;
        let iat = time_claim(claims, "iat")?;
        let now = i128::from(now);
        let leeway = i128::from(self.leeway);

        match exp {
            // expired when now >= exp + leeway, i.e. exp <= now - leeway
            Some(exp) if cmp(exp, now - leeway) != Ordering::Greater => {
                return Err(Reason::Expired)
            }
            None if self.require_exp => return Err(Reason::MissingExp),
            _ => {}
        }
        // not yet valid when now < nbf - leeway, i.e. nbf > now + leeway
        if nbf.is_some_and(|nbf| cmp(nbf, now + leeway) == Ordering::Greater) {
            return Err(Reason::NotYetValid);
        }
        // invalid when iat > now + leeway
        if iat.is_some_and(|iat| cmp(iat, now + leeway) == Ordering::Greater) {
            return Err(Reason::IssuedInFuture);
        }

        if !self.issuers.is_empty() {
            match claims.get("iss") {
                Some(Value::String(iss)) if self.issuers.iter().any(|i| i == iss) => {}
                _ => return Err(Reason::Issuer),
            }
        }
        if !self.audiences.is_empty() && !self.audience_ok(claims.get("aud")) {
            return Err(Reason::Audience);
        }
        Ok(())
    }

    fn audience_ok(&self, aud: Option<&Value>) -> bool {
        let accepted = |s: &str| self.audiences.iter().any(|a| a == s);
        match aud {
            Some(Value::String(s)) => accepted(s),
            Some(Value::Array(items)) => {
                let mut any = false;
                for item in items {
                    match item {
                        Value::String(s) => any |= accepted(s),
                        _ => return false,
                    }
                }
                any
            }
            _ => false,
        }
    }
}

/// A numeric time claim, kept exact when it is an integer.
#[derive(Copy, Clone, Debug)]
enum Time {
    Int(i128),
    Float(f64),
}

fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<Time>, Reason> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => number(n).map(Some).ok_or(Reason::BadTimeClaim),
        Some(_) => Err(Reason::BadTimeClaim),
    }
}

fn number(n: &Number) -> Option<Time> {
    if let Some(i) = n.as_i64() {
        Some(Time::Int(i128::from(i)))
    } else if let Some(u) = n.as_u64() {
        Some(Time::Int(i128::from(u)))
    } else {
        n.as_f64().filter(|f| f.is_finite()).map(Time::Float)
    }
}

/// Compares a claim with an integer bound. Floats compare in f64, which is exact for the bound
/// of any realistic clock; a NaN (impossible from JSON) compares as "greater" to fail closed.
fn cmp(t: Time, bound: i128) -> Ordering {
    match t {
        Time::Int(i) => i.cmp(&bound),
        // `as` is the intended saturating conversion here
        #[allow(clippy::cast_precision_loss)]
        Time::Float(f) => f.partial_cmp(&(bound as f64)).unwrap_or(Ordering::Greater),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn check(p: &Policy, v: Value) -> Result<(), Reason> {
        p.check(&map(v), NOW)
    }

    fn lenient() -> Policy {
        Policy::default()
    }

    #[test]
    fn exp_boundaries() {
        let p = lenient();
        assert_eq!(check(&p, json!({"exp": NOW})), Err(Reason::Expired));
        assert_eq!(check(&p, json!({"exp": NOW - 1})), Err(Reason::Expired));
        assert_eq!(check(&p, json!({"exp": NOW + 1})), Ok(()));
        let p = Policy {
            leeway: 10,
            ..lenient()
        };
        assert_eq!(check(&p, json!({"exp": NOW - 10})), Err(Reason::Expired));
        assert_eq!(check(&p, json!({"exp": NOW - 9})), Ok(()));
        // floats
        let p = lenient();
        assert_eq!(check(&p, json!({"exp": NOW as f64})), Err(Reason::Expired));
        assert_eq!(check(&p, json!({"exp": NOW as f64 + 0.5})), Ok(()));
        assert_eq!(
            check(&p, json!({"exp": NOW as f64 - 0.5})),
            Err(Reason::Expired)
        );
        assert_eq!(check(&p, json!({"exp": 1e300})), Ok(()));
        assert_eq!(check(&p, json!({"exp": -1e300})), Err(Reason::Expired));
        assert_eq!(check(&p, json!({"exp": -5})), Err(Reason::Expired));
        assert_eq!(check(&p, json!({"exp": u64::MAX})), Ok(()));
        let p = Policy {
            leeway: u64::MAX,
            ..lenient()
        };
        assert_eq!(check(&p, json!({"exp": 0})), Ok(()));
        assert_eq!(check(&p, json!({"exp": i64::MIN})), Ok(()));
    }

    #[test]
    fn nbf_boundaries() {
        let p = lenient();
        assert_eq!(check(&p, json!({"nbf": NOW})), Ok(()));
        assert_eq!(check(&p, json!({"nbf": NOW + 1})), Err(Reason::NotYetValid));
        let p = Policy {
            leeway: 10,
            ..lenient()
        };
        assert_eq!(check(&p, json!({"nbf": NOW + 10})), Ok(()));
        assert_eq!(
            check(&p, json!({"nbf": NOW + 11})),
            Err(Reason::NotYetValid)
        );
        assert_eq!(
            check(&p, json!({"nbf": NOW as f64 + 10.5})),
            Err(Reason::NotYetValid)
        );
        assert_eq!(check(&p, json!({"nbf": NOW as f64 + 9.5})), Ok(()));
    }

    #[test]
    fn iat_boundaries() {
        let p = lenient();
        assert_eq!(check(&p, json!({"iat": NOW})), Ok(()));
        assert_eq!(
            check(&p, json!({"iat": NOW + 1})),
            Err(Reason::IssuedInFuture)
        );
        let p = Policy {
            leeway: 5,
            ..lenient()
        };
        assert_eq!(check(&p, json!({"iat": NOW + 5})), Ok(()));
        assert_eq!(
            check(&p, json!({"iat": NOW + 6})),
            Err(Reason::IssuedInFuture)
        );
        assert_eq!(check(&p, json!({"iat": 0})), Ok(()));
    }

    #[test]
    fn time_claims_must_be_numbers() {
        let p = lenient();
        for name in ["exp", "nbf", "iat"] {
            for bad in [
                json!("1800000000"),
                json!(null),
                json!(true),
                json!([1]),
                json!({}),
            ] {
                let mut m = Map::new();
                m.insert(name.to_string(), bad);
                assert_eq!(p.check(&m, NOW), Err(Reason::BadTimeClaim), "{name}");
            }
        }
        // a bad type wins over a missing exp
        let p = Policy {
            require_exp: true,
            ..lenient()
        };
        assert_eq!(check(&p, json!({"nbf": "x"})), Err(Reason::BadTimeClaim));
    }

    #[test]
    fn require_exp() {
        let p = Policy {
            require_exp: true,
            ..lenient()
        };
        assert_eq!(check(&p, json!({})), Err(Reason::MissingExp));
        assert_eq!(check(&p, json!({"exp": NOW + 60})), Ok(()));
        assert_eq!(check(&lenient(), json!({})), Ok(()));
    }

    #[test]
    fn issuer() {
        let p = Policy {
            issuers: vec!["a".into(), "b".into()],
            ..lenient()
        };
        assert_eq!(check(&p, json!({"iss": "b"})), Ok(()));
        assert_eq!(check(&p, json!({"iss": "c"})), Err(Reason::Issuer));
        assert_eq!(check(&p, json!({"iss": "B"})), Err(Reason::Issuer));
        assert_eq!(check(&p, json!({})), Err(Reason::Issuer));
        assert_eq!(check(&p, json!({"iss": ["a"]})), Err(Reason::Issuer));
        assert_eq!(check(&p, json!({"iss": 1})), Err(Reason::Issuer));
        assert_eq!(check(&p, json!({"iss": null})), Err(Reason::Issuer));
        assert_eq!(check(&lenient(), json!({"iss": 1})), Ok(()));
    }

    #[test]
    fn audience() {
        let p = Policy {
            audiences: vec!["api".into(), "web".into()],
            ..lenient()
        };
        assert_eq!(check(&p, json!({"aud": "api"})), Ok(()));
        assert_eq!(check(&p, json!({"aud": ["x", "web"]})), Ok(()));
        assert_eq!(check(&p, json!({"aud": ["x"]})), Err(Reason::Audience));
        assert_eq!(check(&p, json!({"aud": []})), Err(Reason::Audience));
        assert_eq!(check(&p, json!({"aud": ["api", 1]})), Err(Reason::Audience));
        assert_eq!(
            check(&p, json!({"aud": ["api", null]})),
            Err(Reason::Audience)
        );
        assert_eq!(check(&p, json!({"aud": 1})), Err(Reason::Audience));
        assert_eq!(
            check(&p, json!({"aud": {"api": true}})),
            Err(Reason::Audience)
        );
        assert_eq!(check(&p, json!({})), Err(Reason::Audience));
        assert_eq!(check(&p, json!({"aud": "API"})), Err(Reason::Audience));
    }

    #[test]
    fn order_time_before_iss() {
        let p = Policy {
            issuers: vec!["a".into()],
            ..lenient()
        };
        assert_eq!(
            check(&p, json!({"exp": 1, "iss": "x"})),
            Err(Reason::Expired)
        );
    }
}
