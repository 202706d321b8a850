#!/usr/bin/perl
# The Debian 12 (bookworm) package on this machine's own nginx (docs/packaging.md, "How the
# packages are tested"): build, lintian, install of the previous version, the admin's edits,
# upgrade, nginx -t, valid token 200 / no token 401, nginx-conf/*.conf pass nginx -t, remove,
# purge, /etc/nginx as before. t/deb_trixie.t does the same for Debian 13 in a chroot.
#
# Runs only on Debian 12 as root: it installs and purges a system package (nginx itself is
# installed if missing and stays installed). It never starts, stops or reloads the system nginx
# service, and it refuses to run if the package is already installed. AUTH_JWT_SKIP_DEB=1 skips it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Deb qw(os_codename skip_unless_debian_root host_system package_test);

skip_unless_debian_root();
plan skip_all => 'Debian 12 package test: needs Debian 12 (bookworm), this is not'
    unless os_codename() eq 'bookworm';

# previous: the version (and version scheme) of the first bookworm package, 0.1.0
package_test(host_system('bookworm'), previous => '0.1.0-1+nginx1.22.1', suffix => '~deb12');
done_testing;
