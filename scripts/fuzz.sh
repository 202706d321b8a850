#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS each (default 60), one after the other,
# starting from the checked-in seed corpus fuzz/corpus/<target>/ (never written to: new inputs
# go to fuzz/work/<target>/). Exits non-zero when a target crashes; the reproducer is in
# fuzz/artifacts/<target>/. Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#
# libFuzzer needs nightly rustc flags (-Zsanitizer=address ...). With only a stable toolchain,
# RUSTC_BOOTSTRAP=1 lets it accept them; set FUZZ_SANITIZER=none if AddressSanitizer cannot
# link on a machine (the Rust code is memory-safe; ASan mainly watches the C of aws-lc/pcre2
# through their Rust callers). FUZZ_JOBS>1 runs that many libFuzzer workers per target.
set -euo pipefail

cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-60}"
shift || true
TARGETS=("$@")
if [ "${#TARGETS[@]}" -eq 0 ]; then
    TARGETS=(token_split verify claims jwks credentials)
fi
SANITIZER="${FUZZ_SANITIZER:-address}"
JOBS="${FUZZ_JOBS:-1}"
export RUSTC_BOOTSTRAP=1
# cargo-fuzz 0.13 builds with the release profile of fuzz/Cargo.toml; keep builds polite.
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz from crates.io" >&2
    cargo install cargo-fuzz --locked
fi

echo "fuzz.sh: building ${TARGETS[*]} (sanitizer: $SANITIZER)" >&2
for t in "${TARGETS[@]}"; do
    cargo fuzz build --sanitizer "$SANITIZER" "$t"
done

failed=()
for t in "${TARGETS[@]}"; do
    mkdir -p "fuzz/work/$t" "fuzz/corpus/$t"
    log="fuzz/work/$t.log"
    echo "fuzz.sh: $t for ${SECONDS_PER_TARGET}s (log: $log)" >&2
    # First corpus directory receives new inputs; the seed corpus is read only.
    # (-jobs, even =1, makes libFuzzer run workers that log to ./fuzz-N.log: only when asked)
    parallel=()
    if [ "$JOBS" -gt 1 ]; then
        parallel=(-jobs="$JOBS" -workers="$JOBS")
    fi
    if cargo fuzz run --sanitizer "$SANITIZER" "$t" "fuzz/work/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=20000 -timeout=10 -rss_limit_mb=2048 \
        "${parallel[@]}" -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" |
            sed "s/^/  $t /" >&2 || true
        grep -E '#[0-9]+.*(DONE|pulse)' "$log" | tail -1 | sed "s/^/  $t /" >&2 || true
    else
        echo "fuzz.sh: $t FAILED, see $log and fuzz/artifacts/$t/" >&2
        grep -E 'panicked|ERROR: |SUMMARY|Test unit written' "$log" | head -5 >&2 || true
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz.sh: crashes in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: ${#TARGETS[@]} targets, ${SECONDS_PER_TARGET}s each, no crash" >&2
