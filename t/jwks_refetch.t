#!/usr/bin/perl
# docs/key-rotation.md "When keys are fetched" (unknown kid): the first fetch of an empty cache is
# not a refetch; refetches for unknown kids happen at most once per 30 s per URI, and again once the
# 30 s are over. Slow on purpose (waits the 30 s out). Fetches are counted in the JWKS server's
# access log.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use JSON::PP;
use Time::HiRes qw(sleep time);

my $J = JSON::PP->new->canonical;
my $fixture = $J->decode(AuthJwt::Test::read_file_bytes(AuthJwt::Test::keys_src() . '/jwks.json'));
my ($RSA1) = grep { $_->{kid} eq 'rsa1' } @{ $fixture->{keys} };
my $pem = AuthJwt::Test::keys_src() . '/rsa2.pub.pem';
my $mod = `openssl rsa -pubin -in '$pem' -noout -modulus 2>&1`;
die "openssl: $mod" unless $? == 0 && $mod =~ /^Modulus=([0-9A-Fa-f]+)\s*$/;
my $RSA2 = { kty => 'RSA', n => b64url(pack 'H*', $1), e => 'AQAB', kid => 'rsa2', use => 'sig', alg => 'RS256' };

sub jwks { $J->encode({ keys => [@_] }) . "\n" }
sub as_kid { my ($jwk, $kid) = @_; return { %$jwk, kid => $kid } }
sub bearer { (Authorization => "Bearer $_[0]") }

sub fetches {
    my ($t, $name) = @_;
    return scalar grep { /^\/\Q$name\E\s/ } split /\n/, $t->read_file('logs/jwks.access.log');
}

my $t = AuthJwt::Test->new;
$t->write_file("jwks/$_", jwks($RSA1)) for qw(w w2 cold);
$t->write_conf(<<'EOF2');
http {
    %%BACKEND%%
    log_format jwks '$uri $status';
    server {
        listen 127.0.0.1:%%PORT_3%%;
        access_log logs/jwks.access.log jwks;
        root %%PREFIX%%/jwks;
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        add_header X-Reason $jwt_reason always;
        location /_jwks/ {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_3%%/;
            proxy_pass_request_headers off;
        }
        location /w/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/w;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /w2/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/w2;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /cold/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/cold;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2
$t->run;

my @claims = (claims => { sub => 'alice' }, exp_in => 600);
my $rsa1      = $t->mint(alg => 'RS256', key => 'rsa.key',  kid => 'rsa1',     @claims);
my $rsa2      = $t->mint(alg => 'RS256', key => 'rsa2.key', kid => 'rsa2',     @claims);
my $rsa_new   = $t->mint(alg => 'RS256', key => 'rsa.key',  kid => 'rsa-new',  @claims);
my $rsa_newer = $t->mint(alg => 'RS256', key => 'rsa.key',  kid => 'rsa-newer', @claims);

# the first fetch (empty cache) is not a refetch: the rotation right after it may refetch
expect_status($t->get(1, '/w/1', bearer($rsa1)), 200, 'w: first request (initial fetch)');
is(fetches($t, 'w'), 1, 'w: one fetch');
$t->write_file('jwks/w', jwks($RSA2));
expect_status($t->get(1, '/w/2', bearer($rsa2)), 200, 'w: rotated key right after the initial fetch');
is(fetches($t, 'w'), 2, 'w: the unknown kid refetched (the initial fetch did not count)');
my $refetched_at = time;

# within 30 s: no further refetch, whatever the kid
$t->write_file('jwks/w', jwks($RSA2, as_kid($RSA1, 'rsa-new')));
expect_invalid($t->get(1, '/w/3', bearer($rsa_new)), undef, 'unknown_kid', 'w: another new kid within 30 s');
expect_invalid($t->get(1, '/w/4', bearer($rsa_newer)), undef, 'unknown_kid', 'w: yet another kid within 30 s');
is(fetches($t, 'w'), 2, 'w: no refetch within 30 s');

# the limit is per URI: another URI refetches in the same 30 s
expect_status($t->get(1, '/w2/1', bearer($rsa1)), 200, 'w2: first request');
$t->write_file('jwks/w2', jwks(as_kid($RSA1, 'rsa-new')));
expect_status($t->get(1, '/w2/2', bearer($rsa_new)), 200, 'w2: new kid, own 30 s window');
is(fetches($t, 'w2'), 2, 'w2: refetched');
is(fetches($t, 'w'), 2, 'w: unaffected by w2');

# cold cache and an unknown kid: the initial fetch, plus at most the one allowed refetch
expect_invalid($t->get(1, '/cold/1', bearer($rsa_new)), undef, 'unknown_kid', 'cold: unknown kid on an empty cache');
my $cold = fetches($t, 'cold');
ok($cold >= 1 && $cold <= 2, "cold: initial fetch plus at most one refetch (got $cold)");
expect_invalid($t->get(1, '/cold/2', bearer($rsa_newer)), undef, 'unknown_kid', 'cold: another unknown kid');
cmp_ok(fetches($t, 'cold'), '<=', 2, 'cold: the initial fetch and at most one refetch within 30 s');

# shortly before the 30 s are over: still nothing
my $wait = $refetched_at + 27 - time;
sleep $wait if $wait > 0;
my $r5 = $t->get(1, '/w/5', bearer($rsa_new));
SKIP: {
    # The window is measured from the client side; on a machine too loaded to answer within
    # 2 s, the request may land after the 30 s and rightly refetch: don't judge it then.
    skip 'request answered too late to test the window (machine overloaded)', 4
        if time - $refetched_at >= 29;
    expect_invalid($r5, undef, 'unknown_kid', 'w: new kid after 27 s');
    is(fetches($t, 'w'), 2, 'w: still no refetch after 27 s');
}

# once the 30 s are over, an unknown kid refetches again (once)
$wait = $refetched_at + 31.5 - time;
sleep $wait if $wait > 0;
expect_status($t->get(1, '/w/6', bearer($rsa_new)), 200, 'w: new kid after 30 s: accepted');
is(fetches($t, 'w'), 3, 'w: after 30 s: one refetch');
expect_invalid($t->get(1, '/w/7', bearer($rsa_newer)), undef, 'unknown_kid', 'w: and the next unknown kid waits again');
is(fetches($t, 'w'), 3, 'w: no second refetch');
expect_status($t->get(1, '/w/8', bearer($rsa2)), 200, 'w: rsa2 still valid');

$t->finish;
done_testing;
