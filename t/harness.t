#!/usr/bin/perl
# Self-test of the harness: the module is loaded but no auth_jwt_rs directive is used, so nginx
# must behave exactly as without it. Also checks jwt-mint and the pure-Perl token helpers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;

my $t = AuthJwt::Test->new;
$t->write_conf(<<'EOF2');
http {
    access_log logs/access.log;
    %%BACKEND%%
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location / {
            proxy_set_header X-User $cookie_u;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location = /hdr {
            add_header X-Multi one;
            add_header X-Multi two;
            return 204;
        }
    }
}
EOF2
$t->run;

my $r = $t->get(1, '/x?y=1', Cookie => 'a=1; u=alice', Authorization => 'Basic Zm9vOmJhcg==');
expect_ok($r, 'plain proxy', qr{^user=alice email= authz=Basic Zm9vOmJhcg== injected= uri=/x\?y=1$});

$r = $t->request(port => 1, path => '/', http => '1.1', headers => [Cookie => 'u=bob']);
is($r->{status}, 200, 'HTTP/1.1 request');
like($r->{body}, qr/^user=bob /, 'HTTP/1.1 body');

$r = $t->get(1, '/hdr');
is($r->{status}, 204, 'return 204');
is(h($r, 'x-multi'), "one\ntwo", 'repeated headers are kept in order');

my $tok = $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'k', claims => {sub => 'alice'}, exp_in => 60);
my @p = split /\./, $tok, -1;
is(scalar @p, 3, 'jwt-mint: three segments');
like($tok, qr/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'jwt-mint: base64url, no padding');
is(MIME::Base64::decode_base64(tr_b64($p[0])), '{"alg":"RS256","typ":"JWT","kid":"k"}', 'jwt-mint: header');
my $claims = JSON::PP::decode_json(MIME::Base64::decode_base64(tr_b64($p[1])));
is($claims->{sub}, 'alice', 'jwt-mint: claims');
ok(abs($claims->{exp} - time - 60) <= 2, 'jwt-mint: --exp-in');

my $raw = $t->mint(alg => 'HS256', secret => 'hs.secret', header => '{"alg":"none"}', claims => '[1,2]');
my @q = split /\./, $raw, -1;
is(MIME::Base64::decode_base64(tr_b64($q[0])), '{"alg":"none"}', 'jwt-mint: raw header verbatim');
is(MIME::Base64::decode_base64(tr_b64($q[1])), '[1,2]', 'jwt-mint: raw claims verbatim');
is($raw, hs256_token($t->secret('hs.secret'), '{"alg":"none"}', '[1,2]'),
    'jwt-mint HS256 == pure-Perl hs256_token (secret newline stripped)');

is(b64url("\xfb\xff"), '-_8', 'b64url');

my ($scheme, $params) = challenge_params('Bearer realm="a b", error="invalid_token", error_description="x y"');
is($scheme, 'Bearer', 'challenge_params scheme');
is_deeply($params, {realm => 'a b', error => 'invalid_token', error_description => 'x y'}, 'challenge_params');

# reload with a changed configuration (same ports)
$t->write_conf(<<'EOF2');
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location / { return 200 "reloaded\n"; }
    }
}
EOF2
$t->reload;
$r = $t->get(1, '/');
is($r->{body}, "reloaded\n", 'reload: new configuration in force');

# the error.log token checker: nginx core echo lines and request context are left out, module
# lines at any level are kept
my $sig = 'SIGSIGSIGSIGSIGSIGSIGSIG';
my $fake = "a.b.$sig";
my @kept = AuthJwt::Test::_log_entries_for_token_check(join "\n",
    qq{2026/01/01 00:00:00 [debug] 1#1: *1 http header: "Authorization: Bearer $fake"},
    qq{2026/01/01 00:00:00 [debug] 1#1: *1 http proxy header:},
    qq{"GET / HTTP/1.0\r},
    qq{Authorization: Bearer $fake\r},
    qq{"},
    qq{2026/01/01 00:00:00 [info] 1#1: *1 auth_jwt_rs: rejected (expired), client: 127.0.0.1, server: , request: "GET /?t=$fake HTTP/1.0"},
    qq{2026/01/01 00:00:00 [debug] 1#1: *1 auth_jwt_rs: checking token $fake},
    qq{2026/01/01 00:00:00 [info] 1#1: *1 auth_jwt_rs: signature $sig bad, client: 127.0.0.1},
);
is(scalar(grep { index($_, $sig) >= 0 } @kept), 2, 'token checker keeps module lines, drops core echo');
is(scalar(grep { /rejected \(expired\)$/ } @kept), 1, 'token checker strips the request context');

$t->finish;
like($t->read_file('logs/access.log'), qr{"GET /x\?y=1 HTTP/1.0" 200 }, 'access log written');

done_testing;

sub tr_b64 { my $s = shift; $s =~ tr{-_}{+/}; $s .= '=' x ((4 - length($s) % 4) % 4); $s }
