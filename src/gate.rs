//! The gate: the access-phase handler and the decision it shares with `auth_jwt_rs_verify`.

use auth_jwt_core::alg::alg_name;
use auth_jwt_core::reason::Reason;
use auth_jwt_core::token::is_jwt_shaped;
use std::rc::Rc;

use auth_jwt_core::alg::AlgSet;
use auth_jwt_core::cache::TokenCache;
use auth_jwt_core::verify::{decode, log_kid, Failure, Verified};
use ngx::ffi::{
    ngx_http_request_t, ngx_int_t, ngx_list_push, ngx_table_elt_t, ngx_uint_t, NGX_AGAIN,
    NGX_DECLINED, NGX_ERROR, NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_HTTP_MOVED_TEMPORARILY, NGX_LOG_ERR,
    NGX_LOG_INFO, NGX_OK,
};
use ngx::http::HttpModuleLocationConf;
use std::sync::Arc;

use crate::conf::{Enable, Gate, LocConf, Rule, DEFAULT_SOURCES};
use crate::ctx::{self, JwtStatus};
use crate::jwks::Keys;
use crate::token_source::{complex_value, find_token};
use crate::util::{self, bytes, guard, pool_str};
use crate::{cache, fallback, metrics, Module};

/// What the gate decided for a request.
#[derive(Clone, Copy)]
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

/// Access-phase handler (registered in postconfiguration).
pub unsafe extern "C" fn access_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    guard(util::request_log(r), NGX_ERROR as ngx_int_t, || access(r))
}

fn access(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls phase handlers with a live request.
    let req = unsafe { ngx::http::Request::from_ngx_http_request(r) };
    let Some(lc) = Module::location_conf(req) else {
        return NGX_DECLINED as ngx_int_t;
    };
    if !gate_enabled(r, lc) {
        return NGX_DECLINED as ngx_int_t;
    }
    let Some(gate) = lc.gate.as_deref() else {
        // Merge guarantees keys wherever the gate can be on; fail closed regardless.
        return respond(r, lc, Decision::Error, false);
    };
    let fallback_vars = lc.fallback_vars.as_deref().map_or(&[][..], Vec::as_slice);
    if let Some(rc) = fallback::resume(r, fallback_vars) {
        return rc;
    }
    let decision = decide(r, lc, gate);
    if let (Decision::Missing | Decision::NotJwt(_), Some(Some(uri))) = (&decision, &lc.fallback) {
        return match ctx::current(r) {
            Some(ctx) => fallback::start(r, ctx, uri),
            None => NGX_ERROR as ngx_int_t,
        };
    }
    respond(r, lc, decision, true)
}

/// `auth_jwt_rs on|off|$var` for this request.
fn gate_enabled(r: *mut ngx_http_request_t, lc: &LocConf) -> bool {
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
pub fn decide(r: *mut ngx_http_request_t, lc: &LocConf, gate: &Gate) -> Decision {
    match authenticate(r, lc, gate) {
        Decision::Allow => authorize(r, lc),
        d => d,
    }
}

/// Authenticates `r` once per location: the token, its signature, the time and standard claims.
/// The outcome is kept in the request context, so that claim variables read before the access
/// phase (in `if`, `set`) see the verified claims and the access phase does not verify twice.
pub fn authenticate(r: *mut ngx_http_request_t, lc: &LocConf, gate: &Gate) -> Decision {
    authenticate_in(r, lc, gate, true)
}

/// `authenticate`; `can_wait` is false where the request cannot be suspended for a key fetch
/// (a variable read in the rewrite phase), in which case nothing is decided yet.
fn authenticate_in(
    r: *mut ngx_http_request_t,
    lc: &LocConf,
    gate: &Gate,
    can_wait: bool,
) -> Decision {
    if let Some((g, d)) = ctx::current(r).and_then(|c| c.authenticated) {
        if std::ptr::eq(g, gate) {
            return d;
        }
    }
    let Some(ctx) = ctx::get_or_create(r) else {
        return Decision::Error;
    };
    let refetched = ctx.key_refetched;
    ctx.reset();
    ctx.key_refetched = refetched;
    let d = verify_token(r, lc, gate, ctx, can_wait);
    if matches!(d, Decision::Wait) {
        // Not decided: leave no trace, so that variables do not report a half-made decision.
        ctx.status = None;
        ctx.reason = None;
    } else {
        ctx.authenticated = Some((gate as *const Gate, d));
    }
    d
}

/// Authenticates `r` ahead of the access phase when a claim variable is read first (in the
/// rewrite phase: `if`, `set`). Only for main requests in a location where the gate is on.
pub fn authenticate_early(r: *mut ngx_http_request_t) {
    // SAFETY: r is live.
    if unsafe { (*r).main } != r {
        return;
    }
    let req = unsafe { ngx::http::Request::from_ngx_http_request(r) };
    let Some(lc) = Module::location_conf(req) else {
        return;
    };
    if let Some(gate) = lc.gate.as_deref() {
        if gate_enabled(r, lc) {
            authenticate_in(r, lc, gate, false);
        }
    }
}

fn verify_token(
    r: *mut ngx_http_request_t,
    lc: &LocConf,
    gate: &Gate,
    ctx: &mut ctx::Ctx,
    can_wait: bool,
) -> Decision {
    let sources = lc.sources.as_deref().map_or(DEFAULT_SOURCES, Vec::as_slice);
    let Some(token) = find_token(r, sources) else {
        ctx.status = Some(JwtStatus::Missing);
        ctx.reason = Some(Reason::Missing.as_str());
        return Decision::Missing;
    };
    let waiter = can_wait.then_some(r);
    let now = now();
    let cache_key = lc.cache_enabled().then(|| TokenCache::key(token));

    // A token whose signature verified before, with the key set now in force for its issuer.
    let mut cached = None;
    if let Some(key) = &cache_key {
        if let Some(hit) = cache::with(|c| c.get(key, now)) {
            let claims = &hit.verified.claims;
            if let Some((_, source)) = gate.keys.select(claims) {
                match source.keys(waiter, now, false) {
                    Keys::Ready(k) if hit.verified_with(k.id(), gate.algs_for(&k)) => {
                        cached = Some(hit.verified);
                    }
                    Keys::Wait => return Decision::Wait,
                    _ => {}
                }
            }
        }
        metrics::cache_lookup(cached.is_some());
    }
    let verified = match cached {
        Some(v) => {
            // Time claims, iss, aud, lifetime and type are checked on every request.
            let admitted = gate
                .keys
                .admit(&gate.policy, &v.header, &v.claims, now)
                .map(|_| ());
            if let Err(reason) = admitted {
                return reject(r, ctx, token, &failure_of(&v, reason));
            }
            v
        }
        None => match verify_uncached(r, gate, ctx, token, waiter, now) {
            Ok((v, keyset, algs)) => {
                let v = Rc::new(v);
                if let Some(key) = cache_key {
                    cache::with(|c| c.insert(key, v.clone(), keyset, algs));
                }
                v
            }
            Err(d) => return d,
        },
    };
    ctx.status = Some(JwtStatus::Ok);
    ctx.verified = Some(verified);
    Decision::Allow
}

/// A token not in the cache: every check that needs no signature first (README "Order of the
/// checks"), then the keys of its issuer's group and the signature. Only a token that passed
/// all of them may make an unknown `kid` refetch that group's key requests. The verified token
/// comes with the key set and allow-list that verified it, for the cache.
fn verify_uncached(
    r: *mut ngx_http_request_t,
    gate: &Gate,
    ctx: &mut ctx::Ctx,
    token: &[u8],
    waiter: Option<*mut ngx_http_request_t>,
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
    if rotated && waiter.is_some() && !ctx.key_refetched {
        ctx.key_refetched = true;
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

/// Records and logs a rejection of `token`.
fn reject(r: *mut ngx_http_request_t, ctx: &mut ctx::Ctx, token: &[u8], f: &Failure) -> Decision {
    log_rejection(r, f);
    ctx.status = Some(JwtStatus::Invalid);
    ctx.reason = Some(f.reason.as_str());
    if is_jwt_shaped(token) {
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

fn no_keys(r: *mut ngx_http_request_t, ctx: &mut ctx::Ctx) -> Decision {
    util::log_request(r, NGX_LOG_ERR as ngx_uint_t, || {
        "auth_jwt_rs: no verification keys available".to_string()
    });
    ctx.status = Some(JwtStatus::Error);
    ctx.reason = Some(Reason::Internal.as_str());
    Decision::Error
}

/// Applies the authorization rules to an authenticated request.
fn authorize(r: *mut ngx_http_request_t, lc: &LocConf) -> Decision {
    // Rules run after the claims are in the context: `auth_jwt_rs_require` values may use them.
    if let Some(status) = failed_rule(r, lc) {
        let ctx = ctx::find(r);
        if let Some(ctx) = ctx {
            ctx.status = Some(JwtStatus::Forbidden);
            ctx.reason = Some(Reason::Rule.as_str());
            let (alg, kid) = match &ctx.verified {
                Some(v) => (alg_name(v.alg), v.kid.as_deref().map(log_kid)),
                None => ("-", None),
            };
            util::log_request(r, NGX_LOG_INFO as ngx_uint_t, || {
                format!(
                    "auth_jwt_rs: token does not satisfy an authorization rule (alg: {alg}, \
                     kid: \"{}\")",
                    kid.as_deref().unwrap_or("-")
                )
            });
        }
        return Decision::Forbidden(status);
    }
    Decision::Allow
}

/// The status of the first failing authorization rule, if any.
fn failed_rule(r: *mut ngx_http_request_t, lc: &LocConf) -> Option<u16> {
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
                    .and_then(|ctx| ctx.verified.as_ref())
                    .is_some_and(|v| c.check(&v.claims));
                if !ok {
                    return Some(c.status);
                }
            }
        }
    }
    None
}

pub fn now() -> u64 {
    // SAFETY: ngx_cached_time always points to a valid time slot in a running worker.
    let sec = unsafe { (*ngx::ffi::ngx_cached_time).sec };
    sec.max(0) as u64
}

/// The `info` line of a rejection: reason, alg and kid (already sanitized by the core), never
/// any part of the token.
fn log_rejection(r: *mut ngx_http_request_t, f: &Failure) {
    util::log_request(r, NGX_LOG_INFO as ngx_uint_t, || {
        format!(
            "auth_jwt_rs: token rejected: {} (alg: {}, kid: \"{}\")",
            f.reason.as_str(),
            f.alg.map(alg_name).unwrap_or("-"),
            f.kid.as_deref().unwrap_or("-")
        )
    });
}

/// Turns a decision into a handler's return value, setting headers as needed, and counts it.
/// `redirect` allows the browser login redirect (the gate), which `auth_jwt_rs_verify` never
/// answers.
pub fn respond(r: *mut ngx_http_request_t, lc: &LocConf, d: Decision, redirect: bool) -> ngx_int_t {
    let rc = respond_inner(r, lc, d, redirect);
    if !matches!(d, Decision::Wait) {
        count_decision(r);
    }
    rc
}

/// Counts the decision recorded in `r`'s context in the status metrics.
pub fn count_decision(r: *mut ngx_http_request_t) {
    if let Some(c) = ctx::own(r) {
        if let Some(status) = c.status {
            metrics::decision(status, c.reason);
        }
    }
}

fn respond_inner(
    r: *mut ngx_http_request_t,
    lc: &LocConf,
    d: Decision,
    redirect: bool,
) -> ngx_int_t {
    match d {
        Decision::Allow => NGX_OK as ngx_int_t,
        Decision::Wait => NGX_AGAIN as ngx_int_t,
        Decision::Missing | Decision::Invalid(_) | Decision::NotJwt(_)
            if redirect && login_redirect(r, lc) =>
        {
            NGX_HTTP_MOVED_TEMPORARILY as ngx_int_t
        }
        Decision::Missing => challenge(r, lc, 401, None),
        Decision::Invalid(reason) | Decision::NotJwt(reason) => challenge(r, lc, 401, Some(reason)),
        Decision::Forbidden(401) => challenge(r, lc, 401, Some(Reason::Rule)),
        Decision::Forbidden(status) => challenge(r, lc, status, None),
        Decision::Error => {
            if let Some(ctx) = ctx::get_or_create(r) {
                ctx.status = Some(JwtStatus::Error);
                ctx.reason = Some(Reason::Internal.as_str());
            }
            500
        }
    }
}

/// The `WWW-Authenticate` value for a response (SPEC §1, §9).
pub fn challenge_value(realm: Option<&[u8]>, status: u16, reason: Option<Reason>) -> Vec<u8> {
    let mut v = b"Bearer".to_vec();
    let mut params: Vec<Vec<u8>> = Vec::new();
    if let Some(realm) = realm {
        let mut p = b"realm=\"".to_vec();
        p.extend_from_slice(realm);
        p.push(b'"');
        params.push(p);
    }
    match (status, reason) {
        (401, Some(reason)) => {
            params.push(b"error=\"invalid_token\"".to_vec());
            params.push(format!("error_description=\"{}\"", reason.description()).into_bytes());
        }
        (403, _) => params.push(b"error=\"insufficient_scope\"".to_vec()),
        _ => {}
    }
    for (i, p) in params.iter().enumerate() {
        v.extend_from_slice(if i == 0 { b" " } else { b", " });
        v.extend_from_slice(p);
    }
    v
}

fn challenge(
    r: *mut ngx_http_request_t,
    lc: &LocConf,
    status: u16,
    reason: Option<Reason>,
) -> ngx_int_t {
    let value = challenge_value(lc.realm.as_ref().map(bytes), status, reason);
    if set_www_authenticate(r, &value).is_none() {
        return NGX_ERROR as ngx_int_t;
    }
    status as ngx_int_t
}

/// Adds a response header the way nginx's own modules add the ones they also point to from
/// `headers_out` (`hash = 1`, no `next`), hiding `old` (the header it replaces), and returns it.
fn push_header_out(
    r: *mut ngx_http_request_t,
    key: ngx::ffi::ngx_str_t,
    value: &[u8],
    old: *mut ngx_table_elt_t,
) -> Option<*mut ngx_table_elt_t> {
    // SAFETY: r is live; the header element and its value are allocated in the request pool.
    unsafe {
        if !old.is_null() {
            (*old).hash = 0;
        }
        let v = pool_str((*r).pool, value)?;
        let h = ngx_list_push(&mut (*r).headers_out.headers) as *mut ngx_table_elt_t;
        if h.is_null() {
            return None;
        }
        (*h).hash = 1;
        crate::compat::end_chain(h);
        (*h).key = key;
        (*h).value = v;
        (*h).lowcase_key = std::ptr::null_mut();
        Some(h)
    }
}

/// Sets `r->headers_out.www_authenticate` the way nginx's auth_basic does, so the challenge
/// survives `error_page` and is copied by `auth_request`.
pub fn set_www_authenticate(r: *mut ngx_http_request_t, value: &[u8]) -> Option<()> {
    // SAFETY: r is live.
    unsafe {
        let old = (*r).headers_out.www_authenticate;
        let h = push_header_out(r, ngx::ngx_string!("WWW-Authenticate"), value, old)?;
        (*r).headers_out.www_authenticate = h;
    }
    Some(())
}

/// SPEC §1: a browser navigation (GET/HEAD accepting text/html) without a valid token is sent
/// to `auth_jwt_rs_login_url` instead of receiving the 401.
fn login_redirect(r: *mut ngx_http_request_t, lc: &LocConf) -> bool {
    let Some(cv) = lc.login_url else {
        return false;
    };
    // SAFETY: r is live; headers and method are parsed.
    unsafe {
        let m = (*r).method as u32;
        if m != NGX_HTTP_GET && m != NGX_HTTP_HEAD {
            return false;
        }
        if !accepts_html(r) {
            return false;
        }
        let Some(url) = complex_value(r, cv) else {
            return false;
        };
        if url.is_empty() || url.iter().any(|&c| c < 0x20 || c == 0x7f) {
            return false;
        }
        // nginx's special response handler takes the redirect target from here.
        let old = (*r).headers_out.location;
        let Some(h) = push_header_out(r, ngx::ngx_string!("Location"), url, old) else {
            return false;
        };
        (*r).headers_out.location = h;
        true
    }
}

/// Whether any `Accept` header lists `text/html`.
fn accepts_html(r: *mut ngx_http_request_t) -> bool {
    util::find_header(r, b"accept", |v| {
        v.windows(9).any(|w| w.eq_ignore_ascii_case(b"text/html"))
    })
    .is_some()
}
