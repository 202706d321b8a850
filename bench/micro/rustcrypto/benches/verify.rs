//! jsonwebtoken with the rust_crypto backend, same benchmarks and group names as ../benches.

#[path = "../../common.rs"]
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, Criterion};

fn verify(c: &mut Criterion) {
    for (name, alg, private, public) in ALGS {
        let token = mint(alg, private);
        let key = decoding_key(alg, public);
        let mut g = c.benchmark_group(format!("verify_{name}"));
        bench_decode(&mut g, "jwt_decode_rust_crypto", alg, &token, &key);
        bench_crypto_verify(&mut g, "jwt_sig_rust_crypto", alg, &token, &key);
        g.finish();
    }
}

criterion_group! { name = benches; config = criterion_config(); targets = verify }
criterion_main!(benches);
