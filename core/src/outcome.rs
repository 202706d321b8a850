//! What the gate decided for a request, as the glue records, reports and counts it: the
//! [`Decision`] its handlers turn into a response, and the `$jwt_status` / `$jwt_reason` values
//! (README "Variables").

use crate::reason::Reason;

/// What the gate decided for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No token in any source: 401 with a bare challenge.
    Missing,
    /// Token present but not acceptable: 401 `invalid_token`.
    Invalid(Reason),
    /// Token present but not JWT-shaped (e.g. an opaque session cookie): like `Invalid`,
    /// except that `auth_jwt_rs_fallback` may decide instead.
    NotJwt(Reason),
    /// Authenticated, but an authorization rule failed: its status (401 or 403).
    Forbidden(u16),
    /// Keys are being fetched; the request is resumed when they arrive.
    Wait,
    /// Server-side failure (e.g. no key could be obtained): 500.
    Error,
}

/// `$jwt_status` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtStatus {
    Ok,
    Missing,
    Invalid,
    Forbidden,
    FallbackOk,
    FallbackDenied,
    Error,
}

impl JwtStatus {
    pub const ALL: [JwtStatus; 7] = [
        JwtStatus::Ok,
        JwtStatus::Missing,
        JwtStatus::Invalid,
        JwtStatus::Forbidden,
        JwtStatus::FallbackOk,
        JwtStatus::FallbackDenied,
        JwtStatus::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JwtStatus::Ok => "ok",
            JwtStatus::Missing => "missing",
            JwtStatus::Invalid => "invalid",
            JwtStatus::Forbidden => "forbidden",
            JwtStatus::FallbackOk => "fallback_ok",
            JwtStatus::FallbackDenied => "fallback_denied",
            JwtStatus::Error => "error",
        }
    }

    /// Position in [`JwtStatus::ALL`] (metrics arrays).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the `auth_jwt_rs_fallback` subrequest, not a JWT, decided.
    pub fn by_fallback(self) -> bool {
        matches!(self, JwtStatus::FallbackOk | JwtStatus::FallbackDenied)
    }
}

/// `$jwt_reason` values: why a token was refused, or that the fallback decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtReason {
    Token(Reason),
    Fallback,
}

impl JwtReason {
    /// Number of distinct values (metrics arrays).
    pub const COUNT: usize = Reason::ALL.len() + 1;

    pub fn as_str(self) -> &'static str {
        match self {
            JwtReason::Token(r) => r.as_str(),
            JwtReason::Fallback => "fallback",
        }
    }

    /// A dense index below [`JwtReason::COUNT`].
    pub fn index(self) -> usize {
        match self {
            JwtReason::Token(r) => r as usize,
            JwtReason::Fallback => Reason::ALL.len(),
        }
    }

    /// The value with index `i`, if any.
    pub fn from_index(i: usize) -> Option<JwtReason> {
        match Reason::ALL.get(i) {
            Some(&r) => Some(JwtReason::Token(r)),
            None if i == Reason::ALL.len() => Some(JwtReason::Fallback),
            None => None,
        }
    }
}

impl From<Reason> for JwtReason {
    fn from(r: Reason) -> Self {
        JwtReason::Token(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_dense_and_round_trip() {
        for (i, s) in JwtStatus::ALL.iter().enumerate() {
            assert_eq!(s.index(), i);
        }
        for i in 0..JwtReason::COUNT {
            let r = JwtReason::from_index(i).unwrap();
            assert_eq!(r.index(), i);
        }
        assert_eq!(JwtReason::from_index(JwtReason::COUNT), None);
        assert_eq!(JwtReason::Fallback.as_str(), "fallback");
        assert_eq!(JwtReason::from(Reason::Expired).as_str(), "expired");
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "Reason::ALL is in declaration order");
        }
    }
}
