//! Key documents: `parse_jwks` (what `auth_jwt_rs_key_request` fetches from the IdP at run
//! time), `parse_key_file` (PEM, JWK, JWKS, detected from content) and `secret_key`, on
//! arbitrary bytes. Whatever loads must be usable: a key set built from it verifies a token
//! without panicking.
#![no_main]

use auth_jwt_core::keys::{KeyKind, MIN_RSA_BITS, MIN_SECRET_LEN};
use auth_jwt_core::{
    parse_jwks, parse_key_file, secret_key, verify_signature, AlgSet, KeySet, Loaded,
};
use libfuzzer_sys::fuzz_target;

/// An RS256 token (RFC 7515 A.2 style) and an HS256 one: any key set must judge them calmly.
const TOKENS: [&[u8]; 2] = [
    b"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw",
    b"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
];

fuzz_target!(|data: &[u8]| {
    if let Ok(l) = parse_jwks(data) {
        usable(l);
    }
    if let Ok(l) = parse_key_file(data) {
        usable(l);
    }
    if let Ok(k) = secret_key(data) {
        assert!(data.len() >= MIN_SECRET_LEN);
        usable(Loaded {
            keys: vec![k],
            warnings: Vec::new(),
        });
    }
});

fn usable(loaded: Loaded) {
    assert!(!loaded.keys.is_empty(), "a loaded document has keys");
    for k in &loaded.keys {
        if let KeyKind::Rsa { bits } = k.kind {
            assert!(bits >= MIN_RSA_BITS);
        }
        assert!(!k.algs.is_empty());
        let _ = k.fingerprint();
    }
    let set = KeySet::new(loaded.keys);
    for t in TOKENS {
        let _ = verify_signature(t, &set, AlgSet::ALL);
    }
}
