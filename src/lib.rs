//! auth_jwt_rs: an NGINX module that validates JWTs in the access phase.
//!
//! This crate is the nginx glue; the JWT logic (keys, verification, claims, rules) lives in
//! `auth_jwt_core`, which has no nginx symbols and is unit-tested on its own.
//!
//! Layers, each using only those below it: `util`, `log`, `compat`, `keyzone`, `metrics`,
//! `cache` (nginx helpers and worker state); `jwks` (keys from identity providers); `conf`
//! (configuration and its directives); `ctx`, `token_source` (per-request state, the token);
//! `decide`, `respond`, `fallback` (the decision and the answer); and on top the handlers
//! `access` (the gate), `endpoint` (`auth_jwt_rs_verify`), `status`, `variables`, with `module`
//! wiring them into nginx.

mod access;
mod cache;
mod compat;
mod conf;
mod ctx;
mod decide;
mod endpoint;
mod fallback;
mod jwks;
mod keyzone;
mod log;
mod metrics;
mod module;
mod respond;
mod status;
mod token_source;
mod util;
mod variables;
