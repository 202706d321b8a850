#!/usr/bin/env bash
# Builds target/debian/libnginx-mod-http-auth-jwt-rs_<version>_<arch>.deb for the nginx package of
# one Debian (or Debian-based) release, laid out like Debian's own libnginx-mod-* packages:
#
#   /usr/lib/nginx/modules/ngx_http_auth_jwt_rs_module.so
#   /usr/share/nginx/modules-available/mod-http-auth-jwt-rs.conf   (the load_module line)
#   /etc/nginx/modules-enabled/50-mod-http-auth-jwt-rs.conf        (symlink, maintainer scripts)
#   Depends: <nginx:abi from that release's libnginx-mod.abisubstvars>, <shlibs of the .so>
#   Version: <crate version>-<DEB_REVISION>~deb<N> (Debian N), ~ubuntu<YY.MM>, ~<id><version>
#
# Usage: scripts/build-deb.sh [CODENAME]       (as root, or with sudo available)
#
#   CODENAME   the release to build for (bookworm, trixie, ...). Default: the running one.
#              The running release builds against the host's nginx-dev (installed if missing).
#              Another release builds against the nginx-dev of a minimal chroot of that release
#              (mmdebstrap --variant=minbase --include=nginx-dev, from the release's package
#              archive), cached in target/debian/CODENAME/chroot and re-created when it is older
#              than DEB_CHROOT_MAX_AGE_DAYS. nginx's configure, dpkg-buildflags, dpkg-shlibdeps
#              and the final load test run inside that chroot (its compiler, libraries, symbols
#              files and nginx binary); the Rust build runs on the host with the host's
#              toolchain, bindgen reading the chroot's headers (--sysroot). A module built on an
#              older glibc loads on a newer one; build on a host no newer than the target.
#
# How it mirrors Debian's own module builds (dh_nginx + the nginx_mod debhelper build system
# shipped in nginx-dev): the module is compiled against a private, writable copy of
# /usr/share/nginx/src (Debian's patched nginx source) configured with its conf_flags plus the
# dpkg-buildflags and -fPIC, exactly as Debian/Debhelper/Buildsystem/nginx_mod.pm does; the
# maintainer scripts are that release's nginx-dev debhelper autoscripts
# (postinst/prerm/postrm-nginx) with the module's conf pair filled in, as dh_nginx does; the ABI
# dependency is read from the abisubstvars file, as dh_nginx does.
#
# Packaging tool: plain `dpkg-deb --build` with a generated DEBIAN/ (not cargo-deb). dpkg-deb
# and dpkg-shlibdeps come with dpkg-dev, which nginx-dev already pulls in; cargo-deb would have
# to be compiled from crates.io, cannot read the abisubstvars or reuse Debian's autoscripts, and
# would rebuild the crate with its own settings instead of reusing scripts/build-for-nginx.sh.
#
# Everything lives in target/debian/CODENAME/ (cargo target dir cargo/, configured nginx tree,
# chroot), so a second run only repackages (a few seconds).
#
# Environment:
#   DEB_REVISION      Debian revision (default 1)
#   DEB_VERSION       the whole package version, overriding <crate>-<revision>~<release>
#   DEB_OUT_DIR       where the .deb is written (default target/debian)
#   DEB_MAINTAINER    default "auth_jwt_rs packagers <auth-jwt-rs@example.org>": set your own
#                     address for packages you publish
#   DEB_MIRROR        archive URL for the chroot (default: mmdebstrap's default for the suite)
#   DEB_COMPONENTS    archive components for the chroot (default main; e.g. main,universe)
#   DEB_KEYRING       keyring file for the chroot's archive (default: the host's apt keyrings)
#   DEB_CHROOT_MAX_AGE_DAYS   default 7: an older cached chroot is re-created (security updates)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

pkg=libnginx-mod-http-auth-jwt-rs
modname=ngx_http_auth_jwt_rs_module
confname=mod-http-auth-jwt-rs.conf
confpair="$confname:50-$confname"

die() { echo "build-deb: $*" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
os_field() { sed -n "s/^$1=\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" "$2" | head -1; }

host_codename=$(os_field VERSION_CODENAME /etc/os-release)
codename=${1:-$host_codename}
[ -n "$codename" ] || die "cannot tell the running release (no VERSION_CODENAME in /etc/os-release): name one"
case "$codename" in *[!a-z0-9]*) die "bad release name '$codename'" ;; esac
[ $# -le 1 ] || die "usage: $0 [CODENAME]"

work=$root/target/debian/$codename
out_dir=${DEB_OUT_DIR:-$root/target/debian}
mkdir -p "$work" "$out_dir"

# Install host packages that are missing. Installing nginx must not start the system service:
# when no /usr/sbin/policy-rc.d exists, a temporary one denies every service action (exit 101).
apt_install() {
  local need=() p created_policy=
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  [ ${#need[@]} -gt 0 ] || return 0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local rc=0
  { $SUDO apt-get update -qq && $SUDO env RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${need[@]}"; } || rc=$?
  [ -z "$created_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
  return $rc
}

# --- 1. The release's nginx-dev: on the host, or in a cached chroot of that release.
if [ "$codename" = "$host_codename" ]; then
  sysroot=
  apt_install nginx-dev nginx dpkg-dev
  in_release() { "$@"; }
else
  # The chroot holds nginx-dev (and, through it, nginx, dpkg-dev, gcc and the -dev libraries
  # nginx's configure looks for). Re-created when older than DEB_CHROOT_MAX_AGE_DAYS so that
  # the package follows the release's nginx updates (a new nginx-abi-* needs a rebuild).
  apt_install mmdebstrap dpkg-dev
  sysroot=$work/chroot
  stamp=$work/chroot.stamp
  max_age=${DEB_CHROOT_MAX_AGE_DAYS:-7}
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mtime +"$max_age")" ]; then
    echo "build-deb: creating the $codename chroot (minbase + nginx-dev) in $sysroot"
    [ ! -e "$sysroot" ] || rm -rf --one-file-system "$sysroot"
    rm -f "$stamp"
    mm=(--mode=root --variant=minbase --include=nginx-dev --components="${DEB_COMPONENTS:-main}")
    [ -z "${DEB_KEYRING:-}" ] || mm+=(--keyring="$DEB_KEYRING")
    t0=$(date +%s)
    $SUDO mmdebstrap "${mm[@]}" "$codename" "$sysroot" ${DEB_MIRROR:+"$DEB_MIRROR"} \
      > "$work/mmdebstrap.log" 2>&1 \
      || { tail -20 "$work/mmdebstrap.log" >&2; die "mmdebstrap $codename failed (log: $work/mmdebstrap.log)"; }
    # nothing in it may start a service (nginx-dev pulls in nginx)
    printf '#!/bin/sh\nexit 101\n' > "$sysroot/usr/sbin/policy-rc.d"
    chmod 755 "$sysroot/usr/sbin/policy-rc.d"
    echo "build-deb: $codename chroot ready in $(( $(date +%s) - t0 )) s"
    date -u +%FT%TZ > "$stamp"
  fi
  # Commands of the release (its dpkg-query, dpkg-buildflags, dpkg-shlibdeps, nginx) run in the
  # chroot, in the working directory when that is inside the chroot (else in /). None of them
  # needs /proc or /dev beyond the device nodes mmdebstrap creates.
  in_release() {
    local dir=/
    case "$PWD" in "$sysroot"/*) dir=${PWD#"$sysroot"} ;; esac
    $SUDO chroot "$sysroot" /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$dir" "$@"
  }
fi
./scripts/install-deps.sh

nginx_src=$sysroot/usr/share/nginx/src
[ -f "$nginx_src/conf_flags" ] || die "no $nginx_src/conf_flags (is nginx-dev installed?)"
abisubstvars=$(find "$nginx_src" -name libnginx-mod.abisubstvars -print -quit)
[ -n "$abisubstvars" ] || die "no libnginx-mod.abisubstvars under $nginx_src"
abi=$(sed -n 's/^nginx:abi=//p' "$abisubstvars")
[ -n "$abi" ] || die "no nginx:abi in $abisubstvars"
devver=$(in_release dpkg-query -W -f='${Version}' nginx-dev)

# Version suffix from the release's os-release: ~deb12, ~deb13, ~ubuntu24.04, ...
os_release=$sysroot/etc/os-release
[ -f "$os_release" ] || os_release=$sysroot/usr/lib/os-release
os_id=$(os_field ID "$os_release")
os_ver=$(os_field VERSION_ID "$os_release")
case "$os_id" in
  debian) suffix=deb${os_ver:-$codename} ;;
  "") die "no ID in $os_release" ;;
  *) suffix=$os_id${os_ver:-$codename} ;;
esac

# --- 2. Private copy of the release's nginx tree (configure writes objs/ and a Makefile into
# it); inside the chroot for another release, so that configure can run there.
if [ -n "$sysroot" ]; then tree=$sysroot/build/nginx-src; else tree=$work/nginx-src; fi
if [ "$(cat "$tree/.nginx-dev-version" 2>/dev/null)" != "$devver" ]; then
  echo "build-deb: copying $nginx_src (nginx-dev $devver) to $tree"
  rm -rf "$tree"
  mkdir -p "$(dirname "$tree")"
  cp -a "$nginx_src" "$tree"
  echo "$devver" > "$tree/.nginx-dev-version"
fi
# Debian's configure line for third-party modules (nginx_mod.pm): conf_flags + buildflags + -fPIC.
# dpkg-buildflags runs in the tree so that its -ffile-prefix-map is stable.
# shellcheck disable=SC1091
. "$tree/conf_flags"
cflags="$(cd "$tree" && in_release dpkg-buildflags --get CFLAGS) -fPIC $(cd "$tree" && in_release dpkg-buildflags --get CPPFLAGS)"
ldflags="$(cd "$tree" && in_release dpkg-buildflags --get LDFLAGS) -fPIC"

# --- 3. The module (release profile: LTO, stripped), cached in target/debian/CODENAME/cargo.
CARGO_TARGET_DIR=$work/cargo OUT_DIR_SO=$work/so SKIP_INSTALL_DEPS=1 NGINX_CHROOT=$sysroot \
  ./scripts/build-for-nginx.sh "$tree" --with-cc-opt="$cflags" --with-ld-opt="$ldflags" \
  "${NGX_CONF_FLAGS[@]}"
so=$work/so/$modname.so

# --- 4. Package tree (a fresh one per run, in the work dir: inside the chroot when there is one,
# for dpkg-shlibdeps).
nginx_version=$(sed -n 's/^#define NGINX_VERSION  *"\(.*\)"/\1/p' "$tree/src/core/nginx.h")
crate_version=$(cargo pkgid -p ngx_http_auth_jwt_rs | sed 's/.*[#@]//')
version=${DEB_VERSION:-$crate_version-${DEB_REVISION:-1}~$suffix}
arch=$(in_release dpkg --print-architecture)
stage=${sysroot:-$work}/build/pkg
rm -rf "$stage"
pkgroot=$stage/root
install -d -m 755 "$pkgroot/DEBIAN" "$pkgroot/usr/lib/nginx/modules" \
  "$pkgroot/usr/share/nginx/modules-available" "$pkgroot/usr/share/doc/$pkg"
install -m 644 "$so" "$pkgroot/usr/lib/nginx/modules/$modname.so"
echo "load_module modules/$modname.so;" > "$pkgroot/usr/share/nginx/modules-available/$confname"
maintainer=${DEB_MAINTAINER:-auth_jwt_rs packagers <auth-jwt-rs@example.org>}
# copyright: the module's own license, then the Rust crates compiled into the .so (normal
# dependencies; proc-macros and build tools are not part of it) with their license expressions.
crates=$(cargo tree -p ngx_http_auth_jwt_rs -e normal --no-default-features --features export-modules \
  --prefix none -f '{p}: {l}' | grep -v -e '(proc-macro)' -e '(/' | sed 's/ (\*)$//' | sort -u \
  | sed 's/^/  /') || die "cargo tree failed"
years=$(git log --format=%cd --date=format:%Y 2>/dev/null | sort -u | sed -n '1p;$p' | paste -sd- -)
{
  cat <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: auth_jwt_rs
Comment: The module is statically linked with these Rust crates (name, version:
 license expression; the texts are in each crate's sources):
EOF
  printf '%s\n' "$crates"
  cat <<EOF

Files: *
Copyright: ${years:-$(date +%Y)} auth_jwt_rs contributors
License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 can be found in
 /usr/share/common-licenses/Apache-2.0.
EOF
} > "$pkgroot/usr/share/doc/$pkg/copyright"
# changelog.Debian.gz (a non-native package needs one): one entry for this build, dated by the
# last commit so that rebuilding the same tree gives the same file.
date_r=$(git log -1 --format=%cD 2>/dev/null || date -R)
cat > "$stage/changelog" <<EOF
$pkg ($version) $codename; urgency=medium

  * auth_jwt_rs $crate_version built for nginx $nginx_version of $codename
    (nginx-dev $devver, $abi).

 -- $maintainer  $date_r
EOF
gzip -9n < "$stage/changelog" > "$pkgroot/usr/share/doc/$pkg/changelog.Debian.gz"
chmod 644 "$pkgroot/usr/share/nginx/modules-available/$confname" \
  "$pkgroot/usr/share/doc/$pkg/copyright" "$pkgroot/usr/share/doc/$pkg/changelog.Debian.gz"

# Maintainer scripts: the release's nginx-dev debhelper autoscripts, #NAMES# filled in (what
# dh_nginx does).
for s in postinst prerm postrm; do
  tmpl=$sysroot/usr/share/debhelper/autoscripts/$s-nginx
  [ -f "$tmpl" ] || die "missing $tmpl (nginx-dev)"
  {
    printf '#!/bin/sh\nset -e\n# Generated by scripts/build-deb.sh from %s (as dh_nginx does)\n' "${tmpl#"$sysroot"}"
    sed "s|#NAMES#|$confpair |g" "$tmpl"
    printf '# End of generated section\n'
  } > "$pkgroot/DEBIAN/$s"
  chmod 755 "$pkgroot/DEBIAN/$s"
done

# ${shlibs:Depends} from the release's own symbols files: dpkg-shlibdeps wants a debian/control,
# so it runs in a scratch dir.
mkdir -p "$stage/shlibs/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" > "$stage/shlibs/debian/control"
shlibs=$(cd "$stage/shlibs" && in_release dpkg-shlibdeps -O "../root/usr/lib/nginx/modules/$modname.so" \
  | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no dependencies"

installed_size=$(du -sk --exclude=DEBIAN "$pkgroot" | cut -f1)
cat > "$pkgroot/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: $maintainer
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
 Built for nginx $nginx_version of $codename (nginx-dev $devver,
 $abi).
EOF
(cd "$pkgroot" && find usr -type f -exec md5sum {} +) > "$pkgroot/DEBIAN/md5sums"
chmod 644 "$pkgroot/DEBIAN/control" "$pkgroot/DEBIAN/md5sums"

deb=$out_dir/${pkg}_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$pkgroot" "$deb" >/dev/null

# --- 5. Load test with the release's nginx (as nginx_mod.pm's test step does).
if [ -x "$sysroot/usr/sbin/nginx" ]; then
  printf 'load_module %s;\nevents {}\n' "${pkgroot#"$sysroot"}/usr/lib/nginx/modules/$modname.so" \
    > "$stage/load-test.conf"
  (cd "$stage" && in_release /usr/sbin/nginx -g 'error_log /dev/null; pid /dev/null;' -t -q -c "${stage#"$sysroot"}/load-test.conf") \
    || die "the $codename nginx refuses the module"
fi
rm -rf "$stage"
echo "build-deb: $deb"
dpkg-deb --field "$deb" Package Version Depends
