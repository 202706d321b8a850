//! JOSE algorithm names and small algorithm sets.

use jsonwebtoken::Algorithm;

/// Every algorithm this crate can verify, in a stable order (the bit order of [`AlgSet`]).
const ORDER: [Algorithm; 12] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// A set of algorithms (a bit set over [`ORDER`]).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct AlgSet(u16);

fn bit(alg: Algorithm) -> u16 {
    ORDER
        .iter()
        .position(|a| *a == alg)
        .map_or(0, |i| 1u16 << i)
}

impl AlgSet {
    pub const EMPTY: AlgSet = AlgSet(0);
    pub const ALL: AlgSet = AlgSet((1u16 << ORDER.len()) - 1);
    pub const HMAC: AlgSet = AlgSet(0b111);
    pub const RSA: AlgSet = AlgSet(0b111_111 << 3);
    pub const RSA_PSS: AlgSet = AlgSet(0b111 << 6);

    /// A set holding exactly `alg`.
    pub fn only(alg: Algorithm) -> AlgSet {
        AlgSet(bit(alg))
    }

    pub fn contains(self, alg: Algorithm) -> bool {
        let b = bit(alg);
        b != 0 && self.0 & b == b
    }

    pub fn insert(&mut self, alg: Algorithm) {
        self.0 |= bit(alg);
    }

    pub fn union(self, other: AlgSet) -> AlgSet {
        AlgSet(self.0 | other.0)
    }

    pub fn intersection(self, other: AlgSet) -> AlgSet {
        AlgSet(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        ORDER
            .into_iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1u16 << i) != 0)
            .map(|(_, a)| a)
    }

    pub fn bits(self) -> u16 {
        self.0
    }
}

impl FromIterator<Algorithm> for AlgSet {
    fn from_iter<I: IntoIterator<Item = Algorithm>>(iter: I) -> Self {
        let mut set = AlgSet::EMPTY;
        for alg in iter {
            set.insert(alg);
        }
        set
    }
}

/// Parses an exact, case-sensitive JOSE algorithm name. `none` (in any case) is always refused.
pub fn parse_alg_name(name: &str) -> Result<Algorithm, String> {
    if name.eq_ignore_ascii_case("none") {
        return Err("algorithm \"none\" is never accepted".to_string());
    }
    ORDER
        .into_iter()
        .find(|a| alg_name(*a) == name)
        .ok_or_else(|| format!("unknown algorithm \"{}\"", crate::sanitize(name, 32)))
}

/// The JOSE name of `alg`.
pub fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        // `Algorithm` is non-exhaustive; a future variant is not supported here.
        _ => "unsupported",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in AlgSet::ALL.iter() {
            assert_eq!(parse_alg_name(alg_name(alg)), Ok(alg));
        }
        assert_eq!(AlgSet::ALL.iter().count(), 12);
    }

    #[test]
    fn rejects_none_and_unknown() {
        for n in ["none", "None", "NONE", "nOnE"] {
            assert!(parse_alg_name(n).unwrap_err().contains("never accepted"));
        }
        for n in ["hs256", "Hs256", "ES512", "RS1", "", "EDDSA", "HS256 "] {
            let e = parse_alg_name(n).unwrap_err();
            assert!(e.starts_with("unknown algorithm"), "{e}");
        }
        assert_eq!(
            parse_alg_name("XX").unwrap_err(),
            "unknown algorithm \"XX\""
        );
    }

    #[test]
    fn set_operations() {
        let mut s = AlgSet::EMPTY;
        assert!(s.is_empty());
        s.insert(Algorithm::ES256);
        assert!(s.contains(Algorithm::ES256));
        assert!(!s.contains(Algorithm::ES384));
        let t = AlgSet::only(Algorithm::ES384).union(s);
        assert_eq!(
            t.iter().collect::<Vec<_>>(),
            vec![Algorithm::ES256, Algorithm::ES384]
        );
        assert_eq!(t.intersection(s), s);
        assert_eq!(AlgSet::HMAC.intersection(AlgSet::RSA), AlgSet::EMPTY);
        assert_eq!(AlgSet::RSA.iter().count(), 6);
        assert!(AlgSet::RSA_PSS
            .iter()
            .all(|a| alg_name(a).starts_with("PS")));
        assert_eq!(AlgSet::ALL.bits(), 0x0fff);
        let c: AlgSet = [Algorithm::HS256, Algorithm::EdDSA].into_iter().collect();
        assert!(c.contains(Algorithm::EdDSA) && c.contains(Algorithm::HS256));
    }
}
