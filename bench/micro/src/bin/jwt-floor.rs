//! jwt-floor: the crypto floor per algorithm, in CPU µs per verify, for bench/run.sh.
//!
//!     jwt-floor [--ms 400] ALG:KEYFILE:TOKENFILE...
//!
//! For each argument: verifies the token's signature over its signing input with aws-lc-rs and
//! a key parsed once ([`auth_jwt_micro::Floor`]) in a loop, and prints `ALG µs` — the median of
//! five batches of the thread's CPU time (CLOCK_THREAD_CPUTIME_ID) per verify, so that other
//! processes on the same core do not count. Run it pinned like the nginx worker.

use auth_jwt_micro::Floor;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::hint::black_box;

const BATCHES: usize = 5;

fn cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid pointer to a timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Median CPU ns per call of `f`, batches of about `batch_ns` each.
fn measure(batch_ns: u64, f: impl Fn() -> bool) -> f64 {
    // Calibrate: iterations per batch from a short run (also the warm-up).
    let (t0, mut n) = (cpu_ns(), 0u64);
    while cpu_ns() - t0 < batch_ns / 4 {
        assert!(f(), "the token does not verify");
        n += 1;
    }
    let per = ((n * 4).max(1)) as f64;
    let mut v: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let t = cpu_ns();
            for _ in 0..per as u64 {
                black_box(f());
            }
            (cpu_ns() - t) as f64 / per
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[BATCHES / 2]
}

fn run(spec: &str, batch_ns: u64) -> Result<(String, f64), String> {
    let mut it = spec.splitn(3, ':');
    let (Some(alg), Some(key), Some(token)) = (it.next(), it.next(), it.next()) else {
        return Err(format!("{spec}: expected ALG:KEYFILE:TOKENFILE"));
    };
    let read = |p: &str| std::fs::read(p).map_err(|e| format!("{p}: {e}"));
    let floor = Floor::new(alg, &read(key)?)?;
    let token = read(token)?;
    let token = token.trim_ascii();
    let dot = token
        .iter()
        .rposition(|&b| b == b'.')
        .ok_or("token without a dot")?;
    let (message, signature) = (&token[..dot], &token[dot + 1..]);
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| format!("signature: {e}"))?;
    if !floor.verify(message, &signature) {
        return Err(format!("{alg}: the token does not verify with {key}"));
    }
    let ns = measure(batch_ns, || floor.verify(black_box(message), &signature));
    Ok((alg.to_string(), ns / 1000.0))
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut ms = 400u64;
    if args.first().map(String::as_str) == Some("--ms") && args.len() > 1 {
        ms = args[1].parse().unwrap_or_else(|_| {
            eprintln!("jwt-floor: --ms needs a number");
            std::process::exit(2)
        });
        args.drain(..2);
    }
    if args.is_empty() {
        eprintln!("usage: jwt-floor [--ms MS_PER_ALG] ALG:KEYFILE:TOKENFILE...");
        std::process::exit(2);
    }
    let batch_ns = ms * 1_000_000 / (BATCHES as u64 + 1);
    for spec in &args {
        match run(spec, batch_ns) {
            Ok((alg, us)) => println!("{alg} {us:.2}"),
            Err(e) => {
                eprintln!("jwt-floor: {e}");
                std::process::exit(1);
            }
        }
    }
}
