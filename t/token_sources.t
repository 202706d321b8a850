#!/usr/bin/perl
# README "auth_jwt_rs_token" (sources, Authorization parsing): bearer, cookie=, header=, arg=,
# $variable; the first source with a value is THE token (no fall-through on a bad token).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;

my $t = AuthJwt::Test->new;
$t->write_conf(<<'EOF2');
http {
    %%BACKEND%%

    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_realm "src";
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        add_header X-Status $jwt_status always;
        add_header X-Reason $jwt_reason always;
        proxy_set_header X-User $jwt_claim_sub;

        location /default/ {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /chain/ {
            auth_jwt_rs_token bearer cookie=jwt header=X-Token arg=access_token;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /cookie/ {
            auth_jwt_rs_token cookie=session;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /header/ {
            auth_jwt_rs_token header=X-Token;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /arg/ {
            auth_jwt_rs_token arg=access_token;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /var/ {
            auth_jwt_rs_token $http_x_jwt;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        # A source whose getter reads the decision being made (the request context is shared
        # between the gate and the getter): no token yet, so no value.
        location /self/ {
            auth_jwt_rs_token $jwt_status $http_x_jwt;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2
$t->run;

my $good = $t->mint(alg => 'RS256', key => 'rsa.key', claims => {sub => 'alice'}, exp_in => 300);
my $good2 = $t->mint(alg => 'RS256', key => 'rsa.key', claims => {sub => 'carol'}, exp_in => 300);
my $bad  = $t->mint(alg => 'RS256', key => 'rsa2.key', claims => {sub => 'mallory'}, exp_in => 300);
my $alice = qr/^user=alice /;

# bearer (the default source)
for my $h ("Bearer $good", "bearer $good", "BEARER $good", "BeArEr $good", "Bearer   $good") {
    my $r = $t->get(1, '/default/', Authorization => $h);
    expect_ok($r, "Authorization: " . substr($h, 0, 9) . "...", $alice);
}
my $r = $t->get(1, '/default/', Authorization => "Basic Zm9vOmJhcg==");
expect_missing($r, 'src', 'Authorization: Basic is no token');
$r = $t->get(1, '/default/', Authorization => "Bearer");
expect_missing($r, 'src', 'Authorization: Bearer with nothing after');
$r = $t->get(1, '/default/', Authorization => "Bearer ");
expect_missing($r, 'src', 'Authorization: "Bearer " with nothing after');
$r = $t->get(1, '/default/', Authorization => "Bearer$good");
expect_missing($r, "src", "Authorization: Bearer<token> without a space is another scheme");
$r = $t->get(1, '/default/', Cookie => "jwt=$good");
expect_missing($r, 'src', 'default source is bearer only (cookie ignored)');

# chain: first non-empty source wins
$r = $t->get(1, '/chain/', Cookie => "jwt=$good");
expect_ok($r, 'chain: no bearer, valid cookie', $alice);
$r = $t->get(1, '/chain/', Authorization => "Bearer $bad", Cookie => "jwt=$good");
expect_invalid($r, 'src', 'bad_signature', 'chain: invalid bearer + valid cookie: no fall-through');
$r = $t->get(1, '/chain/', Authorization => "Basic Zm9vOmJhcg==", Cookie => "jwt=$good");
expect_ok($r, 'chain: Basic authorization, valid cookie', $alice);
$r = $t->get(1, '/chain/', Authorization => "Bearer", Cookie => "jwt=$good");
expect_ok($r, 'chain: empty Bearer, valid cookie', $alice);
$r = $t->get(1, '/chain/', Cookie => "jwt=$bad", 'X-Token' => $good);
expect_invalid($r, 'src', 'bad_signature', 'chain: invalid cookie + valid header: no fall-through');
$r = $t->get(1, '/chain/', 'X-Token' => $good);
expect_ok($r, 'chain: header only', $alice);
$r = $t->get(1, "/chain/?access_token=$good");
expect_ok($r, 'chain: arg only', $alice);
$r = $t->get(1, "/chain/?access_token=$good", Authorization => "Bearer $good2");
expect_ok($r, 'chain: bearer before arg', qr/^user=carol /);
$r = $t->get(1, "/chain/?access_token=$bad", 'X-Token' => $good2);
expect_ok($r, 'chain: header before arg', qr/^user=carol /);
$r = $t->get(1, '/chain/', Cookie => "other=1");
expect_missing($r, 'src', 'chain: nothing anywhere');

# cookie
$r = $t->get(1, '/cookie/', Cookie => "a=1; session=$good; b=2");
expect_ok($r, 'cookie among several', $alice);
$r = $t->request(port => 1, path => '/cookie/', headers => [Cookie => 'a=1', Cookie => "session=$good", Cookie => 'c=3']);
expect_ok($r, 'cookie in the second of several Cookie headers', $alice);
$r = $t->get(1, '/cookie/', Cookie => "xsession=$good; session_x=$good");
expect_missing($r, 'src', 'cookie: names must match exactly');
$r = $t->get(1, '/cookie/', Authorization => "Bearer $good");
expect_missing($r, 'src', 'cookie source only: bearer not consulted');

# header=
$r = $t->get(1, '/header/', 'X-Token' => $good);
expect_ok($r, 'header=X-Token raw value', $alice);
$r = $t->get(1, '/header/', 'x-token' => "Bearer $good");
expect_ok($r, 'header=X-Token with Bearer prefix (name case-insensitive)', $alice);
$r = $t->get(1, '/header/', 'X-Token' => $bad);
expect_invalid($r, 'src', 'bad_signature', 'header=X-Token bad token');

# arg=
$r = $t->get(1, "/arg/?x=1&access_token=$good&y=2");
expect_ok($r, 'arg=access_token', $alice);
$r = $t->get(1, "/arg/?my_access_token=$good");
expect_missing($r, 'src', 'arg: names must match exactly');
$r = $t->get(1, "/arg/?access_token=");
expect_missing($r, 'src', 'arg: empty value is no token');

# $variable
$r = $t->get(1, '/var/', 'X-JWT' => $good);
expect_ok($r, '$http_x_jwt source', $alice);
$r = $t->get(1, '/var/', 'X-JWT' => $bad);
expect_invalid($r, 'src', 'bad_signature', '$http_x_jwt source, bad token');
$r = $t->get(1, '/var/');
expect_missing($r, 'src', '$http_x_jwt source, empty');

# $jwt_status as a source is read while the gate decides: empty, so the next source counts
$r = $t->get(1, '/self/', 'X-JWT' => $good);
expect_ok($r, '$jwt_status source read mid-decision, then $http_x_jwt', $alice);
$r = $t->get(1, '/self/');
expect_missing($r, 'src', '$jwt_status source read mid-decision, no token');

# Debug lines at each step of a decision (the harness runs the log at debug and checks, in
# finish, that no line carries a token's bytes).
my $log = $t->error_log;
SKIP: {
    skip 'nginx without --with-debug', 6 unless $log =~ /\[debug\]/;
    like($log, qr/\[debug\].*auth_jwt_rs: no token in the configured sources/, 'debug: no token');
    like($log, qr/\[debug\].*auth_jwt_rs: token found \(\d+ bytes\)/, 'debug: token found');
    like($log, qr/\[debug\].*auth_jwt_rs: verified-token cache (hit|miss)/, 'debug: cache lookup');
    like($log,
        qr/\[debug\].*auth_jwt_rs: checking the signature \(alg: RS256, kid: "[^"]*"\) against \d+ keys/,
        'debug: key choice');
    like($log, qr/\[debug\].*auth_jwt_rs: token accepted \(alg: RS256/, 'debug: verdict');
    unlike($log, qr/\[debug\].*auth_jwt_rs: [^\n]*eyJ/, 'debug lines carry no token bytes');
}

$t->finish;
done_testing;
