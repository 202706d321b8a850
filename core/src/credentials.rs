//! Extracting a token from request header values, without copying (README, "auth_jwt_rs_token").
//! The nginx glue finds the header lines; these functions only look at one value's bytes.

/// `Authorization: Bearer <token>` → `<token>`. The scheme is matched case-insensitively and
/// must be followed by one or more spaces; trailing spaces are dropped. Anything else (another
/// scheme, `Bearer` alone, `Bearer` followed only by spaces, `Bearertoken`) is `None`: this
/// source has no token. Same as the `header=NAME` source's `Bearer ` prefix handling.
pub fn bearer_credentials(value: &[u8]) -> Option<&[u8]> {
    const SCHEME: &[u8] = b"bearer";
    let (scheme, rest) = value.split_at_checked(SCHEME.len())?;
    if !scheme.eq_ignore_ascii_case(SCHEME) || rest.first() != Some(&b' ') {
        return None;
    }
    let start = rest.iter().position(|&c| c != b' ')?;
    let end = rest.iter().rposition(|&c| c != b' ')? + 1;
    rest.get(start..end).filter(|t| !t.is_empty())
}

/// The value of the first cookie named exactly `name` in one `Cookie` header value (RFC 6265
/// §4.2.1 / §5.4: `name=value` pairs separated by `;`, optional spaces or tabs around each
/// pair and around the value). Names are case-sensitive; the value is returned as sent (a
/// quoted value keeps its quotes). A pair without `=` is skipped. `None` when absent or when
/// `name` is empty; `Some(b"")` for `name=`.
pub fn cookie_value<'a>(header: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    if name.is_empty() {
        return None;
    }
    header.split(|&b| b == b';').find_map(|pair| {
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (n, v) = (pair.get(..eq)?, pair.get(eq + 1..)?);
        (trim_ows(n) == name).then(|| trim_ows(v))
    })
}

/// Strips leading and trailing spaces and horizontal tabs.
fn trim_ows(s: &[u8]) -> &[u8] {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !ows(b)).map_or(start, |p| p + 1);
    s.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer() {
        assert_eq!(bearer_credentials(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_credentials(b"bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_credentials(b"BEARER   a.b.c  "), Some(&b"a.b.c"[..]));
        assert_eq!(bearer_credentials(b"BeArEr x"), Some(&b"x"[..]));
        for none in [
            &b""[..],
            b"Bearer",
            b"Bearer ",
            b"Bearer    ",
            b"Bearerabc",
            b"Bearer\tabc",
            b"Basic dXNlcjpwYXNz",
            b"Bear",
            b" Bearer abc",
            b"Bearer\xff",
        ] {
            assert_eq!(bearer_credentials(none), None, "{none:?}");
        }
        // the token itself is not interpreted: inner spaces are kept (and fail later)
        assert_eq!(bearer_credentials(b"Bearer a b"), Some(&b"a b"[..]));
        // non-ASCII bytes at the scheme's position never panic
        assert_eq!(bearer_credentials("bé".as_bytes()), None);
        assert_eq!(bearer_credentials("béarer x".as_bytes()), None);
    }

    #[test]
    fn cookies() {
        let h = b"a=1; session=tok.en.sig; b=2";
        assert_eq!(cookie_value(h, b"session"), Some(&b"tok.en.sig"[..]));
        assert_eq!(cookie_value(h, b"a"), Some(&b"1"[..]));
        assert_eq!(cookie_value(h, b"b"), Some(&b"2"[..]));
        assert_eq!(cookie_value(h, b"c"), None);
        assert_eq!(
            cookie_value(h, b"Session"),
            None,
            "names are case-sensitive"
        );
        assert_eq!(cookie_value(h, b"sess"), None, "no prefix match");
        assert_eq!(cookie_value(h, b"ession"), None, "no suffix match");
        assert_eq!(cookie_value(h, b""), None);
        assert_eq!(cookie_value(b"", b"a"), None);
        // first occurrence wins
        assert_eq!(cookie_value(b"s=1; s=2", b"s"), Some(&b"1"[..]));
        // whitespace around pairs and values, no space after ';'
        assert_eq!(cookie_value(b"x=1;s = v ;y=2", b"s"), Some(&b"v"[..]));
        assert_eq!(cookie_value(b"\ts=\tv\t", b"s"), Some(&b"v"[..]));
        // empty value, value with '=', quoted value kept as sent
        assert_eq!(cookie_value(b"s=", b"s"), Some(&b""[..]));
        assert_eq!(cookie_value(b"s=a=b==", b"s"), Some(&b"a=b=="[..]));
        assert_eq!(cookie_value(b"s=\"q\"", b"s"), Some(&b"\"q\""[..]));
        // pairs without '=' are skipped, stray separators are harmless
        assert_eq!(cookie_value(b"s; ;;s=v", b"s"), Some(&b"v"[..]));
        assert_eq!(cookie_value(b";;;", b"s"), None);
        // a name that contains '=' or ';' never matches
        assert_eq!(cookie_value(b"a=b=c", b"a=b"), None);
        assert_eq!(cookie_value(b"a;b=c", b"a;b"), None);
        assert_eq!(cookie_value(b"s=\xff\xfe", b"s"), Some(&b"\xff\xfe"[..]));
    }
}
