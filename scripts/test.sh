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
if [ "$(id -u)" -eq 0 ] && grep -qs '^ID=debian' /etc/os-release && [ -z "${AUTH_JWT_SKIP_DEB:-}" ]; then
  # The Debian packages' release/LTO builds (t/deb.t: bookworm, on bookworm only; t/deb_trixie.t:
  # trixie, in a chroot) run here, before prove, so that they never compete with the e2e tests
  # for the CPU; the tests then only repackage. A failure is reported by the tests.
  releases=(trixie)
  grep -qs '^VERSION_CODENAME=bookworm' /etc/os-release && releases=(bookworm trixie)
  for release in "${releases[@]}"; do
    echo "== Debian package for $release (scripts/build-deb.sh $release, for t/deb*.t)"
    ./scripts/build-deb.sh "$release" || echo "scripts/build-deb.sh $release failed; t/deb*.t will report it"
  done
fi
echo "== end-to-end tests (t/)"
prove -j2 t/
