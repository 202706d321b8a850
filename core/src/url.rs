//! Percent-encoding for `$jwt_return_url`.

/// Appends `input` to `out`, every byte outside RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) written as `%XX` (uppercase hex).
pub fn percent_encode_unreserved(input: &[u8], out: &mut String) {
    out.reserve(input.len());
    for &b in input {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0f));
        }
    }
}

fn hex_digit(n: u8) -> char {
    char::from(
        b"0123456789ABCDEF"
            .get(usize::from(n))
            .copied()
            .unwrap_or(b'0'),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &[u8]) -> String {
        let mut out = String::new();
        percent_encode_unreserved(s, &mut out);
        out
    }

    #[test]
    fn encodes_everything_but_unreserved() {
        assert_eq!(enc(b"AZaz09-._~"), "AZaz09-._~");
        assert_eq!(
            enc(b"https://h:8080/p?a=1&b=x y#f"),
            "https%3A%2F%2Fh%3A8080%2Fp%3Fa%3D1%26b%3Dx%20y%23f"
        );
        assert_eq!(enc(b"\0\r\n%\xff\x7f"), "%00%0D%0A%25%FF%7F");
        assert_eq!(enc("é".as_bytes()), "%C3%A9");
        assert_eq!(enc(b""), "");
        let mut out = String::from("x=");
        percent_encode_unreserved(b"/", &mut out);
        assert_eq!(out, "x=%2F");
    }
}
