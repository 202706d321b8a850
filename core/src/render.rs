//! Rendering claim and header values as nginx variable values (README, "Variables").

use serde_json::Value;
use std::borrow::Cow;

/// Renders `v`: strings as is, numbers as JSON numbers, `true`/`false`, arrays joined with `,`
/// (string elements raw, others compact JSON), objects as compact JSON. `null` renders as
/// nothing (`None`).
pub fn render(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Bool(true) => Some(Cow::Borrowed("true")),
        Value::Bool(false) => Some(Cow::Borrowed("false")),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Array(items) => {
            let mut out = String::new();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match item {
                    Value::String(s) => out.push_str(s),
                    other => out.push_str(&compact(other)),
                }
            }
            Some(Cow::Owned(out))
        }
        Value::Object(_) => Some(Cow::Owned(compact(v))),
    }
}

fn compact(v: &Value) -> String {
    compact_json(v)
}

/// Compact JSON free of control characters: serde_json escapes those below 0x20 but writes DEL
/// (0x7F) raw, which JSON allows and the README ("Variables") does not (a variable never holds
/// 0x7F), so DEL is written `\u007f`. DEL only occurs inside strings (member names included) and is
/// ASCII, so the replacement keeps the same JSON value and valid UTF-8.
pub fn compact_json(v: &Value) -> String {
    // Serializing a `Value` into a String cannot fail; fall back to empty rather than panic.
    escape_del(serde_json::to_string(v).unwrap_or_default())
}

/// `json` (serde_json output) with every DEL written `\u007f`.
pub(crate) fn escape_del(json: String) -> String {
    if json.contains('\x7f') {
        json.replace('\x7f', "\\u007f")
    } else {
        json
    }
}

/// What a variable shows for a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exposed<'a> {
    Value(Cow<'a, str>),
    /// Missing or `null`: the variable is not found / empty.
    Empty,
    /// The rendered text holds a control character: never expose it (log instead).
    Unsafe,
}

/// Renders `v` and refuses values containing a byte below 0x20 or 0x7F, so a claim can never
/// inject a header line upstream.
pub fn expose(v: Option<&Value>) -> Exposed<'_> {
    v.and_then(render).map_or(Exposed::Empty, shown)
}

/// A rendered text as a variable shows it: as is, unless it holds a control character or DEL.
pub(crate) fn shown(text: Cow<'_, str>) -> Exposed<'_> {
    if has_control(text.as_bytes()) {
        Exposed::Unsafe
    } else {
        Exposed::Value(text)
    }
}

/// [`expose`] of a value that is not kept: the shown text is owned.
pub fn expose_owned(v: Option<Value>) -> Exposed<'static> {
    match expose(v.as_ref()) {
        Exposed::Value(text) => Exposed::Value(Cow::Owned(text.into_owned())),
        Exposed::Empty => Exposed::Empty,
        Exposed::Unsafe => Exposed::Unsafe,
    }
}

/// True when `bytes` holds a byte below 0x20 or 0x7F.
pub fn has_control(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| b < 0x20 || b == 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(v: Value) -> Option<String> {
        render(&v).map(|c| c.into_owned())
    }

    #[test]
    fn renders_per_spec() {
        assert_eq!(r(json!("alice")), Some("alice".into()));
        assert_eq!(r(json!("")), Some("".into()));
        assert_eq!(r(json!(42)), Some("42".into()));
        assert_eq!(r(json!(-7)), Some("-7".into()));
        assert_eq!(r(json!(1.5)), Some("1.5".into()));
        assert_eq!(r(json!(true)), Some("true".into()));
        assert_eq!(r(json!(false)), Some("false".into()));
        assert_eq!(r(Value::Null), None);
        assert_eq!(
            r(json!(["a", "b c", 1, true, null, {"k": "v"}, [1, "x"]])),
            Some("a,b c,1,true,null,{\"k\":\"v\"},[1,\"x\"]".into())
        );
        assert_eq!(r(json!([])), Some("".into()));
        assert_eq!(
            r(json!({"a": [1, 2], "b": "x"})),
            Some("{\"a\":[1,2],\"b\":\"x\"}".into())
        );
        assert!(matches!(render(&json!("s")), Some(Cow::Borrowed(_))));
    }

    #[test]
    fn compact_json_has_no_control_characters() {
        let v = json!({"a\x7f": "\x7f\u{0}\n\u{1f}é", "n": [1.5, null, "\x7f\x7f"]});
        let s = compact_json(&v);
        assert!(!has_control(s.as_bytes()), "{s}");
        assert_eq!(serde_json::from_str::<Value>(&s).unwrap(), v);
        assert_eq!(
            s,
            "{\"a\\u007f\":\"\\u007f\\u0000\\n\\u001fé\",\"n\":[1.5,null,\"\\u007f\\u007f\"]}"
        );
        assert_eq!(compact_json(&json!({"k": "v"})), "{\"k\":\"v\"}");
    }

    #[test]
    fn exposes_safely() {
        assert_eq!(expose(None), Exposed::Empty);
        assert_eq!(expose(Some(&Value::Null)), Exposed::Empty);
        assert_eq!(
            expose(Some(&json!("ok"))),
            Exposed::Value(Cow::Borrowed("ok"))
        );
        for bad in [
            "a\r\nX-Evil: 1",
            "a\nb",
            "nul\0",
            "tab\t",
            "del\x7f",
            "\x1f",
        ] {
            assert_eq!(expose(Some(&json!(bad))), Exposed::Unsafe, "{bad:?}");
            assert_eq!(expose(Some(&json!(["ok", bad]))), Exposed::Unsafe);
        }
        // Inside objects, serde_json escapes control characters, so compact JSON is safe.
        assert_eq!(
            expose(Some(&json!({"k": "a\nb"}))),
            Exposed::Value(Cow::Owned("{\"k\":\"a\\nb\"}".into()))
        );
        // ... except DEL, which compact_json escapes itself (found by the claims fuzz target)
        assert_eq!(
            expose(Some(&json!({"k\x7f": ["a\x7fb", 1]}))),
            Exposed::Value(Cow::Owned("{\"k\\u007f\":[\"a\\u007fb\",1]}".into()))
        );
        assert_eq!(
            expose(Some(&json!([{"d": "\x7f"}, "x"]))),
            Exposed::Value(Cow::Owned("{\"d\":\"\\u007f\"},x".into()))
        );
        assert_eq!(expose(Some(&json!(["\x7f", "x"]))), Exposed::Unsafe);
        assert_eq!(
            expose(Some(&json!("é ünïcode"))),
            Exposed::Value(Cow::Borrowed("é ünïcode"))
        );
    }
}
