#!/usr/bin/env bash
# Micro-benchmark of the verify path per algorithm, both jsonwebtoken backends, then a Markdown
# table of µs per verify. Usage: bench/micro/run.sh [criterion args, e.g. --quick]
# Output: the table on stdout and in bench/results/micro-<date>.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$bench/target}"
crit="$CARGO_TARGET_DIR/criterion"
pin=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin=(taskset -c 1); fi

(cd "$here" && "${pin[@]}" cargo bench --bench verify -- "$@" >&2)
(cd "$here/rustcrypto" && "${pin[@]}" cargo bench --bench verify -- "$@" >&2)

us() { # mean in µs of group/function, or "-"
    local f="$crit/$1/$2/new/estimates.json"
    if [ -f "$f" ]; then jq -r '.mean.point_estimate / 1000 | . * 100 | round / 100' "$f"; else echo -; fi
}
mkdir -p "$bench/results"
out="$bench/results/micro-$(date +%Y%m%d-%H%M%S).md"
{
    echo "Verify path, µs per token (criterion mean; $(uname -m), $(nproc) cores, pinned to CPU1; $(date -u +%F))"
    echo
    echo "| alg | core verify_signature | core, token only (decode) | core, key only | jsonwebtoken decode, aws_lc_rs | jsonwebtoken decode, rust_crypto | signature only, aws_lc_rs | signature only, rust_crypto | aws-lc-rs, pre-parsed key (floor) | core − floor |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for alg in HS256 RS256 PS256 ES256 ES384 EdDSA; do
        g="verify_$alg"
        core=$(us $g core); floor=$(us $g aws_lc_parsed_key)
        over=$(awk -v c="$core" -v f="$floor" 'BEGIN { if (c == "-" || f == "-") print "-"; else printf "%.2f", c - f }')
        echo "| $alg | $core | $(us $g core_decode_only) | $(us $g core_key_only) | $(us $g jwt_decode_aws_lc_rs) | $(us $g jwt_decode_rust_crypto) | $(us $g jwt_sig_aws_lc_rs) | $(us $g jwt_sig_rust_crypto) | $floor | $over |"
    done
    echo
    echo "Verified-token cache, heap per entry (10,000 distinct tokens, bench/micro/benches/cache_memory.rs):"
    echo
    (cd "$here" && "${pin[@]}" cargo bench --bench cache_memory 2>/dev/null)
} | tee "$out"
echo "saved: $out" >&2
