//! The checks that need no signature: `typ`, the time claims, lifetime, `iss`, `aud` (README
//! "Time and standard claims", docs/verification.md "Order of the checks").

use crate::json::JsonObject;
use crate::providers::Provider;
use crate::reason::Reason;
use serde_json::{Number, Value};
use std::cmp::Ordering;

#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Allowed clock skew in seconds.
    pub leeway: u64,
    pub require_exp: bool,
    /// When non-empty, `iss` must be a string equal to one of these.
    pub issuers: Vec<String>,
    /// When non-empty, `aud` (string or array of strings) must contain one of these, unless the
    /// token's key-source group names its own audiences.
    pub audiences: Vec<String>,
    /// `auth_jwt_rs_max_lifetime`: `exp` and `iat` present and `exp - iat` at most this.
    pub max_lifetime: Option<u64>,
    /// `auth_jwt_rs_type`: when non-empty, the header `typ` must be one of these, each kept as
    /// [`type_key`] gives it.
    pub types: Vec<String>,
}

/// A media type as `typ` compares it (RFC 7515 section 4.1.9): ASCII-lowercased, without an
/// `application/` prefix, so `application/AT+JWT` and `at+jwt` are the same type.
pub fn type_key(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) => rest.to_string(),
        None => lower,
    }
}

impl Policy {
    /// Every check of a token that needs no signature, after its shape, `alg` and `crit`, in
    /// this order: `typ` (`type`); `exp`/`nbf`/`iat` (`bad_time_claim`, `expired`,
    /// `missing_exp`, `not_yet_valid`, `iat_future`); lifetime (`lifetime`); `iss` (`issuer`:
    /// no key-source group for it, or not in `issuers`); `aud` (`audience`: the group's own
    /// audiences when it names some, else `audiences`).
    ///
    /// `provider` is the group [`crate::Providers::select`] chose for the token (`None`: none).
    pub fn check(
        &self,
        header: &JsonObject,
        claims: &JsonObject,
        now: u64,
        provider: Option<&Provider>,
    ) -> Result<(), Reason> {
        self.check_type(header)?;
        self.check_time(claims, now)?;
        let Some(provider) = provider else {
            return Err(Reason::Issuer);
        };
        if !self.issuers.is_empty() {
            match claims.get_str("iss") {
                Some(iss) if self.issuers.iter().any(|i| *i == iss) => {}
                _ => return Err(Reason::Issuer),
            }
        }
        let audiences = match provider.audiences() {
            [] => &self.audiences[..],
            own => own,
        };
        if !audiences.is_empty() && !audience_ok(audiences, claims) {
            return Err(Reason::Audience);
        }
        Ok(())
    }

    fn check_type(&self, header: &JsonObject) -> Result<(), Reason> {
        if self.types.is_empty() {
            return Ok(());
        }
        match header.get_str("typ") {
            Some(t) if self.types.contains(&type_key(&t)) => Ok(()),
            _ => Err(Reason::Type),
        }
    }

    /// The time claims against `now` (seconds since the epoch), then the lifetime.
    fn check_time(&self, claims: &JsonObject, now: u64) -> Result<(), Reason> {
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
        if let Some(max) = self.max_lifetime {
            match (exp, iat) {
                (Some(exp), Some(iat)) if !longer_than(exp, iat, max) => {}
                _ => return Err(Reason::Lifetime),
            }
        }
        Ok(())
    }
}

fn audience_ok(accepted: &[String], claims: &JsonObject) -> bool {
    let ok = |s: &str| accepted.iter().any(|a| a == s);
    let Some(raw) = claims.raw("aud") else {
        return false;
    };
    // The usual single audience: compared from the text, without parsing it.
    if let Some(s) = crate::json::raw_str(raw) {
        return ok(&s);
    }
    match serde_json::from_str::<Value>(raw).ok().as_ref() {
        Some(Value::String(s)) => ok(s),
        Some(Value::Array(items)) => {
            let mut any = false;
            for item in items {
                match item {
                    Value::String(s) => any |= ok(s),
                    _ => return false,
                }
            }
            any
        }
        _ => false,
    }
}

/// Whether `exp - iat > max`, exactly for integers.
fn longer_than(exp: Time, iat: Time, max: u64) -> bool {
    match (exp, iat) {
        (Time::Int(e), Time::Int(i)) => e - i > i128::from(max),
        // f64 is exact for any realistic time value; a NaN (impossible from JSON) fails closed
        #[allow(clippy::cast_precision_loss)]
        (e, i) => (e.as_f64() - i.as_f64())
            .partial_cmp(&(max as f64))
            .is_none_or(|o| o == Ordering::Greater),
    }
}

/// A numeric time claim, kept exact when it is an integer.
#[derive(Copy, Clone, Debug)]
enum Time {
    Int(i128),
    Float(f64),
}

fn time_claim(claims: &JsonObject, name: &str) -> Result<Option<Time>, Reason> {
    let Some(raw) = claims.raw(name) else {
        return Ok(None);
    };
    // The usual integer seconds, read directly (the text is valid JSON: no sign but `-`, no
    // leading zero); anything else through serde_json.
    if let Ok(i) = raw.parse::<i64>() {
        return Ok(Some(Time::Int(i128::from(i))));
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Number(n)) => number(&n).map(Some).ok_or(Reason::BadTimeClaim),
        _ => Err(Reason::BadTimeClaim),
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

impl Time {
    #[allow(clippy::cast_precision_loss)]
    fn as_f64(self) -> f64 {
        match self {
            Time::Int(i) => i as f64,
            Time::Float(f) => f,
        }
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
    use serde_json::{json, Map};

    const NOW: u64 = 1_700_000_000;

    fn map(v: Value) -> JsonObject {
        match v {
            Value::Object(m) => JsonObject::from_map(&m),
            _ => panic!("not an object"),
        }
    }

    fn check(p: &Policy, v: Value) -> Result<(), Reason> {
        p.check(
            &JsonObject::default(),
            &map(v),
            NOW,
            Some(&Provider::UNBOUND),
        )
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
    fn time_and_audience_read_from_the_text_as_from_a_value() {
        let p = Policy {
            audiences: vec!["api".into()],
            ..lenient()
        };
        let past = NOW - 10;
        for (claims, want) in [
            (json!({"exp": past, "aud": "api"}), Err(Reason::Expired)),
            (
                json!({"exp": past as f64 + 0.5, "aud": "api"}),
                Err(Reason::Expired),
            ),
            (json!({"exp": NOW + 10, "aud": "api"}), Ok(())),
            (
                json!({"exp": (NOW + 10) as f64 * 1.0, "aud": "api"}),
                Ok(()),
            ),
            (json!({"exp": u64::MAX, "aud": "api"}), Ok(())),
            (json!({"exp": -1, "aud": "api"}), Err(Reason::Expired)),
            (json!({"exp": NOW + 10, "aud": ["x", "api"]}), Ok(())),
            (
                json!({"exp": NOW + 10, "aud": ["api", 1]}),
                Err(Reason::Audience),
            ),
            (
                json!({"exp": NOW + 10, "aud": "apix"}),
                Err(Reason::Audience),
            ),
            (json!({"exp": NOW + 10}), Err(Reason::Audience)),
        ] {
            assert_eq!(check(&p, claims.clone()), want, "{claims}");
        }
        let escaped = JsonObject::parse(br#"{"aud":"\u0061pi"}"#, 16).unwrap();
        assert!(audience_ok(&["api".into()], &escaped));
        let big = JsonObject::parse(br#"{"exp":1e300}"#, 16).unwrap();
        assert_eq!(
            time_claim(&big, "exp").map(|t| t.map(Time::as_f64)),
            Ok(Some(1e300))
        );
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
                assert_eq!(
                    p.check(
                        &JsonObject::default(),
                        &JsonObject::from_map(&m),
                        NOW,
                        Some(&Provider::UNBOUND)
                    ),
                    Err(Reason::BadTimeClaim),
                    "{name}"
                );
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

    fn with_header(p: &Policy, h: Value, v: Value) -> Result<(), Reason> {
        p.check(&map(h), &map(v), NOW, Some(&Provider::UNBOUND))
    }

    #[test]
    fn lifetime_boundaries() {
        let p = Policy {
            max_lifetime: Some(3600),
            ..lenient()
        };
        let iat = NOW - 10;
        assert_eq!(check(&p, json!({"iat": iat, "exp": iat + 3600})), Ok(()));
        assert_eq!(
            check(&p, json!({"iat": iat, "exp": iat + 3601})),
            Err(Reason::Lifetime)
        );
        assert_eq!(check(&p, json!({"iat": iat, "exp": iat + 11})), Ok(()));
        // both claims are needed
        assert_eq!(check(&p, json!({"exp": NOW + 5})), Err(Reason::Lifetime));
        assert_eq!(check(&p, json!({"iat": iat})), Err(Reason::Lifetime));
        // fractions: exact enough at the boundary
        assert_eq!(
            check(
                &p,
                json!({"iat": iat as f64 + 0.5, "exp": iat as f64 + 3600.5})
            ),
            Ok(())
        );
        assert_eq!(
            check(&p, json!({"iat": iat as f64, "exp": iat as f64 + 3600.5})),
            Err(Reason::Lifetime)
        );
        assert_eq!(
            check(&p, json!({"iat": -1e300, "exp": 1e300})),
            Err(Reason::Lifetime)
        );
        // 0 allows only exp == iat; huge values never overflow
        let p0 = Policy {
            max_lifetime: Some(0),
            ..lenient()
        };
        assert_eq!(
            check(&p0, json!({"iat": iat, "exp": iat})),
            Err(Reason::Expired)
        );
        assert_eq!(
            check(&p0, json!({"iat": NOW, "exp": NOW + 1})),
            Err(Reason::Lifetime)
        );
        let pmax = Policy {
            max_lifetime: Some(u64::MAX),
            ..lenient()
        };
        assert_eq!(
            check(&pmax, json!({"iat": i64::MIN, "exp": u64::MAX})),
            Err(Reason::Lifetime)
        );
        assert_eq!(check(&pmax, json!({"iat": 0, "exp": u64::MAX})), Ok(()));
        // expiry and the other time claims come first; off means no check
        assert_eq!(check(&p, json!({"iat": 1, "exp": 2})), Err(Reason::Expired));
        let p = Policy {
            max_lifetime: Some(60),
            require_exp: true,
            ..lenient()
        };
        assert_eq!(check(&p, json!({"iat": NOW})), Err(Reason::MissingExp));
        assert_eq!(
            check(&lenient(), json!({"iat": 0, "exp": u64::MAX})),
            Ok(())
        );
    }

    #[test]
    fn type_is_compared_as_a_media_type() {
        let p = Policy {
            types: vec![type_key("at+jwt")],
            ..lenient()
        };
        for ok in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+JWT",
        ] {
            assert_eq!(
                with_header(&p, json!({"typ": ok}), json!({})),
                Ok(()),
                "{ok}"
            );
        }
        for bad in [
            json!({"typ": "JWT"}),
            json!({"typ": "at+jwt "}),
            json!({"typ": "application/jwt"}),
            json!({"typ": "text/at+jwt"}),
            json!({"typ": "application/application/at+jwt"}),
            json!({"typ": ["at+jwt"]}),
            json!({"typ": null}),
            json!({}),
        ] {
            assert_eq!(
                with_header(&p, bad.clone(), json!({})),
                Err(Reason::Type),
                "{bad}"
            );
        }
        // configured with the prefix, or several
        let p = Policy {
            types: vec![type_key("application/AT+JWT"), type_key("jwt")],
            ..lenient()
        };
        assert_eq!(with_header(&p, json!({"typ": "at+jwt"}), json!({})), Ok(()));
        assert_eq!(with_header(&p, json!({"typ": "JWT"}), json!({})), Ok(()));
        assert_eq!(type_key("Application/X"), "x");
        assert_eq!(type_key("x/y"), "x/y");
        // off: anything, even no typ
        assert_eq!(with_header(&lenient(), json!({}), json!({})), Ok(()));
        // the type comes before the time claims
        let p = Policy {
            types: vec![type_key("at+jwt")],
            ..lenient()
        };
        assert_eq!(
            with_header(&p, json!({"typ": "JWT"}), json!({"exp": 1})),
            Err(Reason::Type)
        );
    }

    #[test]
    fn provider_decides_issuer_and_audience() {
        use crate::providers::{Binding, Providers};
        let mut groups: Providers<()> = Providers::default();
        let a = Binding {
            issuer: Some("A".into()),
            audiences: vec!["aud-a".into()],
        };
        let b = Binding {
            issuer: Some("B".into()),
            audiences: vec![],
        };
        groups.group_mut(&a, || ()).unwrap();
        groups.group_mut(&b, || ()).unwrap();
        let p = Policy {
            audiences: vec!["loc-aud".into()],
            ..lenient()
        };
        let run = |p: &Policy, v: Value| {
            let c = map(v);
            let provider = groups.select(&c).map(|(pr, _)| pr);
            p.check(&JsonObject::default(), &c, NOW, provider)
        };
        // A's tokens need A's audience, which replaces the location's
        assert_eq!(run(&p, json!({"iss": "A", "aud": "aud-a"})), Ok(()));
        assert_eq!(
            run(&p, json!({"iss": "A", "aud": "loc-aud"})),
            Err(Reason::Audience)
        );
        assert_eq!(run(&p, json!({"iss": "A"})), Err(Reason::Audience));
        // B names none: the location's applies
        assert_eq!(run(&p, json!({"iss": "B", "aud": "loc-aud"})), Ok(()));
        assert_eq!(
            run(&p, json!({"iss": "B", "aud": "aud-a"})),
            Err(Reason::Audience)
        );
        // no group for this iss: issuer, after the time claims
        assert_eq!(
            run(&p, json!({"iss": "C", "aud": "loc-aud"})),
            Err(Reason::Issuer)
        );
        assert_eq!(run(&p, json!({"iss": "C", "exp": 1})), Err(Reason::Expired));
        assert_eq!(run(&p, json!({"aud": "loc-aud"})), Err(Reason::Issuer));
        // auth_jwt_rs_issuer still applies on top
        let p = Policy {
            issuers: vec!["B".into()],
            ..lenient()
        };
        assert_eq!(
            run(&p, json!({"iss": "A", "aud": "aud-a"})),
            Err(Reason::Issuer)
        );
        assert_eq!(run(&p, json!({"iss": "B"})), Ok(()));
        // the issuer comes before the audience
        assert_eq!(
            run(&p, json!({"iss": "A", "aud": "nope"})),
            Err(Reason::Issuer)
        );
    }
}
