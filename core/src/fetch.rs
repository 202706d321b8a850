//! Key fetches of `auth_jwt_rs_key_request`: why one failed, and how long the next attempt
//! waits (docs/key-rotation.md, "When the identity provider fails").

/// Why a fetch failed (`auth_jwt_rs_key_fetch_failures_total{cause}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchCause {
    /// Connection refused, reset or closed before a response; the fetch could not start.
    Connect,
    /// A connect or read timeout of the key location.
    Timeout,
    /// A status other than 200.
    Status,
    /// Empty, truncated, compressed, or not a JWKS with a usable key.
    Body,
    /// Larger than the largest key set accepted.
    Size,
}

impl FetchCause {
    pub const ALL: [FetchCause; 5] = [
        FetchCause::Connect,
        FetchCause::Timeout,
        FetchCause::Status,
        FetchCause::Body,
        FetchCause::Size,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FetchCause::Connect => "connect",
            FetchCause::Timeout => "timeout",
            FetchCause::Status => "status",
            FetchCause::Body => "body",
            FetchCause::Size => "size",
        }
    }

    /// Position in [`FetchCause::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Pause after the first failed fetch of a URI, seconds; it doubles while failures go on, up
/// to [`BACKOFF_MAX`].
pub const BACKOFF_FIRST: u64 = 5;
pub const BACKOFF_MAX: u64 = 60;

/// The pause after `failures` consecutive failures: 5, 10, 20, 40, 60, 60, ... seconds.
pub fn backoff(failures: u32) -> u64 {
    let shift = failures.saturating_sub(1).min(8);
    (BACKOFF_FIRST << shift).min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let seq: Vec<u64> = (1..=7).map(backoff).collect();
        assert_eq!(seq, [5, 10, 20, 40, 60, 60, 60]);
        assert_eq!(backoff(0), 5);
        assert_eq!(backoff(u32::MAX), 60);
        for (i, c) in FetchCause::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }
}
