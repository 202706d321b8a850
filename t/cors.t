#!/usr/bin/perl
# README "auth_jwt_rs", "Status codes and challenges": gate recipes in front of other nginx access
# control. CORS preflight exemption with `map $request_method $jwt_gate` + `auth_jwt_rs $jwt_gate`
# (as in nginx-conf/cors-preflight.conf), and `satisfy any` with an IP allow-list in front of the
# JWT gate.

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
        auth_jwt_rs_realm "api";
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        proxy_set_header X-User $jwt_claim_sub;

        # preflight answered by nginx itself
        location /api/ {
            auth_jwt_rs $jwt_gate;
            add_header X-Status $jwt_status always;
            add_header Access-Control-Allow-Origin $http_origin always;
            add_header Vary Origin always;
            if ($request_method = OPTIONS) {
                add_header Access-Control-Allow-Origin $http_origin always;
                add_header Access-Control-Allow-Methods "GET, POST, PUT, DELETE" always;
                add_header Access-Control-Allow-Headers "Authorization, Content-Type" always;
                add_header Access-Control-Max-Age 600 always;
                return 204;
            }
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        # preflight answered by the backend (content phase): only the map exempts it
        location /proxied/ {
            auth_jwt_rs $jwt_gate;
            add_header X-Status $jwt_status always;
            add_header Access-Control-Allow-Origin $http_origin always;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        # control: without the map, a preflight hits the gate
        location /nomap/ {
            auth_jwt_rs on;
            add_header X-Status $jwt_status always;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_3%%;
        auth_jwt_rs on;
        auth_jwt_rs_realm "internal";
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        proxy_set_header X-User $jwt_claim_sub;

        location /allow/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /deny/ {
            satisfy any;
            deny all;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /allow-rule/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            auth_jwt_rs_require_claim role eq admin;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /deny-rule/ {
            satisfy any;
            deny all;
            auth_jwt_rs_require_claim role eq admin;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /all-allow/ {
            satisfy all;
            allow 127.0.0.1;
            deny all;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2
$t->run;

my $good  = $t->mint(alg => 'RS256', key => 'rsa.key', claims => {sub => 'alice', role => 'user'}, exp_in => 300);
my $admin = $t->mint(alg => 'RS256', key => 'rsa.key', claims => {sub => 'root', role => 'admin'}, exp_in => 300);
my $forged = $t->mint(alg => 'RS256', key => 'rsa2.key', claims => {sub => 'alice', role => 'admin'}, exp_in => 300);
my $ORIGIN = 'https://app.example.com';
my @preflight = (Origin => $ORIGIN, 'Access-Control-Request-Method' => 'POST',
    'Access-Control-Request-Headers' => 'authorization,content-type');

my $r;

###############################################################################################
# CORS preflight

$r = $t->request(port => 1, method => 'OPTIONS', path => '/api/items', headers => \@preflight);
expect_status($r, 204, 'OPTIONS preflight without token (if/return 204)');
is(h($r, 'www-authenticate'), undef, 'preflight: no WWW-Authenticate');
is(h($r, 'access-control-allow-origin'), $ORIGIN, 'preflight: Access-Control-Allow-Origin');
is(h($r, 'access-control-allow-methods'), 'GET, POST, PUT, DELETE', 'preflight: Access-Control-Allow-Methods');
is(h($r, 'access-control-allow-headers'), 'Authorization, Content-Type', 'preflight: Access-Control-Allow-Headers');
is(h($r, 'access-control-max-age'), '600', 'preflight: Access-Control-Max-Age');

$r = $t->get(1, '/api/items', Origin => $ORIGIN);
expect_missing($r, 'api', 'GET without token');
is(h($r, 'access-control-allow-origin'), $ORIGIN, 'GET without token: the 401 carries CORS headers (always)');
is(h($r, 'x-status'), 'missing', 'GET without token: $jwt_status missing');

$r = $t->get(1, '/api/items', Origin => $ORIGIN, Authorization => "Bearer $forged");
expect_invalid($r, 'api', undef, 'GET with a forged token');

$r = $t->get(1, '/api/items', Origin => $ORIGIN, Authorization => "Bearer $good");
expect_ok($r, 'GET with a valid token', qr/^user=alice /);
is(h($r, 'access-control-allow-origin'), $ORIGIN, 'GET with a valid token: CORS header');

$r = $t->request(port => 1, method => 'POST', path => '/api/items', body => '{}',
    headers => [Origin => $ORIGIN, 'Content-Type' => 'application/json']);
expect_missing($r, 'api', 'POST without token');

# preflight reaching the content phase: the gate itself must be off for OPTIONS
$r = $t->request(port => 1, method => 'OPTIONS', path => '/proxied/items', headers => \@preflight);
expect_ok($r, 'OPTIONS to the backend without token (map -> off)', qr{uri=/proxied/items$});
is(h($r, 'x-status'), undef, 'OPTIONS: the gate did not run ($jwt_status empty)');
is(h($r, 'access-control-allow-origin'), $ORIGIN, 'OPTIONS to the backend: CORS header');

$r = $t->request(port => 1, method => 'OPTIONS', path => '/proxied/items',
    headers => [@preflight, Authorization => "Bearer $forged"]);
expect_ok($r, 'OPTIONS to the backend with a forged token (gate off)', qr{^user= });

$r = $t->get(1, '/proxied/items', Origin => $ORIGIN);
expect_missing($r, 'api', 'GET /proxied/ without token');
$r = $t->request(port => 1, method => 'DELETE', path => '/proxied/items', headers => [Origin => $ORIGIN]);
expect_missing($r, 'api', 'DELETE /proxied/ without token');
$r = $t->get(1, '/proxied/items', Origin => $ORIGIN, Authorization => "Bearer $good");
expect_ok($r, 'GET /proxied/ with a valid token', qr/^user=alice /);

$r = $t->request(port => 1, method => 'OPTIONS', path => '/nomap/items', headers => \@preflight);
expect_missing($r, 'api', 'control: OPTIONS without the map needs a token');

###############################################################################################
# satisfy any with an IP allow-list in front of the gate

$r = $t->get(3, '/allow/x');
expect_ok($r, 'satisfy any, allow 127.0.0.1: no token', qr{^user= .* uri=/allow/x$});
$r = $t->get(3, '/allow/x', Authorization => "Bearer $forged");
expect_ok($r, 'satisfy any, allow 127.0.0.1: forged token', qr{uri=/allow/x$});
$r = $t->get(3, '/allow/x', Authorization => 'Bearer garbage');
expect_ok($r, 'satisfy any, allow 127.0.0.1: garbage token');
$r = $t->get(3, '/allow/x', Authorization => "Bearer $good");
expect_ok($r, 'satisfy any, allow 127.0.0.1: valid token', qr{uri=/allow/x$});

$r = $t->get(3, '/deny/x');
expect_missing($r, 'internal', 'satisfy any, deny all: no token');
$r = $t->get(3, '/deny/x', Authorization => "Bearer $forged");
expect_invalid($r, 'internal', undef, 'satisfy any, deny all: forged token');
$r = $t->get(3, '/deny/x', Authorization => "Bearer $good");
expect_ok($r, 'satisfy any, deny all: valid token', qr/^user=alice /);

$r = $t->get(3, '/allow-rule/x', Authorization => "Bearer $good");
expect_ok($r, 'satisfy any, allow + rule: the allow-list wins over a failing rule', qr{uri=/allow-rule/x$});
$r = $t->get(3, '/deny-rule/x', Authorization => "Bearer $good");
expect_status($r, 403, 'satisfy any, deny all + rule: failing rule');
like(h($r, 'www-authenticate') // '', qr/^Bearer realm="internal", error="insufficient_scope"(?:, error_description="[^"\\]+")?$/,
    'satisfy any, deny all + rule: insufficient_scope challenge');
$r = $t->get(3, '/deny-rule/x', Authorization => "Bearer $admin");
expect_ok($r, 'satisfy any, deny all + rule: admin', qr/^user=root /);
$r = $t->get(3, '/deny-rule/x');
expect_missing($r, 'internal', 'satisfy any, deny all + rule: no token');

$r = $t->get(3, '/all-allow/x');
expect_missing($r, 'internal', 'satisfy all, allowed IP: still needs a token');
$r = $t->get(3, '/all-allow/x', Authorization => "Bearer $good");
expect_ok($r, 'satisfy all, allowed IP: valid token', qr/^user=alice /);

$t->finish;
done_testing;
