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
if [ "$(id -u)" -eq 0 ] && grep -qs '^VERSION_CODENAME=bookworm' /etc/os-release \
  && [ -z "${AUTH_JWT_SKIP_DEB:-}" ]; then
  # The Debian package's release/LTO build (t/deb.t) runs here, before prove, so that it never
  # competes with the e2e tests for the CPU; t/deb.t then only repackages. A failure is reported
  # by t/deb.t.
  echo "== Debian package (scripts/build-deb.sh, for t/deb.t)"
  ./scripts/build-deb.sh || echo "scripts/build-deb.sh failed; t/deb.t will report it"
fi
echo "== end-to-end tests (t/)"
prove -j2 t/
