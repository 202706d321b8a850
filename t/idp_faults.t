#!/usr/bin/perl
# `auth_jwt_rs_key_request` against an identity provider that misbehaves the way real ones do
# (docs/key-rotation.md, "When the identity provider fails"). The IdP is a
# raw-socket server started by this test on 127.0.0.1 (one process per connection); its path
# picks the misbehaviour. For each failure: the client's answer (500 without a challenge when no
# keys are known), that it came within a bound, how many connections the IdP saw, one warn line
# with the cause, no immediate retry, and that the worker's CPU time stayed small (a retry loop
# fails the test). Then the good cases (slow, 40 KB key set with default buffers, a client that
# asks for gzip, TLS with proxy_ssl_verify), a clean key request (none of a POSTing client's
# Authorization, Cookie, Accept-Encoding or body; the key location's proxy_set_header still
# applies), reload and kill -9 of a worker while the IdP is down, and 20 concurrent cold
# requests on two workers answered by one fetch.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use JSON::PP;
use IO::Socket::INET;
use IO::Select;
use Fcntl qw(:flock);
use IO::Compress::Gzip qw(gzip $GzipError);
use POSIX ();
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(sleep time);

my $J = JSON::PP->new->canonical;
my $JWKS = AuthJwt::Test::read_file_bytes(AuthJwt::Test::keys_src() . '/jwks.json');

sub bearer { (Authorization => "Bearer $_[0]") }

###############################################################################################
# The IdP. GET /MODE[/anything]; every connection appends "conn PATH\n<head>\n" to DIR/log.
#   hang: never answers      close: closes at once    reset: RST in the middle of the body
#   slow: good after 1 s     html: 200 with HTML       empty: {"keys":[]}
#   redirect: 302            big: a 40 KB key set      gzip: gzip when asked for it
#   good: the key set, unless DIR/down exists (then it closes at once)

sub start_idp {
    my ($dir, $port) = @_;
    return AuthJwt::Test::raw_server($port, sub { idp_handle($_[0], $dir) });
}

sub idp_handle {
    my ($c, $dir) = @_;
    binmode $c;
    my $head = '';
    my $sel = IO::Select->new($c);
    while ($head !~ /\r\n\r\n/ && $sel->can_read(5)) {
        my $n = sysread($c, my $buf, 4096) or last;
        $head .= $buf;
    }
    my ($path) = $head =~ m{^\S+ (\S+)};
    $path //= '-';
    open my $log, '>>', "$dir/log" or die;
    flock $log, LOCK_EX;
    print $log "conn $path\n$head\n";
    close $log;
    my ($mode) = $path =~ m{^/(\w+)};
    $mode //= '';
    my $send = sub {
        my ($status, $ctype, $body, @extra) = @_;
        print $c "HTTP/1.1 $status\r\nContent-Type: $ctype\r\nContent-Length: " . length($body)
            . "\r\nConnection: close\r\n" . join('', map {"$_\r\n"} @extra) . "\r\n$body";
    };
    if ($mode eq 'hang') { sleep 30; }
    elsif ($mode eq 'close') { }
    elsif ($mode eq 'reset') {
        print $c "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
            . substr($JWKS, 0, 40);
        sleep 0.2;
        setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    }
    elsif ($mode eq 'slow') { sleep 1; $send->('200 OK', 'application/json', $JWKS) }
    elsif ($mode eq 'html') { $send->('200 OK', 'text/html', "<html><body>Sign in</body></html>\n") }
    elsif ($mode eq 'empty') { $send->('200 OK', 'application/json', qq({"keys":[]}\n)) }
    elsif ($mode eq 'redirect') { $send->('302 Found', 'text/html', "moved\n", 'Location: http://127.0.0.1/elsewhere') }
    elsif ($mode eq 'big') {
        my $doc = $JWKS;
        $doc =~ s/\}\s*$/, "padding": "@{['x' x 40000]}"}\n/;
        $send->('200 OK', 'application/json', $doc);
    }
    elsif ($mode eq 'gzip') {
        if ($head =~ /^accept-encoding:.*gzip/im) {
            gzip(\$JWKS => \my $z) or die $GzipError;
            $send->('200 OK', 'application/json', $z, 'Content-Encoding: gzip');
        } else {
            $send->('200 OK', 'application/json', $JWKS);
        }
    }
    elsif ($mode eq 'good') { $send->('200 OK', 'application/json', $JWKS) unless -e "$dir/down" }
    else { $send->('404 Not Found', 'text/plain', "no\n") }
    close $c;
}

sub idp_conns {
    my ($t, $mode) = @_;
    my $log = -e $t->prefix . '/idp/log' ? $t->read_file('idp/log') : '';
    return scalar(() = $log =~ m{^conn /\Q$mode\E\b}mg);
}

sub idp_heads {
    my ($t, $mode) = @_;
    my $log = -e $t->prefix . '/idp/log' ? $t->read_file('idp/log') : '';
    return grep { m{^/\Q$mode\E\b} } split /^conn /m, $log;
}

sub warns_for {
    my ($t, $name) = @_;
    return grep { /\[warn\] .*auth_jwt_rs: key request "\/_k\/\Q$name\E"/ } split /\n/, $t->error_log;
}

# CPU seconds (user + system) of the nginx worker processes
sub worker_cpu {
    my ($t) = @_;
    my $master = $t->_master_pid or return 0;
    my $ticks = 0;
    for my $w (AuthJwt::Test::_workers($master)) {
        my $stat = AuthJwt::Test::read_file_bytes("/proc/$w/stat") // next;
        $stat =~ s/^.*\)\s+//s;
        my @f = split ' ', $stat;
        $ticks += $f[11] + $f[12];
    }
    return $ticks / (POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100);
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp', Listen => 1)
        or die "no free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

###############################################################################################

my $t = AuthJwt::Test->new;
mkdir $t->prefix . '/idp';
start_idp($t->prefix . '/idp', $t->port(3));
my $refused = free_port();    # nothing listens there

my $cert = $t->prefix . '/conf/idp.crt';
my $ckey = $t->prefix . '/conf/idp.key';
system('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', $ckey, '-out', $cert, '-days', '2', '-subj', '/CN=idp.test',
    '-addext', 'subjectAltName=DNS:idp.test') == 0 or die 'openssl failed';
$t->write_file('tls/jwks.json', $JWKS);

my @fail = qw(refused hang close reset html empty redirect);
my @good = qw(slow big gzip good tls);
my $locs = join '', map { <<"EOF" } @fail, @good;
        location /$_/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_k/$_;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
EOF

my $conf = <<"EOF";
http {
    access_log off;
    %%BACKEND%%
    server {
        listen 127.0.0.1:%%PORT_5%% ssl;
        server_name idp.test;
        ssl_certificate $cert;
        ssl_certificate_key $ckey;
        location = /certs { default_type application/json; alias %%PREFIX%%/tls/jwks.json; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        add_header X-Status \$jwt_status always;
        add_header X-Reason \$jwt_reason always;

        # the key locations: short timeouts, as docs/key-rotation.md ("The knobs") recommends
        location /_k/ {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_3%%/;
            proxy_connect_timeout 2s;
            proxy_read_timeout 2s;
        }
        location = /_k/refused {
            internal;
            proxy_pass http://127.0.0.1:$refused/;
            proxy_connect_timeout 2s;
        }
        location = /_k/good {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_3%%/good;
            proxy_read_timeout 2s;
            proxy_set_header Authorization "Basic aWRwOmtleXM=";
        }
        location = /_k/tls {
            internal;
            proxy_pass https://127.0.0.1:%%PORT_5%%/certs;
            proxy_ssl_server_name on;
            proxy_ssl_name idp.test;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $cert;
        }
$locs
        location = /status { auth_jwt_rs_status; }
    }
}
EOF
$t->write_conf($conf);
$t->run;

my @claims = (claims => { sub => 'alice' }, exp_in => 600);
my $good = $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1', @claims);
my $ec   = $t->mint(alg => 'ES256', key => 'ec256.key', kid => 'ec1', @claims);

# --- failures: a definite answer in bounded time, one connection, one warn line -------------

my %cause = (refused => 'connect', hang => 'timeout', close => 'connect', reset => 'body',
    html => 'body', empty => 'body', redirect => 'status');
my $cpu0 = worker_cpu($t);
for my $name (@fail) {
    my $t0 = time;
    my $r = $t->get(1, "/$name/1", bearer($good));
    my $took = time - $t0;
    expect_status($r, 500, "$name: no keys -> 500");
    is(h($r, 'www-authenticate'), undef, "$name: no challenge on 500");
    is(h($r, 'x-status'), 'error', "$name: \$jwt_status error");
    cmp_ok($took, '<', 4, "$name: answered within 4 s (took " . sprintf('%.1f', $took) . ' s)');
    is(idp_conns($t, $name), $name eq 'refused' ? 0 : 1, "$name: the IdP saw one connection");
    my @w = warns_for($t, $name);
    is(scalar @w, 1, "$name: one warn line naming the URI");
    like($w[0] // '', qr/failed \($cause{$name}\)/, "$name: the warn line gives the cause ($cause{$name})");
    like($w[0] // '', qr/no keys available, next attempt in 5 s/, "$name: and the pause");
    $t0 = time;
    expect_status($t->get(1, "/$name/2", bearer($good)), 500, "$name: again at once: 500");
    cmp_ok(time - $t0, '<', 1, "$name: again at once: answered without waiting");
    is(idp_conns($t, $name), $name eq 'refused' ? 0 : 1, "$name: no new attempt within the pause");
    expect_missing($t->get(1, "/$name/3"), undef, "$name: no token is still a plain 401");
}
my $cpu = worker_cpu($t) - $cpu0;
cmp_ok($cpu, '<', 1.5, sprintf('failures: the worker used %.2f s of CPU (no retry loop)', $cpu));
my $lines = () = $t->error_log =~ /auth_jwt_rs: key request/g;
is($lines, scalar @fail, 'failures: one log line of the module per failure, nothing more');

my $st = $t->get(1, '/status')->{body} // '';
for my $c (qw(connect timeout status body)) {
    my $n = grep { $cause{$_} eq $c } @fail;
    like($st, qr/^auth_jwt_rs_key_fetch_failures_total\{cause="$c"\} $n$/m, "status: $n failed fetches by cause $c");
}
like($st, qr/^auth_jwt_rs_key_fetch_failures_total\{cause="size"\} 0$/m, 'status: none by cause size');

# --- the pause doubles while failures go on, then a recovery resets it ----------------------

sleep 5.2;
expect_status($t->get(1, '/close/4', bearer($good)), 500, 'close: after 5 s: a new attempt fails');
is(idp_conns($t, 'close'), 2, 'close: after 5 s: one new connection');
like((warns_for($t, 'close'))[-1] // '', qr/next attempt in 10 s/, 'close: the pause doubled to 10 s');

# --- good IdPs, some of them odd -------------------------------------------------------------

my $t0 = time;
expect_ok($t->get(1, '/slow/1', bearer($good)), 'slow IdP: the first request waits for the keys');
cmp_ok(time - $t0, '>=', 0.9, 'slow IdP: it did wait');
expect_ok($t->get(1, '/big/1', bearer($ec)), 'a 40 KB key set with the default subrequest_output_buffer_size');
is(scalar(warns_for($t, 'big')), 0, 'big: no warning');
expect_ok($t->get(1, '/gzip/1', bearer($good), 'Accept-Encoding' => 'gzip, br'),
    'a client asking for gzip: the IdP that compresses when asked is not asked');
my ($gz) = idp_heads($t, 'gzip');
unlike($gz // '', qr/^accept-encoding:/im, 'gzip: no Accept-Encoding at the IdP');
expect_ok($t->get(1, '/tls/1', bearer($good)), 'IdP over TLS with proxy_ssl_verify');

# --- the key request carries nothing of the client's -----------------------------------------

my $body = 'SECRET-BODY-' . ('x' x 2000);
$t0 = time;
my $r = $t->request(port => 1, method => 'POST', path => '/good/1', body => $body,
    headers => [bearer($good), Cookie => 'session=SECRETCOOKIE', 'Accept-Encoding' => 'gzip',
        'X-Forwarded-For' => '203.0.113.9']);
expect_ok($r, 'clean: POST with credentials, cookies and a body');
cmp_ok(time - $t0, '<', 3, 'clean: the key request did not wait for a body');
my @heads = idp_heads($t, 'good');
is(scalar @heads, 1, 'clean: one key request');
my $head = $heads[0] // '';
like($head, qr{^GET /good HTTP/1\.[01]\r?$}m, 'clean: a GET of the key location URI');
like($head, qr{^authorization: Basic aWRwOmtleXM=\r?$}im, "clean: the key location's proxy_set_header reaches the IdP");
unlike($head, qr/SECRETCOOKIE|SECRET-BODY|203\.0\.113\.9|Bearer/, "clean: none of the client's credentials, cookies, body or headers");
unlike($head, qr/^(cookie|content-length|accept-encoding|x-forwarded-for|transfer-encoding):/im,
    'clean: no Cookie, Content-Length, Accept-Encoding, X-Forwarded-For, Transfer-Encoding');
$st = $t->get(1, '/status')->{body} // '';
like($st, qr{^auth_jwt_rs_key_age_seconds\{uri="/_k/good"\} \d+$}m, 'status: the age of the keys per URI');

# --- reload and kill -9 while the IdP is down: the keys survive --------------------------------

$t->write_file('idp/down', '');
$t->reload;
expect_ok($t->get(1, '/good/2', bearer($good)), 'IdP down, after a reload: a valid token is still accepted');
expect_invalid($t->get(1, '/good/3', bearer($t->mint(alg => 'RS256', key => 'rsa2.key', kid => 'rsa1', @claims))),
    undef, 'bad_signature', 'IdP down, after a reload: a forged token is still refused');
for (1 .. 40) { last if idp_conns($t, 'good') >= 2; sleep 0.05 }
is(idp_conns($t, 'good'), 2, 'IdP down, after a reload: the keys are refreshed in the background, once');
expect_ok($t->get(1, '/good/4', bearer($good)), 'IdP down, after the failed refresh: the keys stay in use');
is(idp_conns($t, 'good'), 2, 'IdP down: no new attempt within the pause');

$t->finish;

###############################################################################################
# Two workers, 20 concurrent cold requests: one fetch in total.

$t = AuthJwt::Test->new;
mkdir $t->prefix . '/idp';
start_idp($t->prefix . '/idp', $t->port(3));
my $mod = $t->module;
my $user = $> == 0 ? 'user root;' : '';
$t->write_conf(<<"EOF");
%%NO_WRAP%%
load_module $mod;
$user
daemon on;
pid logs/nginx.pid;
error_log logs/crash.log info;
worker_processes 2;
events { worker_connections 256; accept_mutex off; }
http {
    access_log off;
    %%BACKEND%%
    server {
        listen 127.0.0.1:%%PORT_1%% reuseport;
        location /_k/ { internal; proxy_pass http://127.0.0.1:%%PORT_3%%/; proxy_read_timeout 3s; }
        location /slow/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_k/slow;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF
$t->run;
# run() waits for the port, which the first worker opens; give the second (slow under ASan) up
# to 5 s to start.
my @workers;
for (1 .. 50) {
    @workers = AuthJwt::Test::_workers($t->_master_pid);
    last if @workers >= 2;
    select(undef, undef, undef, 0.1);
}
is(scalar(@workers), 2, 'two workers');
$good = $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1', @claims);
my @socks;
for my $i (1 .. 20) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port(1), Proto => 'tcp') or die "connect: $!";
    print $s "GET /slow/$i HTTP/1.0\r\nHost: localhost\r\nAuthorization: Bearer $good\r\n\r\n";
    push @socks, $s;
}
my @status;
for my $s (@socks) {
    local $/;
    my $raw = <$s> // '';
    push @status, $raw =~ m{^HTTP/1\.\d (\d+)} ? $1 : 'none';
    close $s;
}
is(join(',', @status), join(',', (200) x 20), 'two workers: all 20 concurrent cold requests get 200');
is(idp_conns($t, 'slow'), 1, 'two workers: one fetch in total');

# kill -9 of a worker while the IdP is down: its replacement reads the keys from the zone
$t->write_file('idp/down', '');
my $master = $t->_master_pid;
my ($victim) = AuthJwt::Test::_workers($master);
kill 'KILL', $victim;
for (1 .. 100) {
    my @n = AuthJwt::Test::_workers($master);
    last if @n == 2 && !grep { $_ == $victim } @n;
    sleep 0.05;
}
my @ok = map { $t->get(1, "/slow/k$_", bearer($good))->{status} // 'none' } 1 .. 6;
is(join(',', @ok), join(',', (200) x 6), 'kill -9 of a worker, IdP down: valid tokens still 200 on both workers');
is(idp_conns($t, 'slow'), 1, 'kill -9: the new worker did not fetch');
my @alerts = grep { /\[(?:alert|crit|emerg)\]/ } split /\n/, $t->read_file('logs/crash.log');
is(join("\n", grep { !/worker process $victim exited on signal 9\b/ } @alerts), '',
    'crash.log: no [alert], [crit] or [emerg] but the killed worker');
$t->finish;

done_testing;
