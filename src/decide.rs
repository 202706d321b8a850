//! The decision the gate and `auth_jwt_rs_verify` share: find the token, authenticate it (the
//! verified-token cache, then every check that needs no signature, then the keys and the
//! signature), and apply the authorization rules. The outcome is recorded in the request
//! context; turning it into a response is `respond`'s job.

use std::rc::Rc;
use std::sync::Arc;

use auth_jwt_core::alg::{alg_name, AlgSet};
use auth_jwt_core::outcome::{Decision, JwtReason, JwtStatus};
use auth_jwt_core::reason::Reason;
use auth_jwt_core::token::is_jwt_shaped;
use auth_jwt_core::verify::{decode, log_kid, Failure, Verified};
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf, Request};

use crate::conf::{Enable, Gate, LocConf, Module, Rule, DEFAULT_SOURCES};
use crate::ctx::{self, Ctx};
use crate::jwks::Keys;
use crate::log::{log_debug, log_error, log_info};
use crate::token_source::{complex_value, find_token};
use crate::util::now;
use crate::{cache, metrics};

/// `auth_jwt_rs on|off|$var` for this request.
pub fn gate_enabled(r: &Request, lc: &LocConf) -> bool {
    match lc.enable {
        None | Some(Enable::Off) => false,
        Some(Enable::On) => true,
        Some(Enable::Var(cv)) => match complex_value(r, cv) {
            Some(v) => !(v.is_empty() || v == b"0" || v == b"off"),
            // Evaluation failure (out of memory): fail closed.
            None => true,
        },
    }
}

/// Runs the gate for `r` and records the outcome in the request context.
pub fn decide(r: &Request, lc: &LocConf, gate: &Gate) -> Decision {
    match authenticate(r, lc, gate, true) {
        Decision::Allow => authorize(r, lc),
        d => d,
    }
}

/// Authenticates `r` ahead of the access phase when a claim variable is read first (in the
/// rewrite phase: `if`, `set`). Only for main requests in a location where the gate is on;
/// nothing is fetched, so keys not known yet leave the request undecided.
pub fn authenticate_early(r: &Request) {
    if !r.is_main() {
        return;
    }
    let Some(lc) = Module::location_conf(r) else {
        return;
    };
    if let Some(gate) = lc.gate.as_deref() {
        if gate_enabled(r, lc) {
            authenticate(r, lc, gate, false);
        }
    }
}

/// Authenticates `r` once per location: the token, its signature, the time and standard claims.
/// The outcome is kept in the request context, so that claim variables read before the access
/// phase (in `if`, `set`) see the verified claims and the access phase does not verify twice.
/// `can_wait` is false where the request cannot be suspended for a key fetch.
fn authenticate(r: &Request, lc: &LocConf, gate: &Gate, can_wait: bool) -> Decision {
    if let Some((g, d)) = ctx::current(r).and_then(Ctx::authenticated) {
        if std::ptr::eq(g, gate) {
            return d;
        }
    }
    let Some(ctx) = ctx::get_or_create(r) else {
        return Decision::Error;
    };
    ctx.reset(r);
    let d = verify_token(r, lc, gate, ctx, can_wait);
    if matches!(d, Decision::Wait) {
        // Not decided: leave no trace, so that variables do not report a half-made decision.
        ctx.clear_outcome();
    } else {
        ctx.set_authenticated(gate, d);
    }
    d
}

fn verify_token(r: &Request, lc: &LocConf, gate: &Gate, ctx: &Ctx, can_wait: bool) -> Decision {
    let sources = lc.sources.as_deref().map_or(DEFAULT_SOURCES, Vec::as_slice);
    let Some(token) = find_token(r, sources) else {
        log_debug!(r, "auth_jwt_rs: no token in the configured sources");
        ctx.set_outcome(JwtStatus::Missing, Some(Reason::Missing.into()));
        return Decision::Missing;
    };
    log_debug!(r, "auth_jwt_rs: token found ({} bytes)", token.len());
    let waiter = can_wait.then_some(r);
    let now = now();
    let capacity = Module::main_conf(r).and_then(|mc| mc.cache_capacity);
    // The token's cache key and what the cache holds for it, in one visit to the cache.
    let lookup = match lc.cache_enabled() {
        true => cache::with(capacity, |c| c.key(token).map(|k| (k, c.get(&k, now)))).flatten(),
        false => None,
    };
    let (cache_key, hit) = lookup.map_or((None, None), |(k, hit)| (Some(k), hit));

    // A token whose signature verified before, with the key set now in force for its issuer.
    let mut cached = None;
    if cache_key.is_some() {
        if let Some(hit) = hit {
            let claims = &hit.verified.claims;
            if let Some((provider, source)) = gate.keys.select(claims) {
                match source.keys(waiter, now, false) {
                    Keys::Ready(k) if hit.verified_with(k.id(), gate.algs_for(&k)) => {
                        cached = Some((hit.verified, provider));
                    }
                    Keys::Wait => return Decision::Wait,
                    _ => {}
                }
            }
        }
        metrics::cache_lookup(cached.is_some());
        log_debug!(
            r,
            "auth_jwt_rs: verified-token cache {}",
            if cached.is_some() { "hit" } else { "miss" }
        );
    }
    let verified = match cached {
        Some((v, provider)) => {
            // Time claims, iss, aud, lifetime and type are checked on every request (what
            // `admit` does, with the key-source group selected above).
            let admitted = gate.policy.check(&v.header, &v.claims, now, Some(provider));
            if let Err(reason) = admitted {
                return reject(r, ctx, token, &failure_of(&v, reason));
            }
            v
        }
        None => match verify_uncached(r, gate, ctx, token, waiter, now) {
            Ok((v, keyset, algs)) => {
                let v = Rc::new(v);
                if let Some(key) = cache_key {
                    cache::with(capacity, |c| c.insert(key, v.clone(), keyset, algs));
                }
                v
            }
            Err(d) => return d,
        },
    };
    log_debug!(
        r,
        "auth_jwt_rs: token accepted (alg: {}, kid: \"{}\")",
        alg_name(verified.alg),
        verified
            .kid
            .as_deref()
            .map(log_kid)
            .as_deref()
            .unwrap_or("-")
    );
    ctx.set_outcome(JwtStatus::Ok, None);
    ctx.set_verified(verified);
    Decision::Allow
}

/// A token not in the cache: every check that needs no signature first (README "Order of the
/// checks"), then the keys of its issuer's group and the signature. Only a token that passed
/// all of them may make an unknown `kid` refetch that group's key requests. The verified token
/// comes with the key set and allow-list that verified it, for the cache.
fn verify_uncached(
    r: &Request,
    gate: &Gate,
    ctx: &Ctx,
    token: &[u8],
    waiter: Option<&Request>,
    now: u64,
) -> Result<(Verified, u128, AlgSet), Decision> {
    let t = decode(token, gate.algorithms.unwrap_or(AlgSet::ALL))
        .map_err(|f| reject(r, ctx, token, &f))?;
    let source = gate
        .keys
        .admit(&gate.policy, &t.header, &t.claims, now)
        .map_err(|reason| reject(r, ctx, token, &t.failure(reason)))?;
    let keys = match source.keys(waiter, now, false) {
        Keys::Ready(k) => k,
        Keys::Wait => return Err(Decision::Wait),
        Keys::Unavailable => return Err(no_keys(r, ctx)),
    };
    log_debug!(
        r,
        "auth_jwt_rs: checking the signature (alg: {}, kid: \"{}\") against {} keys",
        alg_name(t.alg),
        t.kid.as_deref().map(log_kid).as_deref().unwrap_or("-"),
        keys.keys().len()
    );
    let algs = gate.algs_for(&keys);
    let Err(f) = t.check_signature(&keys, algs) else {
        return Ok((t.into_verified(), keys.id(), algs));
    };
    // A kid we don't have may be a rotated key, possibly of another type (then the algorithm
    // is not among the current keys' yet): refetch this issuer's key requests once,
    // rate-limited per URI.
    let rotated = matches!(
        f.reason,
        Reason::UnknownKid | Reason::AlgNotAllowed | Reason::NoKey
    ) && !source.remotes.is_empty()
        && t.kid.as_deref().is_some_and(|k| !keys.has_kid(k));
    if rotated && waiter.is_some() && !ctx.key_refetched() {
        ctx.set_key_refetched();
        log_debug!(r, "auth_jwt_rs: unknown kid, refetching the issuer's keys");
        match source.keys(waiter, now, true) {
            Keys::Ready(k) if !Arc::ptr_eq(&k, &keys) => {
                let algs = gate.algs_for(&k);
                return match t.check_signature(&k, algs) {
                    Ok(()) => Ok((t.into_verified(), k.id(), algs)),
                    Err(f) => Err(reject(r, ctx, token, &f)),
                };
            }
            Keys::Wait => return Err(Decision::Wait),
            _ => {}
        }
    }
    Err(reject(r, ctx, token, &f))
}

/// Records and logs a rejection of `token`: the `info` line has the reason, alg and kid
/// (sanitized by the core), never any part of the token.
fn reject(r: &Request, ctx: &Ctx, token: &[u8], f: &Failure) -> Decision {
    log_info!(
        r,
        "auth_jwt_rs: token rejected: {} (alg: {}, kid: \"{}\")",
        f.reason.as_str(),
        f.alg.map(alg_name).unwrap_or("-"),
        f.kid.as_deref().unwrap_or("-")
    );
    ctx.set_outcome(JwtStatus::Invalid, Some(f.reason.into()));
    // Every other reason is found after the header parsed: the token is JWT-shaped.
    let shaped = !matches!(f.reason, Reason::Malformed | Reason::TooLarge) || is_jwt_shaped(token);
    if shaped {
        Decision::Invalid(f.reason)
    } else {
        Decision::NotJwt(f.reason)
    }
}

/// A rejection of a verified token (a cached one failing a check that needs no signature).
fn failure_of(v: &Verified, reason: Reason) -> Failure {
    Failure {
        reason,
        alg: Some(v.alg),
        kid: v.kid.as_deref().map(log_kid),
    }
}

fn no_keys(r: &Request, ctx: &Ctx) -> Decision {
    log_error!(r, "auth_jwt_rs: no verification keys available");
    ctx.set_outcome(JwtStatus::Error, Some(Reason::Internal.into()));
    Decision::Error
}

/// Applies the authorization rules to an authenticated request.
fn authorize(r: &Request, lc: &LocConf) -> Decision {
    // Rules run after the claims are in the context: `auth_jwt_rs_require` values may use them.
    let Some(status) = failed_rule(r, lc) else {
        return Decision::Allow;
    };
    if let Some(ctx) = ctx::find(r) {
        ctx.set_outcome(JwtStatus::Forbidden, Some(JwtReason::Token(Reason::Rule)));
        let v = ctx.verified();
        let kid = v.as_ref().and_then(|v| v.kid.as_deref().map(log_kid));
        log_info!(
            r,
            "auth_jwt_rs: token does not satisfy an authorization rule (alg: {}, kid: \"{}\")",
            v.as_ref().map_or("-", |v| alg_name(v.alg)),
            kid.as_deref().unwrap_or("-")
        );
    }
    Decision::Forbidden(status)
}

/// The status of the first failing authorization rule, if any.
fn failed_rule(r: &Request, lc: &LocConf) -> Option<u16> {
    let rules = lc.rules.as_deref()?;
    for rule in rules {
        match rule {
            Rule::Require { values, status } => {
                for cv in values {
                    match complex_value(r, *cv) {
                        Some(v) if !v.is_empty() && v != b"0" => {}
                        _ => return Some(*status),
                    }
                }
            }
            Rule::Claim(c) => {
                let ok = ctx::find(r)
                    .and_then(Ctx::verified)
                    .is_some_and(|v| c.check(&v.claims));
                if !ok {
                    return Some(c.status);
                }
            }
        }
    }
    None
}
