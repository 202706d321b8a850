//! Claim paths: dotted segments (`realm_access.roles`) or RFC 6901 JSON Pointers
//! (`/https:~1~1example.com~1roles`).

use crate::json::JsonObject;
use crate::render::{expose_owned, Exposed};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimPath {
    text: String,
    segments: Vec<String>,
}

impl ClaimPath {
    pub fn parse(s: &str) -> Result<ClaimPath, String> {
        let segments = if let Some(pointer) = s.strip_prefix('/') {
            pointer
                .split('/')
                .map(unescape)
                .collect::<Result<Vec<_>, _>>()?
        } else {
            if s.is_empty() {
                return Err("empty claim path".to_string());
            }
            let segs: Vec<String> = s.split('.').map(str::to_string).collect();
            if segs.iter().any(String::is_empty) {
                return Err(format!("empty segment in claim path \"{s}\""));
            }
            segs
        };
        Ok(ClaimPath {
            text: s.to_string(),
            segments,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The unescaped segments.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The claim as a variable shows it ([`crate::render::expose`]); a top-level claim that is a
    /// string is shown from the claims' text without building a `Value`.
    pub fn expose<'c>(&self, claims: &'c JsonObject) -> Exposed<'c> {
        match &self.segments[..] {
            [name] => claims.expose(name),
            _ => expose_owned(self.lookup(claims)),
        }
    }

    /// Follows the path: object members by name, array elements by decimal index. Only the
    /// top-level claim the path starts with is parsed.
    pub fn lookup(&self, claims: &JsonObject) -> Option<Value> {
        let (first, rest) = self.segments.split_first()?;
        let mut cur = claims.get(first)?;
        for seg in rest {
            cur = match cur {
                Value::Object(mut m) => m.remove(seg)?,
                Value::Array(mut a) => {
                    let i = array_index(seg)?;
                    if i >= a.len() {
                        return None;
                    }
                    a.swap_remove(i)
                }
                _ => return None,
            };
        }
        Some(cur)
    }
}

impl std::fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// RFC 6901 reference token unescaping: `~1` → `/`, `~0` → `~`, any other `~` is an error.
fn unescape(token: &str) -> Result<String, String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => {
                    return Err(format!(
                        "invalid escape in JSON Pointer segment \"{token}\""
                    ))
                }
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// RFC 6901 array index: `0` or decimal digits without a leading zero.
fn array_index(seg: &str) -> Option<usize> {
    if seg.is_empty() || !seg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if seg.len() > 1 && seg.starts_with('0') {
        return None;
    }
    seg.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims() -> JsonObject {
        match json!({
            "sub": "alice",
            "realm_access": {"roles": ["admin", "dev"]},
            "https://example.com/roles": ["r1"],
            "a.b": 1,
            "t~x": {"": "empty"},
            "n": null,
        }) {
            Value::Object(m) => JsonObject::from_map(&m),
            _ => unreachable!(),
        }
    }

    fn get(p: &str) -> Option<Value> {
        ClaimPath::parse(p).unwrap().lookup(&claims())
    }

    #[test]
    fn dotted_paths() {
        assert_eq!(get("sub"), Some(json!("alice")));
        assert_eq!(get("realm_access.roles"), Some(json!(["admin", "dev"])));
        assert_eq!(get("realm_access.roles.1"), Some(json!("dev")));
        assert_eq!(get("realm_access.roles.2"), None);
        assert_eq!(get("realm_access.roles.01"), None);
        assert_eq!(get("realm_access.roles.x"), None);
        assert_eq!(get("sub.x"), None);
        assert_eq!(get("missing"), None);
        assert_eq!(get("a.b"), None);
        assert_eq!(get("n"), Some(Value::Null));
        assert_eq!(
            ClaimPath::parse("realm_access.roles").unwrap().as_str(),
            "realm_access.roles"
        );
    }

    #[test]
    fn pointer_paths() {
        assert_eq!(get("/https:~1~1example.com~1roles"), Some(json!(["r1"])));
        assert_eq!(get("/https:~1~1example.com~1roles/0"), Some(json!("r1")));
        assert_eq!(get("/a.b"), Some(json!(1)));
        assert_eq!(get("/t~0x/"), Some(json!("empty")));
        assert_eq!(get("/realm_access/roles/0"), Some(json!("admin")));
        assert_eq!(
            ClaimPath::parse("/a~1b~0c").unwrap().segments(),
            &["a/b~c".to_string()]
        );
    }

    #[test]
    fn invalid_paths() {
        for p in ["", ".", "a.", ".a", "a..b", "/a~2", "/a~", "/~x/b"] {
            assert!(ClaimPath::parse(p).is_err(), "{p}");
        }
    }
}
