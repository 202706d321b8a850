#!/usr/bin/perl
# The Debian 13 (trixie) package on trixie's own nginx, in a minimal trixie chroot that this test
# creates with mmdebstrap from Debian's package archive and removes afterwards (docs/packaging.md,
# "How the packages are tested"): the same checks as t/deb.t for Debian 12. The package itself
# is built by `scripts/build-deb.sh trixie` (its own cached build chroot).
#
# Runs as root on Debian (any release that has mmdebstrap; CI: Debian 12), needs Debian's package
# archive (DEB_MIRROR overrides the default). The chroot shares this machine's network: its nginx
# listens on 127.0.0.1 only (checked). Processes in the chroot are killed and its mounts (proc,
# the share directory) unmounted at the end, also when a test fails or the test is interrupted.
# AUTH_JWT_SKIP_DEB=1 skips it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Deb qw(os_codename skip_unless_debian_root chroot_system package_test);

skip_unless_debian_root();
plan skip_all => 'Debian 13 package test: needs a Debian host (mmdebstrap, dpkg-dev)'
    unless os_codename() ne '';

# scripts/build-deb.sh (run first by package_test) installs mmdebstrap when it is missing
system("$AuthJwt::Deb::ROOT/scripts/install-deps.sh") == 0 or BAIL_OUT('install-deps.sh failed');
my $sys = chroot_system('trixie') or do { done_testing; exit };
package_test($sys, previous => '0.1.0-1~deb13', suffix => '~deb13');
done_testing;
