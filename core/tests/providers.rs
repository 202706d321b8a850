//! Issuer-bound key sources with real keys: a token is verified only by the key set of its
//! issuer's group, with the kid rules applied inside that group (docs/multiple-issuers.md).

mod common;

use auth_jwt_core::{
    decode, parse_binding, parse_key_file, secret_key, AlgSet, Algorithm, KeySet, Policy,
    Providers, Reason,
};
use common::*;
use serde_json::{json, Value};

/// What the gate does with a token, without nginx: decode, the checks that need no signature
/// with the group of its `iss`, then the signature with that group's keys only.
fn gate(groups: &Providers<KeySet>, policy: &Policy, token: &str) -> Result<(), Reason> {
    let t = decode(token.as_bytes(), AlgSet::ALL).map_err(|f| f.reason)?;
    let keys = groups.admit(policy, &t.header, &t.claims, NOW)?;
    t.check_signature(keys, AlgSet::ALL).map_err(|f| f.reason)
}

fn bind(params: &[&str]) -> auth_jwt_core::Binding {
    parse_binding(params).unwrap()
}

/// An `oct` JWK holding [`SECRET`], with `kid`.
fn hmac_jwk(kid: &str) -> KeySet {
    let jwk = json!({"kty": "oct", "kid": kid, "k": b64(SECRET)});
    KeySet::new(parse_key_file(jwk.to_string().as_bytes()).unwrap().keys)
}

/// The RSA key of rsa2048_public.pem as a JWK with `kid`.
fn rsa_with_kid(kid: &str, file: &str) -> KeySet {
    let mut keys = key_file(file);
    for k in &mut keys {
        k.kid = Some(kid.into());
    }
    KeySet::new(keys)
}

fn claims(iss: &str, aud: &str) -> Value {
    json!({"iss": iss, "aud": aud, "sub": "alice", "exp": NOW + 60})
}

const A: &str = "https://a.example";
const B: &str = "https://b.example";

#[test]
fn each_issuer_only_by_its_own_keys() {
    // A: RSA key "k1"; B: RSA key b, also "k1" (matching kid values across providers)
    let mut groups: Providers<KeySet> = Providers::default();
    *groups
        .group_mut(
            &bind(&[&format!("issuer={A}"), "audience=api-a"]),
            KeySet::default,
        )
        .unwrap() = rsa_with_kid("k1", "rsa2048_public.pem");
    *groups
        .group_mut(
            &bind(&[&format!("issuer={B}"), "audience=api-b"]),
            KeySet::default,
        )
        .unwrap() = rsa_with_kid("k1", "rsa2048b_public.pem");
    let p = Policy::default();
    let kid = json!({"kid": "k1"});
    let a_by_a = sign(
        Algorithm::RS256,
        kid.clone(),
        claims(A, "api-a"),
        &rsa_enc(),
    );
    let b_by_b = sign(
        Algorithm::RS256,
        kid.clone(),
        claims(B, "api-b"),
        &rsa_b_enc(),
    );
    assert_eq!(gate(&groups, &p, &a_by_a), Ok(()));
    assert_eq!(gate(&groups, &p, &b_by_b), Ok(()));
    // A's iss signed with B's key, and the reverse, with and without kid
    for extra in [kid.clone(), json!({})] {
        let a_by_b = sign(
            Algorithm::RS256,
            extra.clone(),
            claims(A, "api-a"),
            &rsa_b_enc(),
        );
        assert_eq!(gate(&groups, &p, &a_by_b), Err(Reason::BadSignature));
        let b_by_a = sign(Algorithm::RS256, extra, claims(B, "api-b"), &rsa_enc());
        assert_eq!(gate(&groups, &p, &b_by_a), Err(Reason::BadSignature));
    }
    // A's token with B's audience, and with none
    let a_aud_b = sign(
        Algorithm::RS256,
        kid.clone(),
        claims(A, "api-b"),
        &rsa_enc(),
    );
    assert_eq!(gate(&groups, &p, &a_aud_b), Err(Reason::Audience));
    let mut no_aud = claims(A, "x");
    no_aud.as_object_mut().unwrap().remove("aud");
    let t = sign(Algorithm::RS256, kid.clone(), no_aud, &rsa_enc());
    assert_eq!(gate(&groups, &p, &t), Err(Reason::Audience));
    // no unbound group: any other issuer is refused as `issuer`, even if a key verifies it
    let c = sign(
        Algorithm::RS256,
        kid.clone(),
        claims("https://c", "api-a"),
        &rsa_enc(),
    );
    assert_eq!(gate(&groups, &p, &c), Err(Reason::Issuer));
    // kid rules inside the group: an unknown kid in A's group is unknown there
    let t = sign(
        Algorithm::RS256,
        json!({"kid": "k2"}),
        claims(A, "api-a"),
        &rsa_enc(),
    );
    assert_eq!(gate(&groups, &p, &t), Err(Reason::UnknownKid));
}

#[test]
fn hs_and_rs_mixes() {
    // A verifies with an HMAC secret (kid "k1"), B with an RSA key (kid "k1")
    let mut groups: Providers<KeySet> = Providers::default();
    *groups
        .group_mut(&bind(&[&format!("issuer={A}")]), KeySet::default)
        .unwrap() = hmac_jwk("k1");
    *groups
        .group_mut(&bind(&[&format!("issuer={B}")]), KeySet::default)
        .unwrap() = rsa_with_kid("k1", "rsa2048_public.pem");
    let p = Policy::default();
    let kid = json!({"kid": "k1"});
    assert_eq!(
        gate(
            &groups,
            &p,
            &sign(Algorithm::HS256, kid.clone(), claims(A, "x"), &hmac_enc())
        ),
        Ok(())
    );
    assert_eq!(
        gate(
            &groups,
            &p,
            &sign(Algorithm::RS256, kid.clone(), claims(B, "x"), &rsa_enc())
        ),
        Ok(())
    );
    // A's iss with B's RSA key: A's group has no RSA key at all
    assert_eq!(
        gate(
            &groups,
            &p,
            &sign(Algorithm::RS256, kid.clone(), claims(A, "x"), &rsa_enc())
        ),
        Err(Reason::AlgNotAllowed)
    );
    // B's iss with A's secret: B's group has no HMAC key
    assert_eq!(
        gate(
            &groups,
            &p,
            &sign(Algorithm::HS256, kid, claims(B, "x"), &hmac_enc())
        ),
        Err(Reason::AlgNotAllowed)
    );
}

#[test]
fn unbound_group_takes_only_unbound_issuers() {
    // A bound to an RSA key; an unbound secret (no kid) for everyone else
    let mut groups: Providers<KeySet> = Providers::default();
    *groups
        .group_mut(&bind(&[&format!("issuer={A}")]), KeySet::default)
        .unwrap() = keyset(&["rsa2048_public.pem"]);
    *groups.group_mut(&bind(&[]), KeySet::default).unwrap() =
        KeySet::new(vec![secret_key(SECRET).unwrap()]);
    let p = Policy::default();
    let hs = |c: Value| sign(Algorithm::HS256, json!({}), c, &hmac_enc());
    assert_eq!(gate(&groups, &p, &hs(claims("https://other", "x"))), Ok(()));
    assert_eq!(gate(&groups, &p, &hs(json!({"exp": NOW + 60}))), Ok(()));
    // a token claiming A is never verified by the unbound secret
    assert_eq!(
        gate(&groups, &p, &hs(claims(A, "x"))),
        Err(Reason::AlgNotAllowed)
    );
    assert_eq!(
        gate(
            &groups,
            &p,
            &sign(Algorithm::RS256, json!({}), claims(A, "x"), &rsa_enc())
        ),
        Ok(())
    );
    // and A's key never verifies an unbound issuer's token
    assert_eq!(
        gate(
            &groups,
            &p,
            &sign(
                Algorithm::RS256,
                json!({}),
                claims("https://o", "x"),
                &rsa_enc()
            )
        ),
        Err(Reason::AlgNotAllowed)
    );
    // auth_jwt_rs_issuer on top
    let only_a = Policy {
        issuers: vec![A.into()],
        ..Policy::default()
    };
    assert_eq!(
        gate(&groups, &only_a, &hs(claims("https://other", "x"))),
        Err(Reason::Issuer)
    );
}

#[test]
fn cheap_checks_before_the_signature() {
    let mut groups: Providers<KeySet> = Providers::default();
    *groups
        .group_mut(
            &bind(&[&format!("issuer={A}"), "audience=api"]),
            KeySet::default,
        )
        .unwrap() = keyset(&["rsa2048_public.pem"]);
    let p = Policy {
        max_lifetime: Some(300),
        types: vec![auth_jwt_core::type_key("at+jwt")],
        ..Policy::default()
    };
    // signed by a key nobody trusts: every cheap failure is reported before bad_signature
    let forged = |h: Value, c: Value| sign(Algorithm::RS256, h, c, &rsa_b_enc());
    let at = json!({"typ": "at+jwt"});
    let good = json!({"iss": A, "aud": "api", "iat": NOW, "exp": NOW + 300});
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().insert(k.into(), v);
        c
    };
    assert_eq!(
        gate(&groups, &p, &forged(json!({"typ": "JWT"}), good.clone())),
        Err(Reason::Type)
    );
    assert_eq!(
        gate(&groups, &p, &forged(at.clone(), with("exp", json!(NOW)))),
        Err(Reason::Expired)
    );
    assert_eq!(
        gate(
            &groups,
            &p,
            &forged(at.clone(), with("exp", json!(NOW + 301)))
        ),
        Err(Reason::Lifetime)
    );
    assert_eq!(
        gate(&groups, &p, &forged(at.clone(), with("iss", json!("x")))),
        Err(Reason::Issuer)
    );
    assert_eq!(
        gate(&groups, &p, &forged(at.clone(), with("aud", json!("x")))),
        Err(Reason::Audience)
    );
    assert_eq!(
        gate(&groups, &p, &forged(at.clone(), good.clone())),
        Err(Reason::BadSignature)
    );
    let real = sign(Algorithm::RS256, at, good, &rsa_enc());
    assert_eq!(gate(&groups, &p, &real), Ok(()));
}
