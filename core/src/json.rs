//! A JSON object kept as its text: the JOSE header and the claims set of a token.
//!
//! A token's header and claims are read a few members at a time (`alg`, `exp`, `iss`, the
//! claims a variable or a rule names), so they are not turned into a tree of
//! `serde_json::Value`s: [`JsonObject`] keeps the validated text and where each top-level member
//! is (8 bytes a member), and parses a member's value when it is asked for. That costs no
//! allocation per claim when a token is decoded, and keeps a cached token about as small as its
//! JSON (docs/verification.md, "The verified-token cache").
//!
//! Validation is exactly as strict as parsing into `serde_json::Value`: the text must be one
//! JSON object (serde_json's grammar, numbers in range, strings without lone surrogates), within
//! the structural caps of [`crate::token`]. Only then is a [`JsonObject`] made, so reading a
//! member later cannot fail. Duplicate member names are kept; the last one wins, as in a
//! `serde_json::Map`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::reason::Reason;
use crate::render::{expose_owned, shown, Exposed};
use crate::token::MAX_JSON_DEPTH;

/// Where a top-level member is in the text: its name (inside the quotes) and its value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Member {
    name: (u16, u16),
    value: (u16, u16),
}

/// A validated JSON object and the positions of its top-level members.
#[derive(Clone, PartialEq, Eq)]
pub struct JsonObject {
    text: String,
    members: Box<[Member]>,
    /// Whether some member name has an escape (then names are compared decoded).
    escaped_names: bool,
}

impl fmt::Debug for JsonObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonObject")
            .field("members", &self.members.len())
            .finish_non_exhaustive()
    }
}

impl Default for JsonObject {
    fn default() -> Self {
        JsonObject {
            text: "{}".to_string(),
            members: Box::new([]),
            escaped_names: false,
        }
    }
}

/// Longest text a [`JsonObject`] holds (positions are 16-bit); a decoded token segment is far
/// shorter ([`crate::MAX_TOKEN_LEN`]).
pub const MAX_OBJECT_LEN: usize = u16::MAX as usize;

impl JsonObject {
    /// Checks `json`: the caps first (the same as [`crate::token::check_json_limits`] with
    /// `max_members`: `too_large`), then that it is one JSON object (`malformed`).
    pub fn parse(json: &[u8], max_members: usize) -> Result<JsonObject, Reason> {
        JsonObject::from_vec(json.to_vec(), max_members)
    }

    /// [`JsonObject::parse`], keeping `json`'s buffer.
    pub fn from_vec(json: Vec<u8>, max_members: usize) -> Result<JsonObject, Reason> {
        if json.len() > MAX_OBJECT_LEN {
            return Err(Reason::TooLarge);
        }
        let members = scan(&json, max_members)?;
        let text = String::from_utf8(json).map_err(|_| Reason::Malformed)?;
        // The scan's positions are exact for valid JSON, and only valid JSON is kept: one
        // object, checked as strictly as a full parse, with as many members as the scan saw.
        if Strict::members(&text) != Some(members.len()) {
            return Err(Reason::Malformed);
        }
        let escaped_names = members.iter().any(|m| {
            text.get(usize::from(m.name.0)..usize::from(m.name.1))
                .is_none_or(|n| n.contains('\\'))
        });
        Ok(JsonObject {
            text,
            members,
            escaped_names,
        })
    }

    /// The value of member `name` (the last one of that name).
    pub fn get(&self, name: &str) -> Option<Value> {
        serde_json::from_str(self.raw(name)?).ok()
    }

    /// The JSON text of member `name`'s value.
    pub fn raw(&self, name: &str) -> Option<&str> {
        let m = self.members.iter().rev().find(|m| self.name_is(m, name))?;
        self.span(m.value)
    }

    /// Member `name` when it is a JSON string.
    pub fn get_str(&self, name: &str) -> Option<Cow<'_, str>> {
        raw_str(self.raw(name)?)
    }

    /// Member `name` as a variable shows it ([`crate::render::expose`]): a string without
    /// escapes is shown from the text as it is, without parsing it into a `Value`.
    pub fn expose(&self, name: &str) -> Exposed<'_> {
        let Some(raw) = self.raw(name) else {
            return Exposed::Empty;
        };
        match raw_str(raw) {
            Some(s) => shown(s),
            None => expose_owned(serde_json::from_str(raw).ok()),
        }
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.members.iter().any(|m| self.name_is(m, name))
    }

    /// Number of members (duplicates counted).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The object as it was received.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The whole object as a `serde_json::Map` (duplicates: the last one wins).
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::from_str(&self.text) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }

    /// A `JsonObject` of `map` (tests, tools).
    pub fn from_map(map: &Map<String, Value>) -> JsonObject {
        let text = serde_json::to_string(map).unwrap_or_else(|_| "{}".into());
        JsonObject::parse(text.as_bytes(), usize::MAX).unwrap_or_default()
    }

    /// Bytes this object holds on the heap (its text and its member index), for the cache's
    /// memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + std::mem::size_of_val(&*self.members)
    }

    fn span(&self, (start, end): (u16, u16)) -> Option<&str> {
        self.text.get(usize::from(start)..usize::from(end))
    }

    fn name_is(&self, m: &Member, name: &str) -> bool {
        if !self.escaped_names {
            // Bytes, length first: no UTF-8 boundary checks on the lookup path.
            let (start, end) = (usize::from(m.name.0), usize::from(m.name.1));
            return end.wrapping_sub(start) == name.len()
                && self.text.as_bytes().get(start..end) == Some(name.as_bytes());
        }
        match self.span(m.name) {
            Some(raw) if !raw.contains('\\') => raw == name,
            // An escaped name: compare what it stands for.
            Some(raw) => {
                serde_json::from_str::<String>(&format!("\"{raw}\"")).is_ok_and(|n| n == name)
            }
            None => false,
        }
    }
}

/// The string a member's JSON text `raw` holds, if it is a string (borrowed when it has no
/// escapes).
pub(crate) fn raw_str(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// One linear pass over `json` (no recursion; string contents skipped with memchr): the caps
/// of [`crate::token::check_json_limits`] (nesting deeper than [`MAX_JSON_DEPTH`], more than
/// `max_members` top-level members: `too_large`, whatever else the text is), and the position
/// of every top-level member's name and value. The positions are only meaningful for valid
/// JSON, which the caller checks afterwards.
fn scan(json: &[u8], max_members: usize) -> Result<Box<[Member]>, Reason> {
    #[derive(PartialEq)]
    enum At {
        Key,
        Colon,
        Value,
        InValue,
    }
    let pos = |i: usize| u16::try_from(i).map_err(|_| Reason::TooLarge);
    // Members are gathered on the stack (most objects have fewer than 32), then allocated once.
    let mut members = Members::default();
    let mut depth = 0usize;
    let mut at = At::Key;
    let (mut name, mut value_start, mut last) = ((0u16, 0u16), 0usize, 0usize);
    let mut i = 0usize;
    while let Some(&b) = json.get(i) {
        let start = i;
        i += 1;
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        match b {
            b'"' => {
                i = string_end(json, i).ok_or(Reason::Malformed)?;
                if depth == 1 && at == At::Key {
                    name = (pos(start + 1)?, pos(i - 1)?);
                    at = At::Colon;
                }
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(Reason::TooLarge);
                }
            }
            b'}' | b']' => {
                if depth == 1 && at == At::InValue {
                    members.push(Member {
                        name,
                        value: (pos(value_start)?, pos(last + 1)?),
                    });
                }
                depth = depth.saturating_sub(1);
            }
            b':' if depth == 1 => {
                if members.len() >= max_members {
                    return Err(Reason::TooLarge);
                }
                at = At::Value;
            }
            b',' if depth == 1 => {
                if at == At::InValue {
                    members.push(Member {
                        name,
                        value: (pos(value_start)?, pos(last + 1)?),
                    });
                }
                at = At::Key;
            }
            _ => {}
        }
        // A value starts at the first byte after the colon: at depth 1, or at depth 2 when that
        // byte opened an object or array.
        let opened = depth == 2 && matches!(b, b'{' | b'[');
        if at == At::Value && ((depth == 1 && b != b':') || opened) {
            value_start = start;
            at = At::InValue;
        }
        last = i - 1;
    }
    Ok(members.into_boxed())
}

/// The position after the closing quote of the string whose contents start at `i`, past
/// escaped characters; `None` if it is not terminated. Eight bytes at a time: a word without a
/// `"` or `\` is skipped whole.
fn string_end(json: &[u8], mut i: usize) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    loop {
        if let Some(word) = json.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
            let x = u64::from_le_bytes(word);
            let (q, e) = (x ^ (LO * u64::from(b'"')), x ^ (LO * u64::from(b'\\')));
            // a zero byte of q or e is a quote or a backslash; the lowest flag is exact
            let hit = ((q.wrapping_sub(LO) & !q) | (e.wrapping_sub(LO) & !e)) & HI;
            if hit == 0 {
                i += 8;
                continue;
            }
            i += (hit.trailing_zeros() / 8) as usize;
        }
        match *json.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// Members found by [`scan`]: the first 32 on the stack.
#[derive(Default)]
struct Members {
    inline: [Member; 32],
    n: usize,
    more: Vec<Member>,
}

impl Members {
    fn push(&mut self, m: Member) {
        match self.inline.get_mut(self.n) {
            Some(slot) => *slot = m,
            None => self.more.push(m),
        }
        self.n += 1;
    }

    fn len(&self) -> usize {
        self.n
    }

    /// One allocation of exactly the members found.
    fn into_boxed(self) -> Box<[Member]> {
        let mut all = Vec::with_capacity(self.n);
        all.extend(self.inline.iter().take(self.n));
        all.extend(self.more);
        all.into_boxed_slice()
    }
}

/// Validates JSON the way parsing into a `serde_json::Value` does, without building one.
struct Strict;

impl Strict {
    /// The number of members of `json` if it is exactly one JSON object.
    fn members(json: &str) -> Option<usize> {
        let mut de = serde_json::Deserializer::from_str(json);
        let n = de::Deserializer::deserialize_map(&mut de, TopLevel).ok()?;
        de.end().ok()?;
        Some(n)
    }
}

/// The top-level object: its members counted, each checked by [`Strict`].
struct TopLevel;

impl<'de> Visitor<'de> for TopLevel {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
        let mut n = 0usize;
        while map.next_key::<IgnoredStr>()?.is_some() {
            map.next_value_seed(Strict)?;
            n += 1;
        }
        Ok(n)
    }
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(Strict)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<(), E> {
        // serde_json already refuses numbers out of range; stay explicit about it
        if f.is_finite() {
            Ok(())
        } else {
            Err(E::custom("number out of range"))
        }
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_borrowed_str<E>(self, _: &'de str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Strict)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredStr>()?.is_some() {
            map.next_value_seed(Strict)?;
        }
        Ok(())
    }
}

/// A map key, checked as a string (serde_json parses it as one) and dropped.
struct IgnoredStr;

impl<'de> de::Deserialize<'de> for IgnoredStr {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Strict).map(|()| IgnoredStr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(s: &str) -> Result<JsonObject, Reason> {
        JsonObject::parse(s.as_bytes(), 256)
    }

    #[test]
    fn expose_reads_plain_strings_from_the_text_and_the_rest_like_render() {
        let text = r#"{"sub":"alice","esc":"a\u0041\"b","del":"xDELy","nl":"a\nb","n":42,"f":1.5,
                "t":true,"z":null,"arr":["a",1],"o":{"k":"v"}}"#
            .replace("DEL", "\u{7f}");
        let o = obj(&text).unwrap();
        assert!(matches!(
            o.expose("sub"),
            Exposed::Value(Cow::Borrowed("alice"))
        ));
        for name in [
            "sub", "esc", "del", "nl", "n", "f", "t", "z", "arr", "o", "missing",
        ] {
            let slow = crate::render::expose_owned(o.get(name));
            assert_eq!(o.expose(name), slow, "{name}");
        }
        assert_eq!(o.expose("esc"), Exposed::Value(Cow::Borrowed("aA\"b")));
        assert_eq!(o.expose("del"), Exposed::Unsafe);
        assert_eq!(o.expose("nl"), Exposed::Unsafe);
        assert_eq!(o.expose("z"), Exposed::Empty);
        assert_eq!(o.expose("arr"), Exposed::Value(Cow::Borrowed("a,1")));
    }

    #[test]
    fn members_on_demand() {
        let o = obj(
            r#" { "iss" : "https://a/" , "exp":1700000000, "aud":["x","y"],
            "n":{"a":[1,{"b":null}]}, "f": 1.5e3, "t": true, "z": null } "#,
        )
        .unwrap();
        assert_eq!(o.len(), 7);
        assert_eq!(o.get("iss"), Some(json!("https://a/")));
        assert_eq!(o.get_str("iss").as_deref(), Some("https://a/"));
        assert!(matches!(o.get_str("iss"), Some(Cow::Borrowed(_))));
        assert_eq!(o.get("exp"), Some(json!(1_700_000_000u64)));
        assert_eq!(o.get_str("exp"), None);
        assert_eq!(o.get("aud"), Some(json!(["x", "y"])));
        assert_eq!(o.raw("n"), Some(r#"{"a":[1,{"b":null}]}"#));
        assert_eq!(o.get("f"), Some(json!(1500.0)));
        assert_eq!(o.get("t"), Some(json!(true)));
        assert_eq!(o.get("z"), Some(Value::Null));
        assert!(o.contains_key("z"));
        assert_eq!(o.get("missing"), None);
        assert!(!o.contains_key("missing"));
        assert_eq!(o.get("ISS"), None);
        let m = o.to_map();
        assert_eq!(m.len(), 7);
        assert_eq!(m["aud"], json!(["x", "y"]));
        assert_eq!(JsonObject::from_map(&m).to_map(), m);
    }

    #[test]
    fn escaped_names_and_strings() {
        let o = obj(r#"{"a\"b":1,"\u0069ss":"x\ny","c\\d":"\u00e9","e":"\ud83d\ude00"}"#).unwrap();
        assert_eq!(o.get("a\"b"), Some(json!(1)));
        assert_eq!(o.get("iss"), Some(json!("x\ny")));
        assert_eq!(o.get_str("iss").as_deref(), Some("x\ny"));
        assert_eq!(o.get("c\\d"), Some(json!("é")));
        assert_eq!(o.get_str("e").as_deref(), Some("😀"));
        assert!(o.contains_key("iss"));
        assert_eq!(o.get("\\u0069ss"), None);
    }

    #[test]
    fn duplicates_last_wins() {
        let o = obj(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(o.len(), 3);
        assert_eq!(o.get("a"), Some(json!(3)));
        assert_eq!(o.to_map()["a"], json!(3));
    }

    #[test]
    fn as_strict_as_a_full_parse() {
        for bad in [
            "",
            " ",
            "[1]",
            "\"s\"",
            "1",
            "null",
            "{",
            "{}x",
            "{} {}",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{,}",
            "{\"a\":1 \"b\":2}",
            "{a:1}",
            "{'a':1}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":1e400}",
            "{\"a\":-1e400}",
            "{\"a\":[1e999]}",
            "{\"a\":\"\\ud800\"}",
            "{\"\\udc00\":1}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"tab\tin\"}",
            "{\"a\":tru}",
            "{\"a\":NaN}",
            "\u{feff}{}",
        ] {
            assert!(
                serde_json::from_str::<Map<String, Value>>(bad).is_err(),
                "serde accepts {bad:?}"
            );
            assert!(obj(bad).is_err(), "{bad:?}");
        }
        for good in [
            "{}",
            " {} ",
            "\n{\"a\":1e308}\t",
            "{\"a\":-0}",
            "{\"\":\"\"}",
        ] {
            assert!(obj(good).is_ok(), "{good:?}");
        }
        assert_eq!(obj("{\"a\":[[[[").unwrap_err(), Reason::Malformed);
        assert_eq!(
            JsonObject::parse(b"{\"a\":\xff}", 8).unwrap_err(),
            Reason::Malformed
        );
    }

    #[test]
    fn caps_first() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
        assert_eq!(obj(&deep).unwrap_err(), Reason::TooLarge);
        assert_eq!(
            JsonObject::parse(br#"{"a":1,"b":2,"c":3}"#, 2).unwrap_err(),
            Reason::TooLarge
        );
        let long = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_OBJECT_LEN));
        assert_eq!(
            JsonObject::parse(long.as_bytes(), 8).unwrap_err(),
            Reason::TooLarge
        );
        let near = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_OBJECT_LEN - 8));
        assert_eq!(
            JsonObject::parse(near.as_bytes(), 8)
                .unwrap()
                .get_str("a")
                .map(|s| s.len()),
            Some(MAX_OBJECT_LEN - 8)
        );
    }

    /// A small deterministic generator (xorshift), so the differential tests need no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    const NAMES: [&str; 9] = ["iss", "aud", "a\"b", "é", "😀", "", "x y", "a\\b", "exp"];

    fn ws(rng: &mut Rng, out: &mut String) {
        for _ in 0..rng.below(3) {
            out.push([' ', '\t', '\n', '\r'][rng.below(4) as usize]);
        }
    }

    /// JSON text of a string, with some characters written as \u escapes.
    fn string(rng: &mut Rng, s: &str, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if rng.below(4) == 0 => {
                    let mut buf = [0u16; 2];
                    for u in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{:04x}", u));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    fn value(rng: &mut Rng, depth: u32, out: &mut String) {
        match rng.below(if depth > 3 { 6 } else { 8 }) {
            0 => out.push_str("null"),
            1 => out.push_str(["true", "false"][rng.below(2) as usize]),
            2 => out.push_str(&(rng.next() as i64 >> rng.below(60)).to_string()),
            3 => out.push_str(
                ["1.5e3", "-0.25", "1e308", "18446744073709551615", "0"][rng.below(5) as usize],
            ),
            4 | 5 => {
                let s = NAMES[rng.below(NAMES.len() as u64) as usize].repeat(rng.below(3) as usize);
                string(rng, &s, out)
            }
            6 => {
                out.push('[');
                for i in 0..rng.below(4) {
                    if i > 0 {
                        out.push(',');
                    }
                    ws(rng, out);
                    value(rng, depth + 1, out);
                    ws(rng, out);
                }
                out.push(']');
            }
            _ => object(rng, depth + 1, out),
        }
    }

    fn object(rng: &mut Rng, depth: u32, out: &mut String) {
        out.push('{');
        for i in 0..rng.below(7) {
            if i > 0 {
                out.push(',');
            }
            ws(rng, out);
            let name = NAMES[rng.below(NAMES.len() as u64) as usize];
            string(rng, name, out);
            ws(rng, out);
            out.push(':');
            ws(rng, out);
            value(rng, depth, out);
            ws(rng, out);
        }
        out.push('}');
    }

    /// Every member as a full parse sees it, and nothing more.
    fn same_as_serde(o: &JsonObject, full: &Map<String, Value>, text: &str) {
        assert_eq!(&o.to_map(), full, "{text}");
        for name in NAMES.iter().copied().chain(["missing", "ISS"]) {
            assert_eq!(o.get(name).as_ref(), full.get(name), "{name} in {text}");
            assert_eq!(
                o.contains_key(name),
                full.contains_key(name),
                "{name} in {text}"
            );
            let s = full.get(name).and_then(Value::as_str).map(str::to_string);
            assert_eq!(
                o.get_str(name).map(|c| c.into_owned()),
                s,
                "{name} in {text}"
            );
        }
    }

    #[test]
    fn differential_valid_documents() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let mut text = String::new();
            ws(&mut rng, &mut text);
            object(&mut rng, 1, &mut text);
            ws(&mut rng, &mut text);
            let full: Map<String, Value> = serde_json::from_str(&text).expect(&text);
            let o = obj(&text).unwrap_or_else(|e| panic!("{e:?}: {text}"));
            same_as_serde(&o, &full, &text);
        }
    }

    #[test]
    fn differential_mutations() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let bytes = b" {}[]\":,\\u0123456789abcdefe.-+tnrl\t\n\xc3\xa9\xff";
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..20000 {
            let mut text = String::new();
            object(&mut rng, 1, &mut text);
            let mut t = text.into_bytes();
            for _ in 0..=rng.below(2) {
                let at = rng.below(t.len() as u64 + 1) as usize;
                let b = bytes[rng.below(bytes.len() as u64) as usize];
                match rng.below(3) {
                    0 if at < t.len() => t[at] = b,
                    1 if at < t.len() => {
                        t.remove(at);
                    }
                    _ => t.insert(at, b),
                }
            }
            let full = serde_json::from_slice::<Map<String, Value>>(&t);
            match (JsonObject::parse(&t, 256), full) {
                (Ok(o), Ok(full)) => {
                    accepted += 1;
                    same_as_serde(&o, &full, &String::from_utf8_lossy(&t));
                }
                (Err(_), Err(_)) => refused += 1,
                (o, f) => panic!(
                    "disagree on {:?}: ours {:?}, serde {:?}",
                    String::from_utf8_lossy(&t),
                    o.map(|_| ()),
                    f.map(|_| ())
                ),
            }
        }
        assert!(accepted > 1000 && refused > 1000, "{accepted} / {refused}");
    }

    #[test]
    fn small() {
        let o = obj(r#"{"sub":"alice","exp":1}"#).unwrap();
        assert_eq!(o.heap_bytes(), 23 + 2 * 8);
        assert_eq!(std::mem::size_of::<JsonObject>(), 48);
    }
}
