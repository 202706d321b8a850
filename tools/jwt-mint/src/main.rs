//! `jwt-mint`: test and demo helper that signs an arbitrary JOSE header and payload into a
//! compact JWS.
//!
//! ```text
//! jwt-mint --alg ALG (--key PRIVATE.pem | --secret-file FILE) [--kid KID]
//!          [--typ TYP | --no-typ] [--header RAWJSON]
//!          (--claims RAWJSON | --claims-file F) [--exp-in SECS] [--iat-now]
//! ```
//!
//! The default header is `{"alg": ALG, "typ": "JWT"}` plus `kid`; `--typ` replaces `JWT`,
//! `--no-typ` leaves `typ` out.
//!
//! `--header` and `--claims` are encoded verbatim (byte for byte), so tests can craft odd
//! headers (`"alg":"none"`, `crit`, embedded `jwk`) and non-object payloads. `--exp-in` and
//! `--iat-now` only apply when the claims are a JSON object; they re-serialize it.

use std::process::ExitCode;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, AlgorithmFamily, EncodingKey};

const USAGE: &str = "usage: jwt-mint --alg ALG (--key PRIVATE.pem | --secret-file FILE) \
[--kid KID] [--typ TYP | --no-typ] [--header RAWJSON] (--claims RAWJSON | --claims-file F) \
[--exp-in SECS] [--iat-now]";

#[derive(Default)]
struct Args {
    alg: Option<String>,
    key: Option<String>,
    secret_file: Option<String>,
    kid: Option<String>,
    typ: Option<String>,
    no_typ: bool,
    header: Option<String>,
    claims: Option<Vec<u8>>,
    exp_in: Option<i64>,
    iat_now: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--iat-now" {
            args.iat_now = true;
            continue;
        }
        if flag == "--no-typ" {
            args.no_typ = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_string());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--alg" => args.alg = Some(value),
            "--key" => args.key = Some(value),
            "--secret-file" => args.secret_file = Some(value),
            "--kid" => args.kid = Some(value),
            "--typ" => args.typ = Some(value),
            "--header" => args.header = Some(value),
            "--claims" => args.claims = Some(value.into_bytes()),
            "--claims-file" => {
                args.claims =
                    Some(std::fs::read(&value).map_err(|e| format!("cannot read {value}: {e}"))?)
            }
            "--exp-in" => {
                args.exp_in = Some(
                    value
                        .parse()
                        .map_err(|_| format!("bad --exp-in: {value}"))?,
                )
            }
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn encoding_key(alg: Algorithm, args: &Args) -> Result<EncodingKey, String> {
    match (&args.key, &args.secret_file) {
        (Some(path), None) => {
            let pem = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            let key = match alg.family() {
                // The PEM bytes themselves as an HMAC secret (key-confusion test tokens).
                AlgorithmFamily::Hmac => Ok(EncodingKey::from_secret(&pem)),
                AlgorithmFamily::Rsa => EncodingKey::from_rsa_pem(&pem),
                AlgorithmFamily::Ec => EncodingKey::from_ec_pem(&pem),
                AlgorithmFamily::Ed => EncodingKey::from_ed_pem(&pem),
            };
            key.map_err(|e| format!("{path}: {e}"))
        }
        (None, Some(path)) => {
            if alg.family() != AlgorithmFamily::Hmac {
                return Err(format!("--secret-file needs an HS* algorithm, not {alg:?}"));
            }
            let mut secret = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            if secret.last() == Some(&b'\n') {
                secret.pop();
            }
            Ok(EncodingKey::from_secret(&secret))
        }
        _ => Err(format!(
            "exactly one of --key and --secret-file is required\n{USAGE}"
        )),
    }
}

fn claims_bytes(args: &Args) -> Result<Vec<u8>, String> {
    let raw = args
        .claims
        .clone()
        .ok_or_else(|| format!("--claims is required\n{USAGE}"))?;
    if args.exp_in.is_none() && !args.iat_now {
        return Ok(raw);
    }
    let mut value: serde_json::Value = serde_json::from_slice(&raw)
        .map_err(|e| format!("--exp-in/--iat-now need JSON object claims: {e}"))?;
    let obj = value
        .as_object_mut()
        .ok_or("--exp-in/--iat-now need JSON object claims")?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs() as i64;
    if let Some(secs) = args.exp_in {
        obj.insert("exp".into(), (now + secs).into());
    }
    if args.iat_now {
        obj.insert("iat".into(), now.into());
    }
    serde_json::to_vec(&value).map_err(|e| e.to_string())
}

fn run() -> Result<String, String> {
    let args = parse_args()?;
    let alg_name = args
        .alg
        .as_deref()
        .ok_or_else(|| format!("--alg is required\n{USAGE}"))?;
    let alg = Algorithm::from_str(alg_name).map_err(|_| format!("unknown algorithm {alg_name}"))?;
    let key = encoding_key(alg, &args)?;

    let header = match &args.header {
        Some(raw) => raw.clone().into_bytes(),
        None => {
            let mut h = serde_json::Map::new();
            h.insert("alg".into(), alg_name.into());
            if !args.no_typ {
                h.insert("typ".into(), args.typ.as_deref().unwrap_or("JWT").into());
            }
            if let Some(kid) = &args.kid {
                h.insert("kid".into(), kid.as_str().into());
            }
            serde_json::to_vec(&h).map_err(|e| e.to_string())?
        }
    };
    let claims = claims_bytes(&args)?;

    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key, alg)
        .map_err(|e| format!("signing failed: {e}"))?;
    Ok(format!("{signing_input}.{signature}"))
}

fn main() -> ExitCode {
    match run() {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("jwt-mint: {msg}");
            ExitCode::from(2)
        }
    }
}
