//! jwt-validator: a minimal forward-auth JWT validator (the thing users put behind nginx's
//! `auth_request`). Validates `Authorization: Bearer <jwt>` against the keys given on the
//! command line and answers `200` (valid) or `401` (anything else), empty body.
//!
//!     jwt-validator --listen 127.0.0.1:9100 \
//!         --key HS256=t/keys/hs.secret --key RS256=t/keys/rsa.pub.pem --key ES256=t/keys/ec256.pub.pem
//!
//! One key per algorithm; the token header's `alg` selects it (a token whose alg has no key is
//! a 401). `exp` is required and checked; `--issuer` / `--audience`, when given, are checked
//! too (the benchmark gives both to the validator and to the module). Keys are parsed once at start-up. Single-threaded
//! tokio runtime (the benchmark pins the process to one core, like the nginx worker).

use bytes::Bytes;
use http_body_util::Empty;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::HashMap;
use std::convert::Infallible;
use std::rc::Rc;
use std::str::FromStr;
use tokio::net::TcpListener;

struct Keys(HashMap<Algorithm, (DecodingKey, Validation)>);

fn load_key(alg: Algorithm, path: &str) -> Result<DecodingKey, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            let s = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
            Ok(DecodingKey::from_secret(s))
        }
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => DecodingKey::from_rsa_pem(&bytes),
        Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(&bytes),
        Algorithm::EdDSA => DecodingKey::from_ed_pem(&bytes),
        _ => return Err(format!("{path}: unsupported algorithm")),
    };
    key.map_err(|e| format!("{path}: {e}"))
}

impl Keys {
    fn check(&self, req: &Request<hyper::body::Incoming>) -> bool {
        let Some(auth) = req.headers().get(hyper::header::AUTHORIZATION) else {
            return false;
        };
        let Ok(auth) = auth.to_str() else {
            return false;
        };
        let Some((scheme, token)) = auth.split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        let token = token.trim();
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return false;
        };
        let Some((key, validation)) = self.0.get(&header.alg) else {
            return false;
        };
        jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, validation)
            .is_ok()
    }
}

fn usage() -> ! {
    eprintln!("usage: jwt-validator --listen ADDR:PORT [--issuer ISS] [--audience AUD] --key ALG=PATH [--key ALG=PATH ...]");
    std::process::exit(2)
}

fn main() {
    let mut listen = String::from("127.0.0.1:9100");
    let mut keys = HashMap::new();
    let mut issuer: Option<String> = None;
    let mut audience: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen = args.next().unwrap_or_else(|| usage()),
            "--issuer" => issuer = Some(args.next().unwrap_or_else(|| usage())),
            "--audience" => audience = Some(args.next().unwrap_or_else(|| usage())),
            "--key" => {
                let spec = args.next().unwrap_or_else(|| usage());
                let (alg, path) = spec.split_once('=').unwrap_or_else(|| usage());
                let alg = Algorithm::from_str(alg).unwrap_or_else(|_| usage());
                let key = load_key(alg, path).unwrap_or_else(|e| {
                    eprintln!("jwt-validator: {e}");
                    std::process::exit(1)
                });
                keys.insert(alg, (key, Validation::new(alg)));
            }
            _ => usage(),
        }
    }
    if keys.is_empty() {
        usage();
    }
    for (_, v) in keys.values_mut() {
        v.leeway = 0;
        match &audience {
            Some(a) => v.set_audience(&[a]),
            None => v.validate_aud = false,
        }
        if let Some(i) = &issuer {
            v.set_issuer(&[i]);
        }
    }
    let keys = Rc::new(Keys(keys));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let listener = TcpListener::bind(&listen).await.unwrap_or_else(|e| {
            eprintln!("jwt-validator: bind {listen}: {e}");
            std::process::exit(1)
        });
        eprintln!("jwt-validator: listening on {listen}");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let keys = keys.clone();
            tokio::task::spawn_local(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let status = if keys.check(&req) {
                        StatusCode::OK
                    } else {
                        StatusCode::UNAUTHORIZED
                    };
                    let mut resp = Response::new(Empty::<Bytes>::new());
                    *resp.status_mut() = status;
                    async move { Ok::<_, Infallible>(resp) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
}
