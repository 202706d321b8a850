package AuthJwt::Deb;

# The Debian package test, shared by t/deb.t (Debian 12 "bookworm", on this machine) and
# t/deb_trixie.t (Debian 13 "trixie", in a chroot created from Debian's package archive and
# removed afterwards). See docs/packaging.md, "How the packages are tested".
#
# For one release it builds the package with scripts/build-deb.sh CODENAME and the previous
# version (the same build, packaged as PREVIOUS), runs lintian, then on that release's own nginx:
# install of the previous version, the admin's edits of /etc/nginx (a line in nginx.conf, a
# file in conf.d, the module disabled), upgrade to the current version (edits kept, module
# still disabled), re-enable, Debian's nginx -t, a loopback server (valid token 200, other key
# 401, no token 401, listening on 127.0.0.1 only), every nginx-conf/*.conf with nginx -t,
# remove, purge, and /etc/nginx compared with its state before the installation.
#
# A "system" is where the package is installed: this machine (root '') or a chroot (root DIR;
# its commands run through chroot(8), its files are DIR/path here). Package operations never
# start, stop or reload a service: RUNLEVEL=1 and a policy-rc.d denying every action. The test's
# nginx runs from a temp prefix on free loopback ports. A chroot gets /proc mounted and a
# "share" directory bind-mounted at the same path inside, which holds the test prefix (so the
# harness and the chroot's nginx see the same paths); at the end, even when a test fails or is
# interrupted, every process running in the chroot is killed, its mounts are unmounted and it
# is removed.

use strict;
use warnings;

use Cwd qw(realpath);
use Digest::SHA;
use Fcntl qw(:flock);
use File::Basename qw(basename dirname);
use File::Copy qw(copy);
use File::Find;
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(sleep time);
use AuthJwt::Test;

use Exporter qw(import);
our @EXPORT_OK = qw(os_codename skip_unless_debian_root host_system chroot_system package_test);

our $ROOT = $AuthJwt::Test::ROOT;
my $PKG = 'libnginx-mod-http-auth-jwt-rs';
my $SO = '/usr/lib/nginx/modules/ngx_http_auth_jwt_rs_module.so';
my $AVAIL = '/usr/share/nginx/modules-available/mod-http-auth-jwt-rs.conf';
my $LINK = '/etc/nginx/modules-enabled/50-mod-http-auth-jwt-rs.conf';
my $NGINX = '/usr/sbin/nginx';
my $ADMIN_CONF = '/etc/nginx/conf.d/auth-jwt-rs-admin.conf';
my $ADMIN_LINE = "# admin's edit (auth_jwt_rs package test)\n";

sub cmd { AuthJwt::Test::_cmd_output(@_) }

sub os_codename {
    my ($file) = @_;
    open my $fh, '<', $file // '/etc/os-release' or return '';
    my %kv;
    for (<$fh>) {
        my ($k, $v) = /^(\w+)="?(.*?)"?$/ or next;
        $kv{$k} = $v;
    }
    return ($kv{ID} // '') eq 'debian' ? ($kv{VERSION_CODENAME} // '') : '';
}

sub skip_unless_debian_root {
    plan skip_all => 'AUTH_JWT_SKIP_DEB=1' if $ENV{AUTH_JWT_SKIP_DEB};
    plan skip_all => 'Debian package test: needs root (installs and purges a package)' if $> != 0;
    plan skip_all => 'Debian package test: dpkg/apt-get not found'
        unless -x '/usr/bin/dpkg' && -x '/usr/bin/apt-get';
}

###############################################################################################
# Systems

# run($sys, CMD...): ($exit_code, $output) of CMD on the system.
sub run {
    my ($sys, @c) = @_;
    return $sys->{root} eq '' ? cmd(@c) : cmd('chroot', $sys->{root}, @c);
}

sub path { "$_[0]{root}$_[1]" }    # host path of a file of the system

sub pkg_status {
    my ($sys, $p) = @_;
    my ($rc, $out) = run($sys, 'dpkg-query', '-W', '-f=${Status} ${Version}', $p);
    return $rc == 0 ? $out : '';
}

# with_service_guard($sys, CODE): no service action while packages are installed/removed.
sub with_service_guard {
    my ($sys, $code) = @_;
    my $policy = path($sys, '/usr/sbin/policy-rc.d');
    my $own;
    if (!-e $policy) {
        open my $fh, '>', $policy or die "$policy: $!";
        print $fh "#!/bin/sh\n# temporary, auth_jwt_rs package test\nexit 101\n";
        close $fh;
        chmod 0755, $policy;
        $own = $sys->{own_policy} = $policy;
    }
    local $ENV{RUNLEVEL} = 1;
    local $ENV{DEBIAN_FRONTEND} = 'noninteractive';
    my @r = eval { $code->() };
    my $err = $@;
    if ($own) { unlink $own; delete $sys->{own_policy}; }
    die $err if $err;
    return wantarray ? @r : $r[0];
}

my @SYSTEMS;    # cleaned up at END, last first

# This machine. Its nginx is installed if missing (and stays installed).
sub host_system {
    my ($codename) = @_;
    my $sys = { codename => $codename, root => '', share => undef, desc => "Debian's nginx" };
    push @SYSTEMS, $sys;
    if (pkg_status($sys, 'nginx') !~ /^install ok installed/) {
        my ($rc, $out) = with_service_guard($sys, sub {
            cmd('apt-get', 'update', '-qq');
            cmd('apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'nginx');
        });
        is($rc, 0, 'apt-get install nginx') or diag($out);
    }
    return $sys;
}

# A minimal chroot of CODENAME with its nginx package, created with mmdebstrap from Debian's
# package archive (DEB_MIRROR as for scripts/build-deb.sh) under target/debian/.
sub chroot_system {
    my ($codename) = @_;
    make_path("$ROOT/target/debian");
    my $base = realpath(tempdir("test-$codename-XXXXXX", DIR => "$ROOT/target/debian"));
    my $sys = {
        codename => $codename, base => $base, root => "$base/root", share => "$base/share",
        desc => "${codename}'s nginx (chroot)",
    };
    push @SYSTEMS, $sys;
    make_path($sys->{share});
    my $t0 = time;
    my @mm = ('mmdebstrap', '--mode=root', '--variant=minbase', '--include=nginx',
        "--components=" . ($ENV{DEB_COMPONENTS} || 'main'));
    push @mm, "--keyring=$ENV{DEB_KEYRING}" if $ENV{DEB_KEYRING};
    my ($rc, $out) = cmd(@mm, $codename, $sys->{root}, $ENV{DEB_MIRROR} ? $ENV{DEB_MIRROR} : ());
    if (!is($rc, 0, "mmdebstrap: minimal $codename chroot with nginx")) {
        diag(AuthJwt::Test::_tail($out, 30));
        return undef;
    }
    diag(sprintf 'chroot %s created in %.0f s', $sys->{root}, time - $t0);
    # nothing in it may start a service
    open my $fh, '>', path($sys, '/usr/sbin/policy-rc.d') or die "policy-rc.d: $!";
    print $fh "#!/bin/sh\nexit 101\n";
    close $fh;
    chmod 0755, path($sys, '/usr/sbin/policy-rc.d');
    # /proc for the maintainer scripts, the share directory at the same path inside
    ($rc, $out) = cmd('mount', '-t', 'proc', 'proc', path($sys, '/proc'));
    is($rc, 0, 'mount /proc in the chroot') or return undef;
    make_path(path($sys, $sys->{share}));
    ($rc, $out) = cmd('mount', '--bind', $sys->{share}, path($sys, $sys->{share}));
    is($rc, 0, 'bind-mount the share directory into the chroot') or return undef;
    # the harness runs the chroot's nginx through this wrapper
    $sys->{nginx} = "$sys->{share}/nginx";
    open $fh, '>', $sys->{nginx} or die "$sys->{nginx}: $!";
    print $fh "#!/bin/sh\nexec chroot '$sys->{root}' $NGINX \"\$@\"\n";
    close $fh;
    chmod 0755, $sys->{nginx};
    return $sys;
}

sub chroot_pids {
    my ($root) = @_;
    opendir(my $dh, '/proc') or return ();
    my @p = grep { /^\d+$/ && $_ != $$ && (readlink("/proc/$_/root") // '') eq $root } readdir $dh;
    closedir $dh;
    return @p;
}

sub chroot_mounts {
    my ($root) = @_;
    open my $fh, '<', '/proc/self/mountinfo' or return ();
    my @m;
    while (<$fh>) {
        my $mp = (split / /)[4] // next;
        $mp =~ s/\\([0-7]{3})/chr oct $1/ge;
        push @m, $mp if $mp eq $root || index($mp, "$root/") == 0;
    }
    return sort { length $b <=> length $a } @m;
}

# Stops every process running in the chroot, unmounts everything under it, removes it.
sub teardown_chroot {
    my ($sys) = @_;
    my $root = $sys->{root};
    for my $sig ('TERM', 'KILL') {
        my @p = chroot_pids($root) or last;
        diag("cleanup: SIG$sig to processes in the chroot: @p");
        kill $sig, @p;
        my $deadline = time + 5;
        sleep 0.1 while chroot_pids($root) && time < $deadline;
    }
    for my $mp (chroot_mounts($root)) {
        system('umount', $mp) == 0 or system('umount', '-l', $mp);
    }
    if (my @left = chroot_mounts($root)) {
        diag("cleanup: still mounted, $sys->{base} kept: @left");
        return;
    }
    # --one-file-system: never into anything that would still be mounted
    system('rm', '-rf', '--one-file-system', $sys->{base});
}

sub cleanup_all {
    for my $sys (reverse @SYSTEMS) {
        if ($sys->{installed}) {
            diag("cleanup: purging $PKG");
            with_service_guard($sys, sub { run($sys, 'dpkg', '-P', $PKG) });
            $sys->{installed} = 0;
        }
        restore_admin_edits($sys) if $sys->{admin};
        unlink $sys->{own_policy} if $sys->{own_policy};
        teardown_chroot($sys) if $sys->{base};
    }
    @SYSTEMS = ();
}

END {
    local ($?, $!, $@);
    cleanup_all();
}
# interrupted (prove's timeout, ^C): clean up too
$SIG{$_} = sub { diag("interrupted: cleaning up"); exit 1 } for qw(INT TERM HUP);

###############################################################################################
# Helpers

sub snapshot {
    my ($sys) = @_;
    my %s;
    for my $top ('/etc/nginx', '/usr/lib/nginx/modules', '/usr/share/nginx/modules-available') {
        my $htop = path($sys, $top);
        next unless -e $htop;
        find({ no_chdir => 1, wanted => sub {
            my $p = $File::Find::name;
            my @st = lstat($p) or return;
            my $key = substr($p, length $sys->{root});
            my $mode = sprintf('%o:%d:%d', $st[2] & 07777, $st[4], $st[5]);
            if (-l _) { $s{$key} = "link $mode -> " . readlink($p) }
            elsif (-d _) { $s{$key} = "dir $mode" }
            else { $s{$key} = "file $mode " . Digest::SHA->new(256)->addfile($p)->hexdigest }
        } }, $htop);
    }
    return \%s;
}

# same_tree($a, $b, $name[, $prefix]): the snapshots agree (on paths under $prefix).
sub same_tree {
    my ($x, $y, $name, $prefix) = @_;
    my @keys = grep { !defined $prefix || index($_, $prefix) == 0 } keys %{ { %$x, %$y } };
    my @diff = grep { ($x->{$_} // '') ne ($y->{$_} // '') } sort @keys;
    ok(!@diff, $name) or diag(join "\n",
        map { "$_: " . ($x->{$_} // 'absent') . ' => ' . ($y->{$_} // 'absent') } @diff);
}

sub field {
    my ($deb, $f) = @_;
    my ($rc, $v) = cmd('dpkg-deb', '--field', $deb, $f);
    chomp $v;
    return $v;
}

sub build_deb {
    my ($codename, %env) = @_;
    local @ENV{ keys %env } = values %env;
    my ($rc, $out) = cmd("$ROOT/scripts/build-deb.sh", $codename);
    my $log = "$ROOT/target/debian/build-deb-$codename" . ($env{DEB_VERSION} ? '-previous' : '') . '.log';
    if (open my $fh, '>', $log) { print $fh $out; close $fh }
    my $what = $env{DEB_VERSION} ? "previous version $env{DEB_VERSION}" : 'current version';
    is($rc, 0, "scripts/build-deb.sh $codename ($what)") or diag(AuthJwt::Test::_tail($out, 40));
    my ($deb) = $out =~ /^build-deb: (\S+\.deb)$/m;
    return $deb;
}

sub dpkg {
    my ($sys, @args) = @_;
    return with_service_guard($sys, sub { run($sys, 'dpkg', @args) });
}

sub write_file {
    my ($path, $content) = @_;
    open my $fh, '>', $path or die "write $path: $!";
    print $fh $content;
    close $fh or die "write $path: $!";
}

sub admin_edits {
    my ($sys) = @_;
    my $conf = path($sys, '/etc/nginx/nginx.conf');
    my @st = stat($conf) or die "no $conf";
    $sys->{admin} = { conf => AuthJwt::Test::read_file_bytes($conf), mode => $st[2] & 07777 };
    open my $fh, '>>', $conf or die "$conf: $!";
    print $fh $ADMIN_LINE;
    close $fh;
    write_file(path($sys, $ADMIN_CONF), "# the admin's own file: packages must keep it\n");
    # disable the module as docs/packaging.md says (removing the link)
    unlink(path($sys, $LINK)) or die "unlink $LINK: $!";
}

sub restore_admin_edits {
    my ($sys) = @_;
    my $a = delete $sys->{admin} or return;
    my $conf = path($sys, '/etc/nginx/nginx.conf');
    write_file($conf, $a->{conf});
    chmod $a->{mode}, $conf;
    unlink path($sys, $ADMIN_CONF);
}

# Local addresses of the TCP sockets the processes listen on.
sub listen_addrs {
    my (@pids) = @_;
    my %inode;
    for my $p (@pids) {
        opendir(my $dh, "/proc/$p/fd") or next;
        for (readdir $dh) {
            my $l = readlink("/proc/$p/fd/$_") // next;
            $inode{$1} = 1 if $l =~ /^socket:\[(\d+)\]$/;
        }
    }
    my @addrs;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $f or next;
        <$fh>;
        while (<$fh>) {
            my @c = split;
            next unless $c[3] eq '0A' && $inode{ $c[9] };
            my ($hex, $port) = split /:/, $c[1];
            my $addr = length $hex == 8
                ? join('.', reverse map { hex } unpack('(A2)4', $hex))
                : "[$hex]";
            push @addrs, "$addr:" . hex $port;
        }
    }
    return sort @addrs;
}

###############################################################################################
# The test

# (no BAIL_OUT: it would stop the other files of `prove -j2 t/` too)
sub give_up { diag($_[0]); done_testing; exit; }

# package_test($sys, previous => VERSION, suffix => '~debN')
sub package_test {
    my ($sys, %opt) = @_;
    my $codename = $sys->{codename};
    my $host = $sys->{root} eq '';

    # One package test per release at a time (target/debian/CODENAME and dpkg are shared).
    make_path("$ROOT/target/debian/$codename");
    open my $lock, '>', "$ROOT/target/debian/$codename/.test.lock" or die "lock: $!";
    flock($lock, LOCK_EX) or die "flock: $!";

    ok(-x path($sys, $NGINX), "$sys->{desc} is installed ($NGINX)") or give_up("no $NGINX");
    if (pkg_status($sys, $PKG) =~ /^install ok installed/) {
        give_up("$PKG is already installed; this test installs and purges it itself "
            . "(dpkg -P $PKG to run it)") if $host;
    }
    my @system_nginx = $host ? system_nginx_pids() : ();

    # --- 1. Packages: current and previous version, lintian.
    my $deb = build_deb($codename);
    ok($deb && -f $deb, "package file: " . ($deb // 'none')) or give_up('no .deb to test');
    my $tmp = tempdir("deb-$codename-XXXXXX", TMPDIR => 1, CLEANUP => 1);
    my $prev = build_deb($codename, DEB_VERSION => $opt{previous}, DEB_OUT_DIR => $tmp);
    ok($prev && -f $prev, "previous package file: " . ($prev // 'none')) or give_up('no previous .deb');

    my %f = map { $_ => field($deb, $_) } qw(Package Version Depends);
    my ($crate) = AuthJwt::Test::read_file_bytes("$ROOT/Cargo.toml") =~ /^version = "([^"]+)"/m;
    is($f{Package}, $PKG, "Package: $PKG");
    is($f{Version}, "$crate-1$opt{suffix}", "Version: <crate version>-1$opt{suffix}");
    ok(system('dpkg', '--compare-versions', $f{Version}, 'gt', $opt{previous}) == 0,
        "$f{Version} is newer than $opt{previous}");
    my ($abi) = $f{Depends} =~ /^(nginx-abi-[\w.+~-]+), /;
    # (scripts/build-deb.sh used the host's nginx-dev for this machine's release, else its chroot)
    my $abifile = (os_codename() eq $codename ? '' : "$ROOT/target/debian/$codename/chroot")
        . '/usr/share/nginx/src/debian/libnginx-mod.abisubstvars';
    my ($want_abi) = AuthJwt::Test::read_file_bytes($abifile) =~ /^nginx:abi=(\S+)/m;
    ok($abi && $want_abi && $abi eq $want_abi,
        "Depends: first the ABI of ${codename}'s nginx-dev (" . ($want_abi // 'none') . ")")
        or diag("Depends: $f{Depends}");
    like($f{Depends}, qr/, libc6 \(>= [\d.]+\)/, "Depends: shared libraries ($f{Depends})");
    my ($rc_p, $provides) = run($sys, 'dpkg-query', '-W', '-f=${Provides}', 'nginx');
    like($provides, qr/(?:^|[ ,])\Q$abi\E(?:[ ,]|$)/, "${codename}'s nginx provides $abi") if $abi;

    my ($rc, $out) = cmd('lintian', '--fail-on', 'error', $deb);
    $out =~ s/^running with root privileges.*\n//mg;
    is($rc, 0, "lintian $f{Version}: no errors") or diag($out);
    my @tags = grep { /^[EW]: / } split /\n/, $out;
    ok(!@tags, "lintian $f{Version}: no warnings") or diag(join "\n", @tags);

    # the chroot sees the packages under the share directory
    if (!$host) {
        for my $file (\$deb, \$prev) {
            my $to = "$sys->{share}/" . basename($$file);
            copy($$file, $to) or die "copy $$file: $!";
            $$file = $to;
        }
    }

    # --- 2. Install the previous version; the admin's edits; upgrade.
    my $before = snapshot($sys);
    ($rc, $out) = dpkg($sys, '-i', $prev);
    is($rc, 0, "dpkg -i $opt{previous}") or diag($out);
    $sys->{installed} = 1;
    like(pkg_status($sys, $PKG), qr/^install ok installed \Q$opt{previous}\E$/, "installed: $opt{previous}");
    is(readlink(path($sys, $LINK)), $AVAIL, "fresh install enables the module: $LINK -> $AVAIL");

    admin_edits($sys);
    my $edited = snapshot($sys);
    ($rc, $out) = dpkg($sys, '-i', $deb);
    is($rc, 0, "upgrade $opt{previous} -> $f{Version} (dpkg -i; Depends satisfied)") or diag($out);
    like(pkg_status($sys, $PKG), qr/^install ok installed \Q$f{Version}\E$/, "installed: $f{Version}");
    same_tree($edited, snapshot($sys), 'upgrade keeps the admin\'s /etc/nginx edits '
        . '(nginx.conf line, conf.d file, module left disabled)', '/etc/nginx');
    ok(-f path($sys, $SO), "module at $SO");
    is(AuthJwt::Test::read_file_bytes(path($sys, $AVAIL)),
        "load_module modules/ngx_http_auth_jwt_rs_module.so;\n", "$AVAIL: load_module line");

    # re-enable with the documented command; a reinstall keeps the link
    ($rc, $out) = run($sys, 'ln', '-s', $AVAIL, $LINK);
    is($rc, 0, "re-enable: ln -s $AVAIL $LINK") or diag($out);
    ($rc, $out) = dpkg($sys, '-i', $deb);
    is($rc, 0, "reinstall $f{Version}") or diag($out);
    is(readlink(path($sys, $LINK)), $AVAIL, "reinstall keeps the enabled module ($LINK)");

    # --- 3. The release's nginx with the shipped link: nginx -t, then 200 / 401.
    local $ENV{AUTH_JWT_NGINX} = $host ? $NGINX : $sys->{nginx};
    local $ENV{AUTH_JWT_MODULE} = path($sys, $SO);
    local $ENV{TMPDIR} = $host ? ($ENV{TMPDIR} // '/tmp') : $sys->{share};
    my $t = AuthJwt::Test->new;
    my $prefix = $t->prefix;
    # The link's relative "modules/..." is resolved against the prefix (-p), as Debian's own
    # /usr/share/nginx/modules -> /usr/lib/nginx/modules is (inside the chroot for a chroot).
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
    my @nginx = ($ENV{AUTH_JWT_NGINX}, '-p', "$prefix/", '-e', 'logs/error.log', '-c', 'conf/nginx.conf');
    ($rc, $out) = cmd(@nginx, '-t');
    is($rc, 0, "$sys->{desc}: nginx -t with $LINK") or diag($out);
    like($out, qr/test is successful/, 'nginx -t: test is successful');

    my $ok = eval { $t->run; 1 };
    ok($ok, "$sys->{desc} starts with the packaged module") or diag($@);
    if ($ok) {
        my $master = $t->_master_pid;
        my @addrs = listen_addrs($master, AuthJwt::Test::_workers($master));
        my $want = join ' ', sort map { "127.0.0.1:" . $t->port($_) } 1, 2;
        is("@addrs", $want, "nginx listens on 127.0.0.1 only ($want)");
        my $tok = $t->mint(alg => 'RS256', key => 'rsa.key', claims => { sub => 'alice' }, exp_in => 300);
        expect_ok($t->get(1, '/', Authorization => "Bearer $tok"), 'valid RS256 token', qr/user=alice/);
        my $bad = $t->mint(alg => 'RS256', key => 'rsa2.key', claims => { sub => 'mallory' }, exp_in => 300);
        expect_invalid($t->get(1, '/', Authorization => "Bearer $bad"), 'deb', undef,
            'token signed by another key');
        expect_missing($t->get(1, '/'), 'deb', 'no token');
    }
    $t->finish;    # stops it; no alerts/panics/tokens in error.log

    # --- 4. nginx-conf/*.conf on the release's binary with the packaged module.
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
                : -f path($sys, "/etc/nginx/$inc") ? path($sys, "/etc/nginx/$inc") : undef;
            if ($src) { make_path(dirname("$p/conf/$inc")); copy($src, "$p/conf/$inc"); }
        }
        write_file("$p/conf/nginx.conf", $text);
        my @g = $text =~ /^\s*pid\s/m ? () : ('-g', 'pid logs/nginx.pid;');
        ($rc, $out) = cmd($ENV{AUTH_JWT_NGINX}, '-p', "$p/", '-e', 'logs/error.log',
            '-c', 'conf/nginx.conf', @g, '-t');
        is($rc, 0, "$name: nginx -t passes on $sys->{desc}") or diag($out);
        unlike($out, qr/\[(?:warn|alert|crit|emerg)\]/, "$name: no warnings") or diag($out);
    }

    # --- 5. Remove, purge; /etc/nginx as before (plus the admin's edits, which stay).
    ($rc, $out) = dpkg($sys, '-r', $PKG);
    is($rc, 0, "dpkg -r $PKG") or diag($out);
    ok(!-e path($sys, $SO), 'dpkg -r: module removed');
    ok(!-e path($sys, $LINK) && -l path($sys, "$LINK.removed"),
        'dpkg -r: link parked as .removed (as Debian modules do)');
    ($rc, $out) = dpkg($sys, '-P', $PKG);
    is($rc, 0, "dpkg -P $PKG") or diag($out);
    $sys->{installed} = 0 if $rc == 0;
    is(pkg_status($sys, $PKG), '', 'package state: purged');
    ok(!-l path($sys, "$LINK.removed"), 'dpkg -P: no link left');
    my $after = snapshot($sys);
    same_tree($edited, $after, "purge: /etc/nginx as before, the admin's edits kept", '/etc/nginx');
    restore_admin_edits($sys);
    same_tree($before, snapshot($sys), '/etc/nginx and the module directories exactly as before install');

    like(pkg_status($sys, 'nginx'), qr/^install ok installed/, "$sys->{desc} is still installed");
    if ($host) {
        is(system_nginx_pids(), join(',', @system_nginx), "system nginx processes unchanged ($NGINX)");
    } else {
        my @left = chroot_pids($sys->{root});
        ok(!@left, 'no process left running in the chroot') or diag("pids: @left");
    }
    close $lock;
}

# nginx processes running this machine's binary (the system service, if any).
sub system_nginx_pids {
    opendir(my $dh, '/proc') or return '';
    my @p = grep { /^\d+$/ && (readlink("/proc/$_/exe") // '') eq $NGINX } readdir $dh;
    return join ',', sort { $a <=> $b } @p;
}

1;
