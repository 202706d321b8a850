//! jwt-many: prints N distinct valid tokens, one per line (the benchmark's cache-fill set).
//!
//!     jwt-many --alg RS256 --key t/keys/rsa.key --count 10000 [--exp-in 86400]
//!              [--issuer ISS] [--audience AUD]
//!
//! Tokens differ by `sub`, `jti`, `email` and `name`; the claim set has the shape and size of
//! the benchmark's usual token (~335 bytes of JSON).
//! Signing is spread over all cores (RSA signing is ~1 ms a token).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::io::Write;
use std::str::FromStr;

fn usage() -> ! {
    eprintln!("usage: jwt-many --alg ALG (--key PRIVATE.pem | --secret-file FILE) --count N [--exp-in SECS] [--issuer ISS] [--audience AUD]");
    std::process::exit(2)
}

fn main() {
    let (mut alg, mut key, mut secret, mut count, mut exp_in) =
        (None, None, None, 0usize, 86400u64);
    let mut issuer = String::from("https://issuer.example.com/realms/bench");
    let mut audience = String::from("bench-api");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--alg" => alg = Some(Algorithm::from_str(&v).unwrap_or_else(|_| usage())),
            "--key" => key = Some(v),
            "--secret-file" => secret = Some(v),
            "--count" => count = v.parse().unwrap_or_else(|_| usage()),
            "--exp-in" => exp_in = v.parse().unwrap_or_else(|_| usage()),
            "--issuer" => issuer = v,
            "--audience" => audience = v,
            _ => usage(),
        }
    }
    let alg = alg.unwrap_or_else(|| usage());
    let read = |p: &str| {
        std::fs::read(p).unwrap_or_else(|e| {
            eprintln!("jwt-many: {p}: {e}");
            std::process::exit(1)
        })
    };
    let enc = match (alg, &key, &secret) {
        (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, _, Some(s)) => {
            let b = read(s);
            EncodingKey::from_secret(b.strip_suffix(b"\n").unwrap_or(&b))
        }
        (Algorithm::ES256 | Algorithm::ES384, Some(k), _) => {
            EncodingKey::from_ec_pem(&read(k)).unwrap()
        }
        (Algorithm::EdDSA, Some(k), _) => EncodingKey::from_ed_pem(&read(k)).unwrap(),
        (
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
            Some(k),
            _,
        ) => EncodingKey::from_rsa_pem(&read(k)).unwrap(),
        _ => usage(),
    };
    let now = jsonwebtoken::get_current_timestamp();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = count.div_ceil(threads.max(1)).max(1);
    let out: Vec<Vec<String>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|start| {
                let (enc, issuer, audience) = (&enc, &issuer, &audience);
                s.spawn(move || {
                    (start..(start + chunk).min(count))
                        .map(|i| {
                            // The shape and size of bench/run.sh's typical token:
                            // UUID-like sub/jti, a 13-character name, a 17-character email (below 10,000).
                            let claims = serde_json::json!({
                                "iss": issuer, "aud": audience,
                                "sub": format!("8b0c3d0e-5f6a-4b1c-9d2e-{i:012x}"),
                                "jti": format!("0f1e2d3c-{:04x}-6978-8796-{i:012x}", now & 0xffff),
                                "email": format!("u{i:04}@example.com"),
                                "name": format!("User {i:08}"),
                                "scope": "openid profile email api:read api:write",
                                "roles": ["user", "editor"],
                                "exp": now + exp_in, "iat": now,
                            });
                            jsonwebtoken::encode(&Header::new(alg), &claims, enc).unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
    for t in out.iter().flatten() {
        writeln!(w, "{t}").unwrap();
    }
}
