#!/usr/bin/env bash
# Builds the module against the vendored NGINX (or NGINX_BUILD_DIR/NGINX_SOURCE_DIR when set)
# and lays out build/: sbin/nginx, modules/ngx_http_auth_jwt_rs_module.so, bin/jwt-mint.
# Usage: scripts/build.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
profile=debug; flags=()
if [ "${1:-}" = "--release" ]; then profile=release; flags=(--release); fi
cargo build --workspace "${flags[@]}"
out=target/$profile
objs=$(cat "$out/nginx-build-dir")
mkdir -p build/sbin build/modules build/bin
ln -sf "$objs/nginx" build/sbin/nginx
cp -f "$out/libngx_http_auth_jwt_rs_module.so" build/modules/ngx_http_auth_jwt_rs_module.so
cp -f "$out/jwt-mint" build/bin/jwt-mint
echo "built ($profile): build/modules/ngx_http_auth_jwt_rs_module.so against $objs/nginx"
