#!/usr/bin/perl
# README "auth_jwt_rs_key_request" under concurrency and at the wire, against a tiny Perl
# "identity provider" started by this test (one process per connection, so it never serialises
# what nginx sends it), which records every raw request it receives and can answer slowly:
#
#   - a burst of concurrent first requests (sockets opened and written before any response is
#     read, the JWKS answer slowed by 0.5 s so they overlap) causes exactly one fetch; the same
#     through auth_request + auth_jwt_rs_verify; a burst waiting for a fetch that fails gets 500s;
#   - clients that disconnect while waiting (including the one whose request started the fetch)
#     do not break the others;
#   - the IdP never sees the client's Authorization, Cookie or request body, and the key request
#     does not announce a body it never sends (Content-Length), which would make a real IdP wait.

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
use POSIX ();
use Time::HiRes qw(sleep time);

my $J = JSON::PP->new->canonical;
my $fixture = $J->decode(AuthJwt::Test::read_file_bytes(AuthJwt::Test::keys_src() . '/jwks.json'));
my $JWKS = $J->encode($fixture) . "\n";

sub bearer { (Authorization => "Bearer $_[0]") }

###############################################################################################
# The fake IdP: GET /slow/NAME sleeps 0.5 s, /fast/NAME does not; NAME "fail" answers 500,
# anything else the JWKS. Every request is appended to DIR/requests.log:
#   === PATH\n<request head>\n--- body <received>/<declared>\n<body>\n=== end\n

sub start_idp {
    my ($dir, $port) = @_;
    return AuthJwt::Test::raw_server($port, sub { idp_handle($_[0], $dir) });
}

sub idp_handle {
    my ($c, $dir) = @_;
    binmode $c;
    my $sel = IO::Select->new($c);
    my $in = '';
    my $deadline = time + 5;
    while ($in !~ /\r\n\r\n/ && time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread($c, my $buf, 65536);
        last unless $n;
        $in .= $buf;
    }
    return unless $in =~ /\r\n\r\n/;    # a bare connect (nginx startup probe of the harness)
    my ($head, $body) = split /\r\n\r\n/, $in, 2;
    my ($declared) = $head =~ /^Content-Length:\s*(\d+)/mi;
    $declared //= 0;
    # like a real server: wait for the announced body (here at most 4 s)
    $deadline = time + 4;
    while (length($body) < $declared && time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread($c, my $buf, 65536);
        last unless $n;
        $body .= $buf;
    }
    my ($path) = $head =~ m{^\S+ (\S+)};
    open my $log, '>>', "$dir/requests.log" or die;
    flock $log, LOCK_EX;
    seek $log, 0, 2;
    print $log "=== $path\n$head\n--- body " . length($body) . "/$declared\n$body\n=== end\n";
    close $log;

    sleep 0.5 if $path =~ m{^/slow/};
    my ($status, $out) = $path =~ m{/fail$} ? ('500 Internal Server Error', "oops\n") : ('200 OK', $JWKS);
    print $c "HTTP/1.0 $status\r\nContent-Type: application/json\r\nContent-Length: "
        . length($out) . "\r\nConnection: close\r\n\r\n$out";
    close $c;
}


# idp_requests($t, PATH): the recorded requests for PATH, each { head, body, declared }
sub idp_requests {
    my ($t, $path) = @_;
    my $log = $t->read_file('idp/requests.log');
    my @r;
    while ($log =~ /^=== (\S+)\n(.*?)\n--- body (\d+)\/(\d+)\n(.*?)\n=== end\n/msg) {
        push @r, { path => $1, head => $2, received => $3, declared => $4, body => $5 } if $1 eq $path;
    }
    return @r;
}

# parallel($t, N, sub { $i -> [path, headers...] }): opens and writes N requests before reading
# any response; returns the parsed responses in order.
sub parallel {
    my ($t, $n, $make, %opt) = @_;
    my $port = $t->port(1);
    my @socks;
    for my $i (0 .. $n - 1) {
        my ($path, @h) = @{ $make->($i) };
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Proto => 'tcp', Timeout => 5)
            or die "connect: $!";
        binmode $s;
        my $req = "GET $path HTTP/1.0\r\nHost: localhost\r\n";
        for (my $k = 0; $k < @h; $k += 2) { $req .= "$h[$k]: $h[$k + 1]\r\n" }
        syswrite($s, "$req\r\n") or die "write: $!";
        push @socks, $s;
    }
    my %drop = map { $_ => 1 } @{ $opt{drop} // [] };
    for my $i (keys %drop) { close $socks[$i]; $socks[$i] = undef }
    my @res;
    for my $i (0 .. $n - 1) {
        if (!$socks[$i]) { push @res, undef; next }
        my $s = $socks[$i];
        my $sel = IO::Select->new($s);
        my $raw = '';
        my $deadline = time + 15;
        while (time < $deadline) {
            last unless $sel->can_read($deadline - time);
            my $got = sysread($s, my $buf, 65536);
            last unless $got;
            $raw .= $buf;
        }
        close $s;
        push @res, AuthJwt::Test::parse_response($raw);
    }
    return @res;
}

sub statuses { join ',', map { defined $_ ? $_->{status} // 'none' : 'dropped' } @_ }

###############################################################################################

my $t = AuthJwt::Test->new;
mkdir $t->prefix . '/idp' or die;
start_idp($t->prefix . '/idp', $t->port(5));

$t->write_conf(<<'EOF2');
http {
    %%BACKEND%%

    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs_realm "burst";
        add_header X-Reason $jwt_reason always;

        # the README's key location (auth_jwt_rs_key_request), against the fake IdP
        location /_jwks/ {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_5%%/;
            proxy_pass_request_headers off;
        }
        # the same with the Content-Length workaround of auth_request setups
        location /_jwks_nocl/ {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_5%%/;
            proxy_pass_request_headers off;
            proxy_set_header Content-Length "";
        }

        location /burst/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/slow/burst;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /fburst/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/slow/fail;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /drop/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/slow/drop;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        location /drop-ica/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks_ica/slow/drop-ica;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /_jwks_ica/ {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_5%%/;
            proxy_pass_request_headers off;
            proxy_set_header Content-Length "";
            proxy_ignore_client_abort on;
        }

        location /vburst/ {
            auth_request /auth/verify;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location = /auth/verify {
            internal;
            auth_jwt_rs_verify;
            auth_jwt_rs_key_request /_jwks/slow/vburst;
        }

        location /cred/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/fast/cred;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /cred-nocl/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks_nocl/fast/cred-nocl;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2
$t->run;

my @claims = (claims => { sub => 'alice' }, exp_in => 600);
my $good   = $t->mint(alg => 'RS256', key => 'rsa.key',   kid => 'rsa1', @claims);
my $ec     = $t->mint(alg => 'ES256', key => 'ec256.key', kid => 'ec1',  @claims);
my $forged = $t->mint(alg => 'RS256', key => 'rsa2.key',  kid => 'rsa1', @claims);

# --- burst of first requests: one fetch -------------------------------------------------------

my $t0 = time;
my @res = parallel($t, 20, sub {
    my $i = shift;
    return ["/burst/$i", bearer($i % 4 == 3 ? $forged : $i % 2 ? $ec : $good)];
});
my $took = time - $t0;
is(statuses(@res), join(',', map { $_ % 4 == 3 ? 401 : 200 } 0 .. 19),
    'burst: 20 concurrent first requests: 200 for good tokens, 401 for forged ones');
is(scalar(grep { ($_->{body} // '') =~ m{uri=/burst/\d+$}m } @res), 15, 'burst: 15 reached the backend');
is(scalar(idp_requests($t, '/slow/burst')), 1, 'burst: exactly one fetch for 20 concurrent requests');
cmp_ok($took, '<', 5, 'burst: all answered promptly (they waited for the one fetch)');

# --- the same through auth_request + auth_jwt_rs_verify ---------------------------------------

@res = parallel($t, 12, sub { my $i = shift; ["/vburst/$i", bearer($i == 5 ? $forged : $good)] });
is(statuses(@res), join(',', map { $_ == 5 ? 401 : 200 } 0 .. 11),
    'verify burst: 12 concurrent first requests through auth_request');
like(h($res[5], 'www-authenticate') // '', qr/^Bearer realm="burst", error="invalid_token"/,
    'verify burst: the forged one gets the challenge');
is(scalar(idp_requests($t, '/slow/vburst')), 1, 'verify burst: exactly one fetch');

# --- a burst waiting for a fetch that fails ---------------------------------------------------

@res = parallel($t, 10, sub { ["/fburst/$_[0]", bearer($good)] });
is(statuses(@res), join(',', (500) x 10), 'failing burst: every waiting request gets 500');
is(scalar(idp_requests($t, '/slow/fail')), 1, 'failing burst: exactly one fetch');
my @warn = grep { /\[warn\] .*auth_jwt_rs: key request "\/_jwks\/slow\/fail" failed \(status\): status 500/ }
    split /\n/, $t->error_log;
is(scalar @warn, 1, 'failing burst: one warn line with the URI');

# --- clients that go away while waiting -------------------------------------------------------

# request 0 started the fetch; 0, 3 and 4 disconnect while it is in flight. The IdP is fine, so
# the clients still waiting must get their answer, and the next request must not get a 500.
for my $case (['drop', 'README key location'], ['drop-ica', 'key location with proxy_ignore_client_abort on']) {
    my ($loc, $what) = @$case;
    @res = parallel($t, 8, sub { ["/$loc/$_[0]", bearer($good)] }, drop => [0, 3, 4]);
    is(statuses(@res), 'dropped,200,200,dropped,dropped,200,200,200',
        "$loc ($what): clients disconnect, the fetching one included: the others get 200");
    expect_status($t->get(1, "/$loc/after", bearer($good)), 200, "$loc: a request right afterwards");
    my $n = scalar(idp_requests($t, "/slow/$loc"));
    ok($n >= 1 && $n <= 2, "$loc: the keys were fetched (once, or once more after the abandoned fetch; got $n)");
    my @w = grep { /auth_jwt_rs: key request "[^"]*\/slow\/\Q$loc\E" failed/ } split /\n/, $t->error_log;
    is(scalar @w, 0, "$loc: a client hanging up is not logged as a failure of the IdP")
        or diag(join "\n", @w);
}

# --- what the IdP sees ------------------------------------------------------------------------

my $body = 'SECRET-BODY-MARKER-' . ('b' x 2000);
for my $case (['cred', '/fast/cred'], ['cred-nocl', '/fast/cred-nocl']) {
    my ($loc, $path) = @$case;
    $t0 = time;
    my $r = $t->request(port => 1, method => 'POST', path => "/$loc/1", body => $body, timeout => 20,
        headers => [bearer($good), Cookie => 'session=SECRETCOOKIE', 'X-Api-Key' => 'SECRETKEY']);
    $took = time - $t0;
    expect_status($r, 200, "$loc: POST with credentials and a body, empty cache");
    my @req = idp_requests($t, $path);
    is(scalar @req, 1, "$loc: one key request");
    my $q = $req[0] // { head => '', body => '', declared => -1, received => -1 };
    like($q->{head}, qr{^GET \Q$path\E HTTP/1\.[01]\r?$}m, "$loc: the key request is a GET of the JWKS");
    unlike($q->{head}, qr/^Authorization:/mi, "$loc: no Authorization at the IdP");
    unlike($q->{head}, qr/^Cookie:/mi, "$loc: no Cookie at the IdP");
    unlike($q->{head}, qr/SECRET/, "$loc: no client header value at the IdP");
    is($q->{received}, 0, "$loc: no body bytes at the IdP");
    is($q->{declared}, 0, "$loc: no body announced (Content-Length) to the IdP");
    cmp_ok($took, '<', 3, "$loc: the key request did not stall waiting for an announced body");
}

$t->finish;
AuthJwt::Test::stop_raw_servers();
done_testing;
