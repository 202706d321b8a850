#!/usr/bin/perl
# README "auth_jwt_rs_cache", docs/verification.md: the verified-token cache. A cached verdict
# stands only for "this token verified with these keys under this allow-list": time claims, iss/aud
# and rules are still checked on every request, and another location's keys or algorithms never
# reuse it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;

my $t = AuthJwt::Test->new;
$t->write_file('conf/keys/current.pem', $t->read_file('conf/keys/rsa.pub.pem'));
$t->write_conf(<<'EOF2');
http {
    %%BACKEND%%

    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        add_header X-Reason $jwt_reason always;

        location /a/ {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /other-keys/ {
            auth_jwt_rs_key_file %%KEYS%%/rsa2.pub.pem;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /other-algs/ {
            auth_jwt_rs_algorithms RS384;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /other-iss/ {
            auth_jwt_rs_issuer https://other.example.com;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /rule/ {
            auth_jwt_rs_require_claim role eq admin;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /reloaded/ {
            auth_jwt_rs_key_file %%KEYS%%/current.pem;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location = /metrics {
            auth_jwt_rs off;
            auth_jwt_rs_status;
        }
    }
}
EOF2
$t->run;

sub hits {
    my ($body) = $t->get(1, '/metrics')->{body} =~ /^auth_jwt_rs_cache_lookups_total\{result="hit"\} (\d+)$/m;
    return $body // -1;
}
sub get_with { my ($path, $tok) = @_; $t->get(1, $path, Authorization => "Bearer $tok") }

my $tok = $t->mint(alg => 'RS256', key => 'rsa.key',
    claims => {sub => 'alice', iss => 'https://issuer.example.com', role => 'user'}, exp_in => 600);

# Cached at /a/: the second request is a hit.
my $h0 = hits();
expect_ok(get_with('/a/1', $tok), 'first request verifies');
expect_ok(get_with('/a/2', $tok), 'second request');
is(hits() - $h0, 1, 'the second request was a cache hit');

# Other locations must not reuse the verdict.
expect_invalid(get_with('/other-keys/1', $tok), undef, 'bad_signature', 'other keys: rejected');
expect_invalid(get_with('/other-algs/1', $tok), undef, 'alg_not_allowed', 'other algorithms: rejected');
expect_invalid(get_with('/other-iss/1', $tok), undef, 'issuer', 'other issuer: rejected (claims checked per request)');
expect_status(get_with('/rule/1', $tok), 403, 'rules checked per request on a cached token');
# ... and the original location still accepts it.
expect_ok(get_with('/a/3', $tok), 'still fine at /a/');

# A cached token is rejected once it has expired.
my $exp = time + 2;
my $short = $t->mint(alg => 'RS256', key => 'rsa.key',
    claims => {sub => 'bob', exp => $exp});
$h0 = hits();
expect_ok(get_with('/a/4', $short), 'short-lived token: accepted');
expect_ok(get_with('/a/5', $short), 'short-lived token: accepted again');
is(hits() - $h0, 1, 'short-lived token: served from the cache');
sleep 0.2 while time < $exp + 1;
expect_invalid(get_with('/a/6', $short), undef, 'expired', 'cached token rejected after exp');

# A key file change picked up by a reload: the old key's tokens are rejected.
expect_ok(get_with('/reloaded/1', $tok), 'before the key change');
expect_ok(get_with('/reloaded/2', $tok), 'before the key change (cached)');
$t->write_file('conf/keys/current.pem', $t->read_file('conf/keys/rsa2.pub.pem'));
$t->reload;
expect_invalid(get_with('/reloaded/3', $tok), undef, 'bad_signature', 'after key change + reload: rejected');
my $tok2 = $t->mint(alg => 'RS256', key => 'rsa2.key', claims => {sub => 'carol'}, exp_in => 600);
expect_ok(get_with('/reloaded/4', $tok2), 'after key change + reload: the new key works');

$t->finish;
done_testing;
