#!/usr/bin/env bash
# Builds ngx_http_auth_jwt_rs_module.so against a real nginx source tree (an nginx.org release
# tarball, or a distribution's patched source) instead of the vendored nginx.
#
# Usage: scripts/build-for-nginx.sh NGINX_SRC_DIR [configure args...]
#
#   NGINX_SRC_DIR    an nginx source tree of EXACTLY the version of the target nginx binary
#                    (`nginx -v`); for distribution builds, the distribution's patched source.
#   configure args   the target's `nginx -V` "configure arguments", which must include
#                    --with-compat. The tree is (re)configured with them when they differ from
#                    the last run. Without arguments the tree must already be configured.
#
#   Example (module for an nginx.org 1.28.0 build installed on this machine):
#     tar xf nginx-1.28.0.tar.gz
#     eval "scripts/build-for-nginx.sh nginx-1.28.0 $(nginx -V 2>&1 | sed -n 's/^configure arguments: //p')"
#
# nginx refuses a module built for another version ("module ... version X instead of Y") or with
# another module signature ("... is not binary compatible"); see docs/packaging.md.
# With --with-compat, dynamic modules in the arguments (--with-X=dynamic,
# --add-dynamic-module=...) do not change the signature and are dropped, so their libraries need
# not be installed.
#
# Environment:
#   CARGO_TARGET_DIR  default target/nginx-<version>  (kept between runs: incremental rebuilds)
#   OUT_DIR_SO        default build/nginx-<version>   (the .so is written there)
#   NGINX_BINARY      optional path of the target nginx: its version and module signature are
#                     compared with the built module and the script fails on a mismatch
#   SKIP_INSTALL_DEPS=1  don't run scripts/install-deps.sh (libclang etc.)
#   NGINX_CHROOT      a root file system of the target's distribution release holding
#                     NGINX_SRC_DIR (scripts/build-deb.sh for another release): configure runs
#                     in it (its compiler and libraries) and bindgen reads its system headers
#                     (--sysroot); the Rust code is compiled and linked on the host
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

die() { echo "build-for-nginx: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: $0 NGINX_SRC_DIR [configure args...]"
[ -f "$1/src/core/nginx.h" ] || die "$1 is not an nginx source tree (no src/core/nginx.h)"
src=$(cd "$1" && pwd -P)
shift
chroot_dir=
if [ -n "${NGINX_CHROOT:-}" ]; then
  chroot_dir=$(cd "$NGINX_CHROOT" && pwd -P)
  case "$src" in "$chroot_dir"/*) ;; *) die "$src is not inside NGINX_CHROOT $chroot_dir" ;; esac
fi
version=$(sed -n 's/^#define NGINX_VERSION  *"\(.*\)"/\1/p' "$src/src/core/nginx.h")
[ -n "$version" ] || die "cannot read NGINX_VERSION from $src/src/core/nginx.h"

# Configure arguments: drop dynamic modules when --with-compat is present (see above).
args=() compat=0 builddir=
for a in "$@"; do [ "$a" = --with-compat ] && compat=1; done
for a in "$@"; do
  case "$a" in
    --add-dynamic-module=*|--with-*=dynamic)
      if [ $compat = 1 ]; then echo "build-for-nginx: dropping $a (irrelevant with --with-compat)"; continue; fi ;;
    --builddir=*) builddir=${a#--builddir=} ;;
  esac
  args+=("$a")
done
if [ -n "$builddir" ]; then
  case "$builddir" in /*) ;; *) builddir=$src/$builddir ;; esac
else
  builddir=$src/objs
fi

if [ $# -gt 0 ]; then
  [ $compat = 1 ] || echo "build-for-nginx: WARNING: no --with-compat: the module will only load" \
    "into a binary configured with exactly these arguments" >&2
  stamp=$builddir/.auth_jwt_rs_configure_args
  want=$(printf '%s\n' "${args[@]}")
  # Re-running configure rewrites objs/ (and retriggers bindgen + a module rebuild): only do it
  # when the arguments changed, so that repeated runs are incremental.
  if [ ! -f "$builddir/ngx_auto_config.h" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "build-for-nginx: configuring nginx $version in $src"
    # release tarballs have ./configure, a checkout of the nginx repository auto/configure
    configure=./configure; [ -x "$src/configure" ] || configure=auto/configure
    if [ -n "$chroot_dir" ]; then
      chroot "$chroot_dir" /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "${src#"$chroot_dir"}" \
        $configure "${args[@]}"
    else
      (cd "$src" && $configure "${args[@]}")
    fi > "$src/.auth_jwt_rs_configure.log" 2>&1 \
      || { tail -20 "$src/.auth_jwt_rs_configure.log" >&2; die "configure failed (log: $src/.auth_jwt_rs_configure.log)"; }
    printf '%s\n' "$want" > "$stamp"
  else
    echo "build-for-nginx: $src already configured with these arguments"
  fi
fi
[ -f "$builddir/ngx_auto_config.h" ] && [ -f "$builddir/Makefile" ] \
  || die "$src is not configured: pass the target's configure arguments (nginx -V)"
grep -q '^#define NGX_COMPAT  *1' "$builddir/ngx_auto_config.h" \
  || echo "build-for-nginx: WARNING: $src is configured without --with-compat" >&2

[ "${SKIP_INSTALL_DEPS:-0}" = 1 ] || ./scripts/install-deps.sh

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/nginx-$version}
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR=$root/$CARGO_TARGET_DIR ;; esac
out=${OUT_DIR_SO:-build/nginx-$version}
echo "build-for-nginx: building against $src (build dir $builddir), target dir $CARGO_TARGET_DIR"
# With a chroot, bindgen parses nginx's headers with the chroot's libc/OpenSSL/PCRE2 headers,
# the ones its configure saw (struct layouts must match the target's nginx).
if [ -n "$chroot_dir" ]; then export BINDGEN_EXTRA_CLANG_ARGS="--sysroot=$chroot_dir"; fi
NGINX_SOURCE_DIR=$src NGINX_BUILD_DIR=$builddir \
  cargo build --release --no-default-features --features export-modules -p ngx_http_auth_jwt_rs

mkdir -p "$out"
so=$out/ngx_http_auth_jwt_rs_module.so
cp -f "$CARGO_TARGET_DIR/release/libngx_http_auth_jwt_rs_module.so" "$so"
chmod 0644 "$so"
# NGX_MODULE_SIGNATURE string compiled into the module (and into every nginx binary).
signature() { grep -aoE '[0-9]+,[0-9]+,[0-9]+,[01]{30,}' "$1" | head -1; }
sig=$(signature "$so")
echo "build-for-nginx: $so ($(stat -c %s "$so") bytes) for nginx $version, signature $sig"

if [ -n "${NGINX_BINARY:-}" ]; then
  bin_version=$("$NGINX_BINARY" -v 2>&1 | sed -n 's|^nginx version: [^/]*/\([0-9.]*\).*|\1|p')
  bin_sig=$(signature "$NGINX_BINARY")
  [ "$bin_version" = "$version" ] || die "$NGINX_BINARY is nginx $bin_version, the tree is $version"
  [ "$bin_sig" = "$sig" ] || die "signature mismatch: $NGINX_BINARY has $bin_sig, module has $sig"
  echo "build-for-nginx: version and signature match $NGINX_BINARY"
fi
