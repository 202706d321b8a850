//! Token extraction from request header values: `Authorization: Bearer` (and the `Bearer `
//! prefix of `header=NAME`), `Cookie` pairs, and the percent-encoding of `$jwt_return_url`,
//! on arbitrary bytes. `bearer_credentials` is also checked against the implementation the
//! nginx glue used before it moved to the core crate.
#![no_main]

use auth_jwt_core::{bearer_credentials, cookie_value, percent_encode_unreserved};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // first byte: length of a cookie name taken from the end of the input
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 16).min(rest.len());
    let (header, name) = rest.split_at(rest.len() - n);

    let bearer = bearer_credentials(header);
    assert_eq!(bearer, reference_bearer(header));
    if let Some(t) = bearer {
        assert!(!t.is_empty() && within(t, header));
        assert!(t.first() != Some(&b' ') && t.last() != Some(&b' '));
        assert!(header[..6].eq_ignore_ascii_case(b"bearer"));
    }

    for name in [name, b"session", b"a"] {
        if let Some(v) = cookie_value(header, name) {
            assert!(!name.is_empty() && within(v, header));
            assert!(!v.contains(&b';'));
            assert!(!v.starts_with(b" ") && !v.ends_with(b" "));
            assert!(!v.starts_with(b"\t") && !v.ends_with(b"\t"));
            // the pair is really there: `name` then optional whitespace and `=`
            let start = v.as_ptr() as usize - header.as_ptr() as usize;
            let before = header[..start].trim_ascii_end();
            assert!(before.ends_with(b"="));
        }
    }

    let mut out = String::new();
    percent_encode_unreserved(header, &mut out);
    assert!(out
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
    assert_eq!(
        out.len(),
        header.len() + 2 * out.bytes().filter(|b| *b == b'%').count()
    );
});

/// `t` is a sub-slice of `of` (the extraction never copies).
fn within(t: &[u8], of: &[u8]) -> bool {
    let (s, e) = (of.as_ptr() as usize, of.as_ptr() as usize + of.len());
    let (ts, te) = (t.as_ptr() as usize, t.as_ptr() as usize + t.len());
    s <= ts && te <= e
}

/// `src/token_source.rs` before the move to `auth_jwt_core::credentials`.
fn reference_bearer(value: &[u8]) -> Option<&[u8]> {
    const SCHEME: &[u8] = b"bearer";
    if value.len() <= SCHEME.len() || !value[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let rest = &value[SCHEME.len()..];
    if rest.first() != Some(&b' ') {
        return None;
    }
    let start = rest.iter().position(|&c| c != b' ')?;
    let token = &rest[start..];
    let end = token.iter().rposition(|&c| c != b' ').map_or(0, |p| p + 1);
    (!token[..end].is_empty()).then_some(&token[..end])
}
