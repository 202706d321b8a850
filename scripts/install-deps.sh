#!/usr/bin/env bash
# Installs the system packages the build, the demo and the tests need (Debian/Ubuntu).
# Idempotent: does nothing when everything is already present.
set -euo pipefail
pkgs=(libclang-dev clang libpcre2-dev libssl-dev zlib1g-dev pkg-config make perl openssl curl cmake
  chromium)
# The Debian package tests (root on Debian, t/deb*.t): lintian, and mmdebstrap for the chroots
# of other releases (scripts/build-deb.sh CODENAME, t/deb_trixie.t).
if [ "$(id -u)" -eq 0 ] && grep -qs '^ID=debian' /etc/os-release && [ -z "${AUTH_JWT_SKIP_DEB:-}" ]; then
  pkgs+=(mmdebstrap lintian)
fi
missing=()
# Node.js >= 20 and npm for t/node (oidc-provider, playwright-core): Debian's packages only when
# there is no node/npm at all, so a Node.js installed otherwise is kept (bookworm's own nodejs
# is 18, too old for t/node; trixie's is 20).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
