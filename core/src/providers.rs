//! Issuer-bound key sources (docs/multiple-issuers.md): which group of key sources
//! verifies a token, and which audiences it must carry, given its `iss`.
//!
//! Every key source of a location is either bound to one issuer (`issuer=ISS`, optionally with
//! `audience=AUD ...`) or unbound. A token whose `iss` is exactly a bound issuer is verified only
//! by that issuer's sources; any other token (another `iss`, a non-string `iss`, none) only by
//! the unbound sources. So one provider's key can never vouch for another provider's token.

use crate::claims::Policy;
use crate::json::JsonObject;
use crate::reason::Reason;

/// The `issuer=` / `audience=` parameters of one key directive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Binding {
    pub issuer: Option<String>,
    pub audiences: Vec<String>,
}

/// Parses the parameters that follow a key directive's file or URI. Errors: an unknown
/// parameter, an empty or repeated `issuer=`, an empty `audience=`, `audience=` without
/// `issuer=`.
pub fn parse_binding(params: &[&str]) -> Result<Binding, String> {
    let mut b = Binding::default();
    for p in params {
        if let Some(iss) = p.strip_prefix("issuer=") {
            if iss.is_empty() {
                return Err("empty \"issuer=\"".into());
            }
            if b.issuer.is_some() {
                return Err("duplicate \"issuer=\"".into());
            }
            b.issuer = Some(iss.to_string());
        } else if let Some(aud) = p.strip_prefix("audience=") {
            if aud.is_empty() {
                return Err("empty \"audience=\"".into());
            }
            if !b.audiences.iter().any(|a| a == aud) {
                b.audiences.push(aud.to_string());
            }
        } else {
            return Err(format!("unknown parameter \"{}\"", crate::sanitize(p, 64)));
        }
    }
    if b.issuer.is_none() && !b.audiences.is_empty() {
        return Err("\"audience=\" needs \"issuer=\"".into());
    }
    Ok(b)
}

/// One group of key sources: bound to an issuer (with that issuer's audiences, empty = the
/// location's `auth_jwt_rs_audience`), or the unbound group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    issuer: Option<String>,
    audiences: Vec<String>,
}

impl Provider {
    /// The group of key sources without `issuer=`.
    pub const UNBOUND: Provider = Provider {
        issuer: None,
        audiences: Vec::new(),
    };

    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The audiences that replace `auth_jwt_rs_audience` for this issuer's tokens (empty: none
    /// replace it).
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }
}

/// The groups of key sources of a location, each with what the glue keeps for it (`T`: its
/// keys), in the order the directives first named them.
#[derive(Clone, Debug)]
pub struct Providers<T> {
    groups: Vec<(Provider, T)>,
}

impl<T> Default for Providers<T> {
    fn default() -> Self {
        Providers { groups: Vec::new() }
    }
}

impl<T> Providers<T> {
    /// The group a key source with `binding` belongs to, created with `new` if it is the first
    /// of its issuer. A second source of the same issuer must name the same audiences (in any
    /// order): else an error.
    pub fn group_mut(
        &mut self,
        binding: &Binding,
        new: impl FnOnce() -> T,
    ) -> Result<&mut T, String> {
        let pos = self
            .groups
            .iter()
            .position(|(p, _)| p.issuer == binding.issuer);
        let i = match pos {
            Some(i) => {
                // Both lists are free of duplicates (parse_binding): compare them as sets.
                let same = self.groups.get(i).is_some_and(|(p, _)| {
                    p.audiences.len() == binding.audiences.len()
                        && p.audiences.iter().all(|a| binding.audiences.contains(a))
                });
                if !same {
                    let iss = binding.issuer.as_deref().unwrap_or_default();
                    return Err(format!(
                        "issuer \"{}\" is bound with different audiences by another key source \
                         of this level",
                        crate::sanitize(iss, 128)
                    ));
                }
                i
            }
            None => {
                self.groups.push((
                    Provider {
                        issuer: binding.issuer.clone(),
                        audiences: binding.audiences.clone(),
                    },
                    new(),
                ));
                self.groups.len() - 1
            }
        };
        match self.groups.get_mut(i) {
            Some((_, t)) => Ok(t),
            None => Err("internal error".into()),
        }
    }

    /// The group that verifies a token with these claims: the group bound to its `iss` when
    /// there is one, else the unbound group; `None` when neither exists (reason `issuer`).
    pub fn select(&self, claims: &JsonObject) -> Option<(&Provider, &T)> {
        // Only a string iss can name a bound issuer (get_str is None for any other JSON).
        let bound = match self.groups.iter().any(|(p, _)| p.issuer.is_some()) {
            true => claims.get_str("iss").and_then(|iss| {
                self.groups
                    .iter()
                    .find(|(p, _)| p.issuer.as_deref() == Some(&*iss))
            }),
            false => None,
        };
        bound
            .or_else(|| self.groups.iter().find(|(p, _)| p.issuer.is_none()))
            .map(|(p, t)| (p, t))
    }

    /// Every check of a token that needs no signature, with the group [`Providers::select`]
    /// picks for it ([`Policy::check`]), and that group's keys when they all pass.
    pub fn admit(
        &self,
        policy: &Policy,
        header: &JsonObject,
        claims: &JsonObject,
        now: u64,
    ) -> Result<&T, Reason> {
        let selected = self.select(claims);
        policy.check(header, claims, now, selected.map(|(p, _)| p))?;
        selected.map(|(_, t)| t).ok_or(Reason::Issuer)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Provider, &T)> {
        self.groups.iter().map(|(p, t)| (p, t))
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The same groups with `f` applied to what is kept for each.
    pub fn map<U>(&self, mut f: impl FnMut(&T) -> U) -> Providers<U> {
        Providers {
            groups: self.groups.iter().map(|(p, t)| (p.clone(), f(t))).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn claims(v: Value) -> JsonObject {
        match v {
            Value::Object(m) => JsonObject::from_map(&m),
            _ => panic!("not an object"),
        }
    }

    fn bind(iss: &str, auds: &[&str]) -> Binding {
        Binding {
            issuer: Some(iss.into()),
            audiences: auds.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn parses_parameters() {
        assert_eq!(parse_binding(&[]), Ok(Binding::default()));
        assert_eq!(
            parse_binding(&[
                "issuer=https://a/",
                "audience=x",
                "audience=y",
                "audience=x"
            ]),
            Ok(bind("https://a/", &["x", "y"]))
        );
        assert_eq!(
            parse_binding(&["audience=x", "issuer=a"]),
            Ok(bind("a", &["x"]))
        );
        // an issuer with "=" in it is kept whole
        assert_eq!(parse_binding(&["issuer=a=b"]), Ok(bind("a=b", &[])));
        for (args, msg) in [
            (&["audience=x"][..], "needs \"issuer=\""),
            (&["issuer="][..], "empty \"issuer=\""),
            (&["issuer=a", "audience="][..], "empty \"audience=\""),
            (&["issuer=a", "issuer=b"][..], "duplicate"),
            (&["issuer=a", "aud=x"][..], "unknown parameter \"aud=x\""),
            (&["Issuer=a"][..], "unknown parameter"),
            (&["foo"][..], "unknown parameter \"foo\""),
        ] {
            let e = parse_binding(args).unwrap_err();
            assert!(e.contains(msg), "{args:?}: {e}");
        }
    }

    #[test]
    fn groups_by_issuer() {
        let mut p: Providers<Vec<&str>> = Providers::default();
        p.group_mut(&Binding::default(), Vec::new)
            .unwrap()
            .push("file1");
        p.group_mut(&bind("A", &["a1", "a2"]), Vec::new)
            .unwrap()
            .push("jwks-a");
        p.group_mut(&bind("A", &["a2", "a1"]), Vec::new)
            .unwrap()
            .push("file-a");
        p.group_mut(&Binding::default(), Vec::new)
            .unwrap()
            .push("file2");
        p.group_mut(&bind("B", &[]), Vec::new)
            .unwrap()
            .push("jwks-b");
        assert_eq!(p.len(), 3);
        let groups: Vec<_> = p.iter().map(|(pr, t)| (pr.issuer(), t.clone())).collect();
        assert_eq!(
            groups,
            vec![
                (None, vec!["file1", "file2"]),
                (Some("A"), vec!["jwks-a", "file-a"]),
                (Some("B"), vec!["jwks-b"]),
            ]
        );
        // the same issuer with other audiences, or with none where it had some
        for b in [
            bind("A", &["a1"]),
            bind("A", &[]),
            bind("A", &["a1", "a2", "a3"]),
        ] {
            let e = p.group_mut(&b, Vec::new).unwrap_err();
            assert!(e.contains("different audiences"), "{e}");
        }
        assert!(p.group_mut(&bind("B", &["b"]), Vec::new).is_err());
        let mapped = p.map(Vec::len);
        assert_eq!(
            mapped.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
    }

    #[test]
    fn selects_by_iss() {
        let mut p: Providers<&str> = Providers::default();
        *p.group_mut(&bind("https://a.example", &["api-a"]), || "")
            .unwrap() = "A";
        *p.group_mut(&bind("https://b.example", &[]), || "").unwrap() = "B";
        let sel = |v: Value| {
            p.select(&claims(v))
                .map(|(pr, t)| (pr.audiences().to_vec(), *t))
        };
        assert_eq!(
            sel(json!({"iss": "https://a.example"})),
            Some((vec!["api-a".to_string()], "A"))
        );
        assert_eq!(
            sel(json!({"iss": "https://b.example"})),
            Some((vec![], "B"))
        );
        // no unbound group: every other token has no group at all
        for other in [
            json!({"iss": "https://c.example"}),
            json!({"iss": "https://A.example"}),
            json!({"iss": "https://a.example/"}),
            json!({"iss": ["https://a.example"]}),
            json!({"iss": 1}),
            json!({}),
        ] {
            assert_eq!(sel(other.clone()), None, "{other}");
        }
        // with an unbound group, those go there, and bound issuers still never do
        *p.group_mut(&Binding::default(), || "").unwrap() = "U";
        let sel = |v: Value| p.select(&claims(v)).map(|(pr, t)| (pr.issuer(), *t));
        assert_eq!(sel(json!({"iss": "https://c.example"})), Some((None, "U")));
        assert_eq!(sel(json!({})), Some((None, "U")));
        assert_eq!(sel(json!({"iss": 1})), Some((None, "U")));
        assert_eq!(
            sel(json!({"iss": "https://a.example"})),
            Some((Some("https://a.example"), "A"))
        );
        assert_eq!(Provider::UNBOUND.issuer(), None);
        assert!(Provider::UNBOUND.audiences().is_empty());
    }

    #[test]
    fn only_unbound_is_like_before() {
        let mut p: Providers<u8> = Providers::default();
        *p.group_mut(&Binding::default(), || 0).unwrap() = 7;
        for c in [json!({"iss": "x"}), json!({}), json!({"iss": null})] {
            assert_eq!(p.select(&claims(c)).map(|(_, t)| *t), Some(7));
        }
        assert!(Providers::<u8>::default()
            .select(&claims(json!({})))
            .is_none());
    }
}
