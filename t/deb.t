#!/usr/bin/perl
# SPEC §8: the Debian package (scripts/build-deb.sh) installs into Debian's own nginx, loads
# through the shipped modules-enabled link, gates requests, and `dpkg -P` leaves /etc/nginx
# exactly as it was. Also: every nginx-conf/*.conf passes `nginx -t` on Debian's binary with the
# packaged module.
#
# Runs only on Debian 12 (bookworm) as root: it installs and purges a system package (nginx
# itself is installed if missing and stays installed). It never starts, stops or reloads the
# system nginx service: package operations run with RUNLEVEL=1 and a policy-rc.d denying service
# actions (the one already present, or a temporary one removed afterwards), and the test's nginx
# runs from a temp prefix on a free loopback port with its temp paths, pid and logs there.
#
# Environment: AUTH_JWT_DEB=path/to.deb uses that package instead of running scripts/build-deb.sh
# (which otherwise runs every time: incremental, cached in target/deb and build/deb);
# AUTH_JWT_SKIP_DEB=1 skips this test.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use Digest::SHA;
use Fcntl qw(:flock);
use File::Basename qw(basename dirname);
use File::Copy qw(copy);
use File::Find;
use File::Path qw(make_path);

my $ROOT = $AuthJwt::Test::ROOT;
my $PKG = 'libnginx-mod-http-auth-jwt-rs';
my $SO = '/usr/lib/nginx/modules/ngx_http_auth_jwt_rs_module.so';
my $AVAIL = '/usr/share/nginx/modules-available/mod-http-auth-jwt-rs.conf';
my $LINK = '/etc/nginx/modules-enabled/50-mod-http-auth-jwt-rs.conf';
my $NGINX = '/usr/sbin/nginx';

sub os_codename {
    open my $fh, '<', '/etc/os-release' or return '';
    my %kv;
    for (<$fh>) {
        my ($k, $v) = /^(\w+)="?(.*?)"?$/ or next;
        $kv{$k} = $v;
    }
    return ($kv{ID} // '') eq 'debian' ? ($kv{VERSION_CODENAME} // '') : '';
}

plan skip_all => 'AUTH_JWT_SKIP_DEB=1' if $ENV{AUTH_JWT_SKIP_DEB};
plan skip_all => 'Debian package test: needs Debian 12 (bookworm), this is not'
    unless os_codename() eq 'bookworm';
plan skip_all => 'Debian package test: needs root (installs and purges a package)' if $> != 0;
plan skip_all => 'Debian package test: dpkg/apt-get not found'
    unless -x '/usr/bin/dpkg' && -x '/usr/bin/apt-get';

sub cmd { AuthJwt::Test::_cmd_output(@_) }
sub pkg_status {
    my ($p) = @_;
    my ($rc, $out) = cmd('dpkg-query', '-W', '-f=${Status}', $p);
    return $rc == 0 ? $out : '';
}
plan skip_all => "$PKG is already installed here; this test installs and purges it itself "
    . "(run dpkg -P $PKG to enable it)"
    if pkg_status($PKG) =~ /install ok installed/;

# One package test at a time (build/deb and dpkg are shared).
make_path("$ROOT/build/deb");
open my $lock, '>', "$ROOT/build/deb/.test.lock" or die "lock: $!";
flock($lock, LOCK_EX) or die "flock: $!";

###############################################################################################
# Service guard: no service action while packages are installed/removed.

my $own_policy;
sub with_service_guard {
    my ($code) = @_;
    if (!-e '/usr/sbin/policy-rc.d') {
        open my $fh, '>', '/usr/sbin/policy-rc.d' or die "policy-rc.d: $!";
        print $fh "#!/bin/sh\n# temporary, t/deb.t\nexit 101\n";
        close $fh;
        chmod 0755, '/usr/sbin/policy-rc.d';
        $own_policy = 1;
    }
    local $ENV{RUNLEVEL} = 1;
    local $ENV{DEBIAN_FRONTEND} = 'noninteractive';
    my @r = eval { $code->() };
    my $err = $@;
    if ($own_policy) { unlink '/usr/sbin/policy-rc.d'; $own_policy = 0; }
    die $err if $err;
    return wantarray ? @r : $r[0];
}

my $installed_by_us;
END {
    local ($?, $!, $@);
    if ($installed_by_us) {
        diag("cleanup: purging $PKG");
        with_service_guard(sub { cmd('dpkg', '-P', $PKG) });
    }
    unlink '/usr/sbin/policy-rc.d' if $own_policy;
}

# nginx processes running Debian's binary (the system service, if any); must not change.
sub system_nginx_pids {
    opendir(my $dh, '/proc') or return ();
    my @p = grep { /^\d+$/ && (readlink("/proc/$_/exe") // '') eq $NGINX } readdir $dh;
    return join ',', sort { $a <=> $b } @p;
}

###############################################################################################
# 1. nginx present, package built.

if (pkg_status('nginx') !~ /install ok installed/) {
    my ($rc, $out) = with_service_guard(sub {
        cmd('apt-get', 'update', '-qq');
        cmd('apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'nginx');
    });
    is($rc, 0, "apt-get install nginx") or diag($out);
}
# (no BAIL_OUT below: it would abort the other test files of `prove -j2 t/` too)
sub give_up { diag($_[0]); done_testing; exit; }
ok(-x $NGINX, "Debian's nginx is installed ($NGINX)") or give_up("no $NGINX");
my $pids_before = system_nginx_pids();

my $deb = $ENV{AUTH_JWT_DEB};
if (!$deb) {
    my ($rc, $out) = cmd("$ROOT/scripts/build-deb.sh");
    open my $fh, '>', "$ROOT/build/deb/build-deb.log"; print $fh $out; close $fh;
    is($rc, 0, 'scripts/build-deb.sh') or diag(AuthJwt::Test::_tail($out, 40));
    ($deb) = $out =~ /^build-deb: (\S+\.deb)$/m;
}
ok($deb && -f $deb, 'package file: ' . ($deb // 'none')) or give_up('no .deb to test');

my %field;
for my $f (qw(Package Version Architecture Depends)) {
    my ($rc, $v) = cmd('dpkg-deb', '--field', $deb, $f);
    chomp $v;
    $field{$f} = $v;
}
is($field{Package}, $PKG, "Package: $PKG");
my ($abi) = AuthJwt::Test::read_file_bytes('/usr/share/nginx/src/debian/libnginx-mod.abisubstvars')
    =~ /^nginx:abi=(\S+)/m;
ok($abi, "nginx:abi from nginx-dev's abisubstvars: " . ($abi // 'none'));
like($field{Depends}, qr/^\Q$abi\E, .*libc6 \(>= [\d.]+\)/,
    "Depends: the ABI from abisubstvars, then shlibs ($field{Depends})") if $abi;
my ($rc_p, $provides) = cmd('dpkg-query', '-W', '-f=${Provides}', 'nginx');
like($provides, qr/\Q$abi\E/, "installed nginx provides $abi") if $abi;

###############################################################################################
# 2. Install; /etc/nginx snapshot.

sub snapshot {
    my %s;
    for my $top ('/etc/nginx', '/usr/lib/nginx/modules', '/usr/share/nginx/modules-available') {
        next unless -e $top;
        find({ no_chdir => 1, wanted => sub {
            my $p = $File::Find::name;
            my @st = lstat($p) or return;
            my $mode = sprintf('%o:%d:%d', $st[2] & 07777, $st[4], $st[5]);
            if (-l _) { $s{$p} = "link $mode -> " . readlink($p) }
            elsif (-d _) { $s{$p} = "dir $mode" }
            else { $s{$p} = "file $mode " . Digest::SHA->new(256)->addfile($p)->hexdigest }
        } }, $top);
    }
    return \%s;
}
my $before = snapshot();

my ($rc, $out) = with_service_guard(sub { cmd('dpkg', '-i', $deb) });
is($rc, 0, "dpkg -i $field{Package} $field{Version}") or diag($out);
$installed_by_us = 1;
like(pkg_status($PKG), qr/install ok installed/, 'package state: installed');
ok(-f $SO, "module at $SO");
is(AuthJwt::Test::read_file_bytes($AVAIL), "load_module modules/ngx_http_auth_jwt_rs_module.so;\n",
    "$AVAIL: load_module line");
is(readlink($LINK), $AVAIL, "$LINK -> $AVAIL");

###############################################################################################
# 3. Debian's nginx with the shipped link: nginx -t, then 200 / 401.

$ENV{AUTH_JWT_NGINX} = $NGINX;
$ENV{AUTH_JWT_MODULE} = $SO;
my $t = AuthJwt::Test->new;
my $prefix = $t->prefix;
# The link's relative "modules/..." is resolved against the prefix (-p), as Debian's own
# /usr/share/nginx/modules -> /usr/lib/nginx/modules is.
symlink('/usr/lib/nginx/modules', "$prefix/modules") or die "symlink: $!";
make_path("$prefix/tmp");

# Debian's binary has compiled-in absolute paths (/run/nginx.pid, /var/lib/nginx/*,
# /var/log/nginx/access.log): every one of them is moved into the prefix.
my $paths = <<'EOF';
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    access_log logs/access.log;
EOF

$t->write_conf(<<"EOF");
%%NO_WRAP%%
include /etc/nginx/modules-enabled/*.conf;
user root;
daemon on;
pid logs/nginx.pid;
error_log logs/error.log info;
worker_processes 1;
events { worker_connections 64; }

http {
$paths
    %%BACKEND%%

    server {
        listen 127.0.0.1:%%PORT_1%%;
        location / {
            auth_jwt_rs on;
            auth_jwt_rs_realm "deb";
            auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
            auth_jwt_rs_algorithms RS256;
            proxy_set_header X-User \$jwt_claim_sub;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF
($rc, $out) = cmd($NGINX, '-p', "$prefix/", '-e', 'logs/error.log', '-c', 'conf/nginx.conf', '-t');
is($rc, 0, "Debian's nginx -t with $LINK") or diag($out);
like($out, qr/test is successful/, 'nginx -t: test is successful');

my $ok = eval { $t->run; 1 };
ok($ok, "Debian's nginx starts with the packaged module") or diag($@);
if ($ok) {
    my $tok = $t->mint(alg => 'RS256', key => 'rsa.key', claims => { sub => 'alice' }, exp_in => 300);
    my $r = $t->get(1, '/', Authorization => "Bearer $tok");
    expect_ok($r, 'valid RS256 token', qr/user=alice/);
    my $bad = $t->mint(alg => 'RS256', key => 'rsa2.key', claims => { sub => 'mallory' }, exp_in => 300);
    expect_invalid($t->get(1, '/', Authorization => "Bearer $bad"), 'deb', undef,
        'token signed by another key');
    expect_missing($t->get(1, '/'), 'deb', 'no token');
}
$t->finish;    # stops it; no alerts/panics/tokens in error.log

###############################################################################################
# 4. nginx-conf/*.conf on Debian's binary with the packaged module.


my @examples = sort glob("$ROOT/nginx-conf/*.conf");
ok(@examples > 0, 'nginx-conf/ holds example configs');
my $n = 0;
for my $ex (@examples) {
    my $name = basename($ex, '.conf');
    my $p = "$prefix/ex-" . ++$n;
    make_path("$p/conf/jwt", "$p/logs", "$p/tmp");
    my $text = AuthJwt::Test::read_file_bytes($ex);
    my $subst = $text =~ s{^(\s*load_module\s+)modules/ngx_http_auth_jwt_rs_module\.so\s*;}{$1$SO;}m;
    ok($subst, "$name: load_module rewritten to $SO");
    $text =~ s{^(\s*http\s*\{)}{$1\n$paths}m or fail("$name: no http block");
    my %refs = map { $_ => 1 } $text =~ m{(?:^|[\s"'])(?:conf/)?(jwt/[A-Za-z0-9._/-]+)}g;
    for my $ref (sort keys %refs) {
        $ref =~ s/[;"']+$//;
        make_path(dirname("$p/conf/$ref"));
        copy(AuthJwt::Test::example_fixture($ref), "$p/conf/$ref") or die "copy for $ref: $!";
    }
    for my $inc ($text =~ m{^\s*include\s+([^;\s*]+)\s*;}mg) {
        next if $inc =~ m{^/};
        my $src = -f "$ROOT/nginx-conf/$inc" ? "$ROOT/nginx-conf/$inc"
            : -f "/etc/nginx/$inc" ? "/etc/nginx/$inc" : undef;
        if ($src) { make_path(dirname("$p/conf/$inc")); copy($src, "$p/conf/$inc"); }
    }
    open my $fh, '>', "$p/conf/nginx.conf" or die; print $fh $text; close $fh;
    my @g = $text =~ /^\s*pid\s/m ? () : ('-g', 'pid logs/nginx.pid;');
    ($rc, $out) = cmd($NGINX, '-p', "$p/", '-e', 'logs/error.log', '-c', 'conf/nginx.conf', @g, '-t');
    is($rc, 0, "$name: Debian's nginx -t passes") or diag($out);
    unlike($out, qr/\[(?:warn|alert|crit|emerg)\]/, "$name: no warnings") or diag($out);
}

###############################################################################################
# 5. Remove, purge; /etc/nginx as before; the system service untouched.

($rc, $out) = with_service_guard(sub { cmd('dpkg', '-r', $PKG) });
is($rc, 0, "dpkg -r $PKG") or diag($out);
ok(!-e $SO, 'dpkg -r: module removed');
ok(!-e $LINK && -l "$LINK.removed", 'dpkg -r: link parked as .removed (as Debian modules do)');
($rc, $out) = with_service_guard(sub { cmd('dpkg', '-P', $PKG) });
is($rc, 0, "dpkg -P $PKG") or diag($out);
$installed_by_us = 0 if $rc == 0;
is(pkg_status($PKG), '', 'package state: purged');
ok(!-e "$LINK.removed" && !-l "$LINK.removed", 'dpkg -P: no link left');

my $after = snapshot();
my @diff = grep { ($before->{$_} // '') ne ($after->{$_} // '') } sort keys %{ { %$before, %$after } };
ok(!@diff, '/etc/nginx (and module dirs) exactly as before install')
    or diag(join "\n", map { "$_: " . ($before->{$_} // 'absent') . ' => ' . ($after->{$_} // 'absent') } @diff);
like(pkg_status('nginx'), qr/install ok installed/, "Debian's nginx is still installed");
is(system_nginx_pids(), $pids_before, "system nginx processes unchanged ($NGINX)");

done_testing;
