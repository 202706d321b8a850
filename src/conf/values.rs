//! The values directives compile into, read by the request path.

use ngx::ffi::{ngx_http_complex_value_t, ngx_str_t};

use auth_jwt_core::rules::ClaimRule;

/// Where a directive was written, for errors reported after parsing (at merge time).
#[derive(Clone, Debug)]
pub struct ConfPos {
    pub file: String,
    pub line: usize,
}

/// A compiled nginx complex value (a string that may contain variables).
#[derive(Clone, Copy)]
pub struct ComplexValue(pub *mut ngx_http_complex_value_t);

/// `auth_jwt_rs on | off | $variable`.
#[derive(Clone, Copy)]
pub enum Enable {
    Off,
    On,
    Var(ComplexValue),
}

/// One place a token may come from (`auth_jwt_rs_token`).
#[derive(Clone)]
pub enum Source {
    Bearer,
    Cookie(ngx_str_t),
    Header(ngx_str_t),
    Arg(ngx_str_t),
    Var(ComplexValue),
}

/// An authorization rule (README "Authorization rules").
pub enum Rule {
    /// `auth_jwt_rs_require $var ...`: every value non-empty and not "0".
    Require {
        values: Vec<ComplexValue>,
        status: u16,
    },
    /// `auth_jwt_rs_require_claim PATH OP ...`.
    Claim(ClaimRule),
}

/// `auth_jwt_rs_fallback_set $var VALUE`.
pub struct FallbackVar {
    pub index: usize,
    pub value: ComplexValue,
}
