#!/usr/bin/perl
# README "auth_jwt_rs", "Status codes and challenges": the gate in the access phase; outcomes,
# challenges, on/off/$variable, inheritance, limit_except, satisfy, error_page.

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

    map $request_method $jwt_gate {
        OPTIONS  off;
        default  on;
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_realm "api";
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        add_header X-Status $jwt_status always;
        add_header X-Reason $jwt_reason always;
        proxy_set_header X-User $jwt_claim_sub;

        location / {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /public/ {
            auth_jwt_rs off;
            proxy_pass http://127.0.0.1:%%PORT_2%%;

            location /public/private/ {
                auth_jwt_rs on;
                proxy_pass http://127.0.0.1:%%PORT_2%%;
            }
        }
        location /var/ {
            auth_jwt_rs $http_x_gate;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /cors/ {
            auth_jwt_rs $jwt_gate;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /write/ {
            auth_jwt_rs off;
            limit_except GET {
                auth_jwt_rs on;
            }
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /any-allow/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /any-deny/ {
            satisfy any;
            deny all;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /all-deny/ {
            satisfy all;
            deny all;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /login/ {
            error_page 401 = @login;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location @login {
            return 302 /signin;
        }
        location /body/ {
            error_page 401 = @body;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location @body {
            return 401 "please log in\n";
        }
    }

    server {
        listen 127.0.0.1:%%PORT_3%%;
        auth_jwt_rs on;
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        location / {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2
$t->run;

my $good = $t->mint(alg => 'RS256', key => 'rsa.key', claims => {sub => 'alice'}, exp_in => 300);
my $bad  = $t->mint(alg => 'RS256', key => 'rsa2.key', claims => {sub => 'mallory'}, exp_in => 300);
my @good = (Authorization => "Bearer $good");
my @bad  = (Authorization => "Bearer $bad");

# outcomes and challenge forms
my $r = $t->get(1, '/');
expect_missing($r, 'api', 'no token');
is(h($r, 'x-status'), 'missing', 'no token: $jwt_status');
is(h($r, 'x-reason'), 'missing', 'no token: $jwt_reason');
unlike($r->{raw}, qr/user=/, 'no token: backend not reached');

$r = $t->get(1, '/', @bad);
expect_invalid($r, 'api', 'bad_signature', 'token signed by another key');
is(h($r, 'x-status'), 'invalid', 'bad signature: $jwt_status');

$r = $t->get(1, '/', Authorization => 'Bearer not-a-jwt');
expect_invalid($r, 'api', 'malformed', 'garbage token');

$r = $t->get(1, '/', @good);
expect_ok($r, 'valid token', qr/^user=alice email= authz=Bearer \Q$good\E /);
is(h($r, 'x-status'), 'ok', 'valid: $jwt_status');
is(h($r, 'x-reason'), undef, 'valid: no $jwt_reason');

$r = $t->request(port => 1, method => 'HEAD', path => '/');
expect_missing($r, 'api', 'HEAD without token');

$r = $t->request(port => 1, method => 'POST', path => '/', body => 'x=1', @good ? (headers => \@good) : ());
expect_ok($r, 'POST with token', qr/^user=alice /);

# without auth_jwt_rs_realm
$r = $t->get(3, '/');
expect_missing($r, undef, 'no realm, no token');
$r = $t->get(3, '/', @bad);
expect_invalid($r, undef, undef, 'no realm, bad token');
$r = $t->get(3, '/', @good);
expect_ok($r, 'no realm, valid token', qr/^user= /);

# off in a nested location, on again deeper, inheritance
$r = $t->get(1, '/public/x');
expect_ok($r, 'auth_jwt_rs off', qr{uri=/public/x$});
is(h($r, 'x-status'), undef, 'gate did not run: $jwt_status empty');
$r = $t->get(1, '/public/x', @bad);
expect_ok($r, 'auth_jwt_rs off ignores a bad token');
$r = $t->get(1, '/public/private/x');
expect_missing($r, 'api', 'nested location turns it on again');
$r = $t->get(1, '/public/private/x', @good);
expect_ok($r, 'nested location, valid token', qr/^user=alice /);

# auth_jwt_rs $variable
for my $v ('', '0', 'off') {
    $r = $t->get(1, '/var/', length $v ? ('X-Gate' => $v) : ());
    expect_ok($r, "auth_jwt_rs \$var = '$v' means off");
}
for my $v ('on', '1', 'yes') {
    $r = $t->get(1, '/var/', 'X-Gate' => $v);
    expect_missing($r, 'api', "auth_jwt_rs \$var = '$v' means on");
}
$r = $t->get(1, '/var/', 'X-Gate' => 'on', @good);
expect_ok($r, 'auth_jwt_rs $var on, valid token', qr/^user=alice /);

$r = $t->request(port => 1, method => 'OPTIONS', path => '/cors/');
expect_ok($r, 'map: OPTIONS preflight exempt');
$r = $t->get(1, '/cors/');
expect_missing($r, 'api', 'map: GET needs a token');

# limit_except
$r = $t->get(1, '/write/');
expect_ok($r, 'limit_except GET: GET passes');
$r = $t->request(port => 1, method => 'POST', path => '/write/', body => '');
expect_missing($r, 'api', 'limit_except GET: POST needs a token');
$r = $t->request(port => 1, method => 'POST', path => '/write/', body => '', headers => \@good);
expect_ok($r, 'limit_except GET: POST with token', qr/^user=alice /);

# satisfy
$r = $t->get(1, '/any-allow/');
expect_ok($r, 'satisfy any + allow: passes without token');
$r = $t->get(1, '/any-deny/');
expect_missing($r, 'api', 'satisfy any + deny all: needs a token');
$r = $t->get(1, '/any-deny/', @bad);
expect_invalid($r, 'api', 'bad_signature', 'satisfy any + deny all: bad token');
$r = $t->get(1, '/any-deny/', @good);
expect_ok($r, 'satisfy any + deny all: valid token', qr/^user=alice /);
$r = $t->get(1, '/all-deny/', @good);
expect_status($r, 403, 'satisfy all + deny all, valid token');

# error_page
$r = $t->get(1, '/login/');
expect_status($r, 302, 'error_page 401 = @login');
like(h($r, 'location') // '', qr{/signin$}, 'error_page 401 = @login: Location');
$r = $t->get(1, '/login/', @good);
expect_ok($r, 'error_page 401 = @login: valid token', qr/^user=alice /);
$r = $t->get(1, '/body/');
expect_status($r, 401, 'error_page 401 = @body');
is($r->{body}, "please log in\n", 'error_page 401 = @body: body');
is(h($r, 'www-authenticate'), 'Bearer realm="api"', 'error_page 401 = @body: challenge survives');

$t->finish;
done_testing;
