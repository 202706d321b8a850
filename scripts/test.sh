#!/usr/bin/env bash
# Runs every test: build, formatting and lints, unit tests of the pure core, and the end-to-end
# tests in t/ against the real vendored nginx with the module loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
echo "== cargo fmt / clippy"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
echo "== unit tests (auth_jwt_core)"
cargo test -p auth_jwt_core
echo "== end-to-end tests (t/)"
prove -j2 t/
