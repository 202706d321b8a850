//! Core of auth_jwt_rs: JWS parsing, keys, signature verification, claim checks, claim rules
//! and value rendering. Free of nginx symbols; every function is panic-free on any input.

pub mod alg;
pub mod cache;
pub mod claims;
pub mod credentials;
pub mod fetch;
pub mod json;
pub mod keys;
pub mod outcome;
pub mod path;
pub mod providers;
pub mod reason;
pub mod render;
pub mod rules;
pub mod token;
pub mod url;
pub mod verify;

pub use alg::{alg_name, parse_alg_name, AlgSet};
pub use claims::{type_key, Policy};
pub use credentials::{bearer_credentials, cookie_value};
pub use json::JsonObject;
pub use jsonwebtoken::Algorithm;
pub use keys::{parse_jwks, parse_key_file, secret_key, Key, KeyError, KeyKind, KeySet, Loaded};
pub use outcome::{Decision, JwtReason, JwtStatus};
pub use path::ClaimPath;
pub use providers::{parse_binding, Binding, Provider, Providers};
pub use reason::Reason;
pub use render::{expose, render, Exposed};
pub use rules::{parse_rule, ClaimRule, Op};
pub use token::{
    is_jwt_shaped, Limit, MAX_CLAIMS, MAX_HEADER_MEMBERS, MAX_JSON_DEPTH, MAX_TOKEN_LEN,
};
pub use url::percent_encode_unreserved;
pub use verify::{
    decode, now_secs, verify_jws, verify_signature, Failure, Unverified, Verified, VerifiedJws,
};

/// `s` cut to `max` characters, anything but printable ASCII (and `"`/`\`) replaced by `?`, so
/// that untrusted text can be quoted in a log line or an error message.
pub(crate) fn sanitize(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max)
        .map(|c| {
            if (' '..='~').contains(&c) && c != '"' && c != '\\' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if s.chars().nth(max).is_some() {
        out.push_str("...");
    }
    out
}
