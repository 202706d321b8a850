#!/usr/bin/env bash
# Builds build/deb/libnginx-mod-http-auth-jwt-rs_<version>_<arch>.deb for the distribution's own
# nginx (Debian 12 bookworm: nginx 1.22.1), laid out like Debian's libnginx-mod-* packages:
#
#   /usr/lib/nginx/modules/ngx_http_auth_jwt_rs_module.so
#   /usr/share/nginx/modules-available/mod-http-auth-jwt-rs.conf   (the load_module line)
#   /etc/nginx/modules-enabled/50-mod-http-auth-jwt-rs.conf        (symlink, maintainer scripts)
#   Depends: <nginx:abi from nginx-dev's libnginx-mod.abisubstvars>, <shlibs of the .so>
#
# Usage: scripts/build-deb.sh            (as root, or with sudo available for apt-get)
#
# How it mirrors Debian's own module builds (dh_nginx + the nginx_mod debhelper build system
# shipped in nginx-dev): the module is compiled against a private, writable copy of
# /usr/share/nginx/src (Debian's patched nginx source) configured with its conf_flags plus the
# dpkg-buildflags and -fPIC, exactly as Debian/Debhelper/Buildsystem/nginx_mod.pm does; the
# maintainer scripts are nginx-dev's debhelper autoscripts (postinst/prerm/postrm-nginx) with the
# module's conf pair filled in, as dh_nginx does; the ABI dependency is read from the
# abisubstvars file, as dh_nginx does.
#
# Packaging tool: plain `dpkg-deb --build` with a generated DEBIAN/ (not cargo-deb). dpkg-deb
# and dpkg-shlibdeps come with dpkg-dev, which nginx-dev already pulls in; cargo-deb would have
# to be compiled from crates.io, cannot read the abisubstvars or reuse Debian's autoscripts, and
# would rebuild the crate with its own settings instead of reusing scripts/build-for-nginx.sh.
#
# The Rust build is cached in target/deb (never touches the vendored build in target/debug) and
# the configured nginx tree in build/deb/nginx-src (re-copied only when nginx-dev changes), so
# a second run only repackages.
#
# Environment: DEB_MAINTAINER (default "auth_jwt_rs packagers <auth-jwt-rs@localhost>"),
#              DEB_REVISION (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

pkg=libnginx-mod-http-auth-jwt-rs
modname=ngx_http_auth_jwt_rs_module
confname=mod-http-auth-jwt-rs.conf
confpair="$confname:50-$confname"
nginx_src=/usr/share/nginx/src
work=$root/build/deb

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi

# --- 1. Build dependencies: nginx-dev (Debian's configured nginx source), dpkg-dev, and nginx
# itself for the final load test. Installing nginx must not start the system service: when no
# /usr/sbin/policy-rc.d exists, a temporary one denies every service action (exit 101).
need=()
for p in nginx-dev nginx dpkg-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  created_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  trap '[ -n "$created_policy" ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO env RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${need[@]}"
  [ -n "$created_policy" ] && $SUDO rm -f /usr/sbin/policy-rc.d
  trap - EXIT
fi
./scripts/install-deps.sh

abisubstvars=$(find "$nginx_src" -name libnginx-mod.abisubstvars -print -quit)
[ -n "$abisubstvars" ] || { echo "build-deb: no libnginx-mod.abisubstvars under $nginx_src" >&2; exit 1; }
abi=$(sed -n 's/^nginx:abi=//p' "$abisubstvars")
[ -n "$abi" ] || { echo "build-deb: no nginx:abi in $abisubstvars" >&2; exit 1; }

# --- 2. Private copy of Debian's nginx tree (configure writes objs/ and a Makefile into it).
devver=$(dpkg-query -W -f='${Version}' nginx-dev)
tree=$work/nginx-src
if [ "$(cat "$tree/.nginx-dev-version" 2>/dev/null)" != "$devver" ]; then
  echo "build-deb: copying $nginx_src (nginx-dev $devver) to $tree"
  rm -rf "$tree"
  mkdir -p "$work"
  cp -a "$nginx_src" "$tree"
  echo "$devver" > "$tree/.nginx-dev-version"
fi
# Debian's configure line for third-party modules (nginx_mod.pm): conf_flags + buildflags + -fPIC.
# dpkg-buildflags runs from the repository root so that its -ffile-prefix-map is stable.
# shellcheck disable=SC1091
. "$tree/conf_flags"
cflags="$(dpkg-buildflags --get CFLAGS) -fPIC $(dpkg-buildflags --get CPPFLAGS)"
ldflags="$(dpkg-buildflags --get LDFLAGS) -fPIC"

# --- 3. The module (release profile: LTO, stripped), cached in target/deb.
CARGO_TARGET_DIR=target/deb OUT_DIR_SO=$work/so SKIP_INSTALL_DEPS=1 \
  ./scripts/build-for-nginx.sh "$tree" --with-cc-opt="$cflags" --with-ld-opt="$ldflags" \
  "${NGX_CONF_FLAGS[@]}"
so=$work/so/$modname.so

# --- 4. Package tree.
nginx_version=$(sed -n 's/^#define NGINX_VERSION  *"\(.*\)"/\1/p' "$tree/src/core/nginx.h")
crate_version=$(cargo pkgid -p ngx_http_auth_jwt_rs | sed 's/.*[#@]//')
version="$crate_version-${DEB_REVISION:-1}+nginx$nginx_version"
arch=$(dpkg --print-architecture)
pkgroot=$work/root
rm -rf "$pkgroot"
install -d -m 755 "$pkgroot/DEBIAN" "$pkgroot/usr/lib/nginx/modules" \
  "$pkgroot/usr/share/nginx/modules-available" "$pkgroot/usr/share/doc/$pkg"
install -m 644 "$so" "$pkgroot/usr/lib/nginx/modules/$modname.so"
echo "load_module modules/$modname.so;" > "$pkgroot/usr/share/nginx/modules-available/$confname"
cat > "$pkgroot/usr/share/doc/$pkg/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: auth_jwt_rs

Files: *
License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 can be found in
 /usr/share/common-licenses/Apache-2.0.
EOF
chmod 644 "$pkgroot/usr/share/nginx/modules-available/$confname" "$pkgroot/usr/share/doc/$pkg/copyright"

# Maintainer scripts: nginx-dev's debhelper autoscripts, #NAMES# filled in (what dh_nginx does).
for s in postinst prerm postrm; do
  tmpl=/usr/share/debhelper/autoscripts/$s-nginx
  [ -f "$tmpl" ] || { echo "build-deb: missing $tmpl (nginx-dev)" >&2; exit 1; }
  {
    printf '#!/bin/sh\nset -e\n# Generated by scripts/build-deb.sh from %s (as dh_nginx does)\n' "$tmpl"
    sed "s|#NAMES#|$confpair |g" "$tmpl"
    printf '# End of generated section\n'
  } > "$pkgroot/DEBIAN/$s"
  chmod 755 "$pkgroot/DEBIAN/$s"
done

# ${shlibs:Depends}: dpkg-shlibdeps wants a debian/control, so run it in a scratch dir.
shl=$work/shlibs
rm -rf "$shl"; mkdir -p "$shl/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" > "$shl/debian/control"
shlibs=$(cd "$shl" && dpkg-shlibdeps -O "$pkgroot/usr/lib/nginx/modules/$modname.so" \
  | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

installed_size=$(du -sk --exclude=DEBIAN "$pkgroot" | cut -f1)
cat > "$pkgroot/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: ${DEB_MAINTAINER:-auth_jwt_rs packagers <auth-jwt-rs@localhost>}
Installed-Size: $installed_size
Depends: $abi, $shlibs
Recommends: nginx
Section: httpd
Priority: optional
Multi-Arch: foreign
Description: JWT authentication module for Nginx (auth_jwt_rs)
 NGINX dynamic module, written in Rust, that gates requests on a JSON Web
 Token (Bearer header, cookie, header, argument or variable): signature, time
 and claim checks, identity variables for proxying and logging, and an
 auth_request-compatible verify endpoint.
 .
 Built against nginx $nginx_version from nginx-dev $devver ($abi).
EOF
(cd "$pkgroot" && find usr -type f -exec md5sum {} +) > "$pkgroot/DEBIAN/md5sums"
chmod 644 "$pkgroot/DEBIAN/control" "$pkgroot/DEBIAN/md5sums"

rm -f "$work/${pkg}_"*.deb
deb=$work/${pkg}_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$pkgroot" "$deb" >/dev/null

# --- 5. Load test with Debian's nginx (as nginx_mod.pm's test step does).
if [ -x /usr/sbin/nginx ]; then
  tconf=$(mktemp)
  printf 'load_module %s;\nevents {}\n' "$so" > "$tconf"
  /usr/sbin/nginx -g 'error_log /dev/null; pid /dev/null;' -t -q -c "$tconf"
  rm -f "$tconf"
fi
echo "build-deb: $deb"
dpkg-deb --field "$deb" Package Version Depends
