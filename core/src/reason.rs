//! Why a token was refused: machine strings for `$jwt_reason` and short human texts for
//! `error_description`.

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    Missing,
    Malformed,
    TooLarge,
    AlgNotAllowed,
    Crit,
    UnknownKid,
    NoKey,
    BadSignature,
    Expired,
    NotYetValid,
    IssuedInFuture,
    MissingExp,
    BadTimeClaim,
    Issuer,
    Audience,
    Lifetime,
    Type,
    Rule,
    Internal,
}

impl Reason {
    /// Every reason, e.g. to pre-create metric series.
    pub const ALL: [Reason; 19] = [
        Reason::Missing,
        Reason::Malformed,
        Reason::TooLarge,
        Reason::AlgNotAllowed,
        Reason::Crit,
        Reason::UnknownKid,
        Reason::NoKey,
        Reason::BadSignature,
        Reason::Expired,
        Reason::NotYetValid,
        Reason::IssuedInFuture,
        Reason::MissingExp,
        Reason::BadTimeClaim,
        Reason::Issuer,
        Reason::Audience,
        Reason::Lifetime,
        Reason::Type,
        Reason::Rule,
        Reason::Internal,
    ];

    /// Machine-readable value of `$jwt_reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::Malformed => "malformed",
            Reason::TooLarge => "too_large",
            Reason::AlgNotAllowed => "alg_not_allowed",
            Reason::Crit => "crit",
            Reason::UnknownKid => "unknown_kid",
            Reason::NoKey => "no_key",
            Reason::BadSignature => "bad_signature",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::IssuedInFuture => "iat_future",
            Reason::MissingExp => "missing_exp",
            Reason::BadTimeClaim => "bad_time_claim",
            Reason::Issuer => "issuer",
            Reason::Audience => "audience",
            Reason::Lifetime => "lifetime",
            Reason::Type => "type",
            Reason::Rule => "rule",
            Reason::Internal => "internal",
        }
    }

    /// Short text for `error_description`: ASCII without `"` or `\`, so it can be placed in a
    /// quoted-string as is.
    pub fn description(self) -> &'static str {
        match self {
            Reason::Missing => "no token",
            Reason::Malformed => "token is not a valid JWS",
            Reason::TooLarge => "token too large",
            Reason::AlgNotAllowed => "signing algorithm not allowed",
            Reason::Crit => "unsupported critical header",
            Reason::UnknownKid => "unknown key id",
            Reason::NoKey => "no key for this token",
            Reason::BadSignature => "signature verification failed",
            Reason::Expired => "token expired",
            Reason::NotYetValid => "token not yet valid",
            Reason::IssuedInFuture => "token issued in the future",
            Reason::MissingExp => "token has no expiration time",
            Reason::BadTimeClaim => "invalid time claim",
            Reason::Issuer => "issuer not accepted",
            Reason::Audience => "audience not accepted",
            Reason::Lifetime => "token lifetime too long",
            Reason::Type => "token type not accepted",
            Reason::Rule => "insufficient claims",
            Reason::Internal => "internal error",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_safe_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for r in Reason::ALL {
            assert!(seen.insert(r.as_str()));
            assert!(r
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'));
            let d = r.description();
            assert!(!d.is_empty());
            assert!(d
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'));
        }
        assert_eq!(Reason::IssuedInFuture.as_str(), "iat_future");
        assert_eq!(Reason::Expired.description(), "token expired");
        assert_eq!(Reason::BadSignature.to_string(), "bad_signature");
        assert_eq!(Reason::Lifetime.as_str(), "lifetime");
        assert_eq!(Reason::Type.as_str(), "type");
        assert_eq!(Reason::ALL.len(), 19);
    }
}
