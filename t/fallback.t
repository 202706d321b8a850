#!/usr/bin/perl
# README "auth_jwt_rs_fallback": auth_jwt_rs_fallback URI delegates requests without a
# JWT (no token, or a token that is not JWT-shaped, e.g. an opaque oauth2-proxy session) to a
# subrequest with nginx auth_request's semantics; auth_jwt_rs_fallback_set like
# auth_request_set; a JWT-shaped token that fails verification never falls back.
#
# The external auth service is real: a server block of the same nginx on %%PORT_3%% (an
# oauth2-proxy stand-in) that decides from the _oauth2_proxy cookie or the Authorization header
# and logs every request it receives (with $request_length / $content_length) to
# logs/authsvc.log, which the tests read to prove which requests reached it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;

my $t = AuthJwt::Test->new;
$t->write_conf(<<'EOF2');
http {
    auth_jwt_rs_claim_set $user sub;

    # --- the external auth service (oauth2-proxy stand-in) ------------------------------------
    log_format authsvc 'AUTHSVC trace=$http_x_trace method=$request_method uri=$request_uri orig=$http_x_original_uri len=$request_length cl="$content_length" cookie="$http_cookie"';

    map "$cookie__oauth2_proxy|$http_authorization" $svc_decision {
        default                       none;
        "|Bearer opaque-session-id"   good;
        "|Bearer opaque-denied"       denied;
        "~^good\|"                    good;
        "~^Zm9v\.YmFy\.YmF6\|"        good;
        "~^nocontent\|"               nocontent;
        "~^denied\|"                  denied;
        "~^redirect\|"                redirect;
        "~^broken\|"                  broken;
        "~^one\|"                     one;
    }
    map $svc_decision $svc_user {
        good       bob;
        nocontent  carol;
        default    "";
    }
    map $svc_decision $svc_email {
        good       bob@example.com;
        default    "";
    }
    map $svc_decision $svc_chal1 {
        none       'Bearer realm="oauth2"';
        one        'Basic realm="single"';
        default    "";
    }
    map $svc_decision $svc_chal2 {
        none       'Basic realm="sso", charset="UTF-8"';
        default    "";
    }

    server {
        listen 127.0.0.1:%%PORT_3%%;
        access_log logs/authsvc.log authsvc;
        location = /auth {
            add_header X-Auth-Request-User $svc_user always;
            add_header X-Auth-Request-Email $svc_email always;
            add_header WWW-Authenticate $svc_chal1 always;
            add_header WWW-Authenticate $svc_chal2 always;
            if ($svc_decision = good)      { return 202; }
            if ($svc_decision = nocontent) { return 204; }
            if ($svc_decision = denied)    { return 403; }
            if ($svc_decision = redirect)  { return 302 https://login.example/start; }
            if ($svc_decision = broken)    { return 500; }
            return 401;
        }
    }

    # --- the backend ---------------------------------------------------------------------------
    server {
        listen 127.0.0.1:%%PORT_2%%;
        location / {
            return 200 "user=$http_x_user email=$http_x_email status=$http_x_jwt_status cl=$content_length uri=$request_uri\n";
        }
    }

    # --- the protected server ------------------------------------------------------------------
    server {
        listen 127.0.0.1:%%PORT_1%%;

        auth_jwt_rs on;
        auth_jwt_rs_realm "app";
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        auth_jwt_rs_token bearer cookie=_oauth2_proxy;

        auth_jwt_rs_fallback /_oauth2;
        auth_jwt_rs_fallback_set $user $upstream_http_x_auth_request_user;
        auth_jwt_rs_fallback_set $email $upstream_http_x_auth_request_email;

        add_header X-Jwt-Status $jwt_status always;
        add_header X-Jwt-Reason $jwt_reason always;
        proxy_set_header X-User $user;
        proxy_set_header X-Email $email;
        proxy_set_header X-Jwt-Status $jwt_status;

        location = /_oauth2 {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_3%%/auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
        }

        location / {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        # internal redirects after the gate decided
        location /e404/ {
            root %%PREFIX%%/nonexistent;
            error_page 404 = /other/;
        }
        location /n404/ {
            root %%PREFIX%%/nonexistent;
            error_page 404 = @named;
        }
        location /g404/ {
            root %%PREFIX%%/nonexistent;
            error_page 404 = /gated/;
        }
        location /other/ {
            auth_jwt_rs off;
            return 200 "other user=$user email=$email\n";
        }
        location @named {
            auth_jwt_rs off;
            return 200 "named user=$user email=$email\n";
        }
        location /gated/ {
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

        location /nofb/ {
            auth_jwt_rs_fallback off;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /outer/ {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
            location /outer/inner/ {
                auth_jwt_rs_fallback off;
                proxy_pass http://127.0.0.1:%%PORT_2%%;
            }
        }
    }
}
EOF2
$t->run;

my $seq = 0;
sub trace { 'tr' . $$ . '-' . ++$seq }

# svc_lines(TRACE): the auth service's access log lines for that trace id.
sub svc_lines {
    my ($tr) = @_;
    return grep { /^AUTHSVC trace=\Q$tr\E / } split /\n/, $t->read_file('logs/authsvc.log');
}

# req(PATH, HEADERS..., [method => M, body => B]): a request with a fresh X-Trace id.
sub req {
    my ($path, %o) = @_;
    my $tr = trace();
    my @h = (@{ $o{headers} // [] }, 'X-Trace' => $tr);
    my $r = $t->request(port => 1, path => $path, headers => \@h,
        (defined $o{method} ? (method => $o{method}) : ()), (defined $o{body} ? (body => $o{body}) : ()));
    $r->{trace} = $tr;
    return $r;
}

sub hits { scalar svc_lines($_[0]{trace}) }

# A control request that surely reaches the auth service, so that "no line" for an earlier
# request is not an artifact of log timing.
sub control_hit {
    my ($name) = @_;
    my $c = req('/ctl/', headers => [Cookie => '_oauth2_proxy=good']);
    is(hits($c), 1, "$name: control request reached the auth service");
}

my $good = $t->mint(alg => 'RS256', key => 'rsa.key', claims => {sub => 'alice'}, exp_in => 300);
my $bad  = $t->mint(alg => 'RS256', key => 'rsa2.key', claims => {sub => 'mallory'}, exp_in => 300);
my $expired = $t->mint(alg => 'RS256', key => 'rsa.key', claims => {sub => 'alice', exp => time - 60});
my ($gh, $gp) = split /\./, $good;
my $nosig = "$gh.$gp.";
my $none = b64url('{"alg":"none","typ":"JWT"}') . ".$gp.";
AuthJwt::Test::track_token($_) for $nosig, $none;

# --- no token: the fallback decides
my $r = req('/app/x', headers => [Cookie => '_oauth2_proxy=good']);
expect_ok($r, 'opaque session cookie, service says 202');
is($r->{body}, "user=bob email=bob\@example.com status=fallback_ok cl= uri=/app/x\n",
    'fallback allowed: $user and $email from the service reach the backend, $jwt_status fallback_ok');
is(h($r, 'x-jwt-status'), 'fallback_ok', 'fallback allowed: $jwt_status in add_header');
is(hits($r), 1, 'fallback allowed: exactly one request to the auth service');
like((svc_lines($r->{trace}))[0] // '', qr{ method=GET uri=/auth orig=/app/x }, 'auth service saw the subrequest');

$r = req('/app/x');
expect_status($r, 401, 'no token, service says 401 with two challenges');
is(h($r, 'www-authenticate'), qq{Bearer realm="oauth2"\nBasic realm="sso", charset="UTF-8"},
    'no token, 401: every WWW-Authenticate of the service, in order, and nothing else');
unlike($r->{body}, qr/user=/, 'no token, 401: backend not reached');
is(hits($r), 1, 'no token: the auth service was asked');

$r = req('/app/x', headers => [Cookie => '_oauth2_proxy=one']);
expect_status($r, 401, 'service says 401 with one challenge');
is(h($r, 'www-authenticate'), 'Basic realm="single"', 'one challenge copied exactly');

$r = req('/app/x', headers => [Cookie => '_oauth2_proxy=denied']);
expect_status($r, 403, 'service says 403');
is(h($r, 'x-jwt-status'), 'fallback_denied', '403: $jwt_status fallback_denied');
is(h($r, 'www-authenticate'), undef, '403: no challenge');
unlike($r->{body}, qr/user=/, '403: backend not reached');

$r = req('/app/x', headers => [Cookie => '_oauth2_proxy=redirect']);
expect_status($r, 500, 'service says 302: 500 (auth_request semantics)');
is(h($r, 'location'), undef, '302 from the service: no Location to the client');
is(h($r, 'x-jwt-status'), 'error', '302 from the service: $jwt_status error');
is(hits($r), 1, '302: the auth service was asked');

$r = req('/app/x', headers => [Cookie => '_oauth2_proxy=broken']);
expect_status($r, 500, 'service says 500: 500');
unlike($r->{body}, qr/user=/, 'service 500: backend not reached');

$r = req('/app/x', headers => [Cookie => '_oauth2_proxy=nocontent']);
expect_ok($r, 'service says 204: allowed', qr{^user=carol email= status=fallback_ok cl= uri=/app/x$});

# --- opaque tokens (not JWT-shaped) fall back
$r = req('/app/x', headers => [Authorization => 'Bearer opaque-session-id']);
expect_ok($r, 'opaque bearer token, service allows',
    qr{^user=bob email=bob\@example.com status=fallback_ok cl= uri=/app/x$});
is(hits($r), 1, 'opaque bearer: decided by the auth service');

$r = req('/app/x', headers => [Authorization => 'Bearer opaque-denied']);
expect_status($r, 403, 'opaque bearer token, service denies');

$r = req('/app/x', headers => [Cookie => '_oauth2_proxy=Zm9v.YmFy.YmF6']);
expect_ok($r, 'two dots, first segment not base64url JSON: not JWT-shaped, falls back',
    qr{^user=bob email=bob\@example.com status=fallback_ok });
is(hits($r), 1, 'two-dot opaque value: decided by the auth service');

# --- JWT-shaped tokens that fail verification never fall back
for my $c (
    ['bad signature (bearer)',    [Authorization => "Bearer $bad"],             'bad_signature'],
    ['expired (bearer)',          [Authorization => "Bearer $expired"],         'expired'],
    ['empty signature (bearer)',  [Authorization => "Bearer $nosig"],           undef],
    ['alg none (bearer)',         [Authorization => "Bearer $none"],            undef],
    ['bad signature (cookie)',    [Cookie => "_oauth2_proxy=$bad"],             'bad_signature'],
    ['empty signature (cookie)',  [Cookie => "_oauth2_proxy=$nosig"],           undef],
    ['bad bearer + good session cookie', [Authorization => "Bearer $bad", Cookie => '_oauth2_proxy=good'], 'bad_signature'],
) {
    my ($name, $h, $reason) = @$c;
    my $r = req('/app/x', headers => $h);
    expect_invalid($r, 'app', undef, "JWT-shaped, $name: 401 from the module");
    is(h($r, 'x-jwt-status'), 'invalid', "JWT-shaped, $name: \$jwt_status invalid");
    is(h($r, 'x-jwt-reason'), $reason, "JWT-shaped, $name: \$jwt_reason") if defined $reason;
    is(hits($r), 0, "JWT-shaped, $name: no request to the auth service");
}
control_hit('after JWT-shaped failures');

# --- a valid JWT decides alone
$r = req('/app/x', headers => [Authorization => "Bearer $good"]);
expect_ok($r, 'valid JWT', qr{^user=alice email= status=ok cl= uri=/app/x$});
is(hits($r), 0, 'valid JWT: no request to the auth service');
$r = req('/app/x', headers => [Authorization => "Bearer $good", Cookie => '_oauth2_proxy=good']);
expect_ok($r, 'valid JWT + session cookie: the JWT decides, $user from the claim',
    qr{^user=alice email= status=ok });
is(hits($r), 0, 'valid JWT + session cookie: no request to the auth service');
$r = req('/app/x', headers => [Cookie => "_oauth2_proxy=$good"]);
expect_ok($r, 'valid JWT in the cookie', qr{^user=alice email= status=ok });
is(hits($r), 0, 'valid JWT in the cookie: no request to the auth service');
control_hit('after valid JWTs');

# --- request body is not passed to the auth service
my $body = 'b' x 5000;
$r = req('/app/post', method => 'POST', body => $body,
    headers => [Cookie => '_oauth2_proxy=good', 'Content-Type' => 'text/plain']);
expect_ok($r, 'POST with body, fallback allows', qr{^user=bob email=bob\@example.com status=fallback_ok cl=5000 uri=/app/post$});
my ($line) = svc_lines($r->{trace});
like($line // '', qr{ method=GET uri=/auth orig=/app/post len=\d+ cl="-" }, 'POST: auth service got a GET without Content-Length');
my ($len) = ($line // '') =~ / len=(\d+) /;
ok(defined $len && $len < 1000,
    'POST: auth service request length (' . ($len // 'none') . ') excludes the 5000-byte body');

$r = req('/app/post', method => 'POST', body => $body);
expect_status($r, 401, 'POST without credentials: 401 from the service');
($line) = svc_lines($r->{trace});
like($line // '', qr{ len=\d+ cl="-" }, 'POST 401: no Content-Length at the auth service');

# --- values survive internal redirects
$r = req('/e404/x', headers => [Cookie => '_oauth2_proxy=good']);
expect_status($r, 200, 'error_page 404 = /other/ after fallback');
is($r->{body}, "other user=bob email=bob\@example.com\n", 'error_page to a URI: fallback values survive');
is(hits($r), 1, 'error_page to a URI: one auth request');

$r = req('/n404/x', headers => [Cookie => '_oauth2_proxy=good']);
expect_status($r, 200, 'error_page 404 = @named after fallback');
is($r->{body}, "named user=bob email=bob\@example.com\n", 'error_page to a named location: fallback values survive');

$r = req('/e404/x', headers => [Authorization => "Bearer $good"]);
is($r->{body}, "other user=alice email=\n", 'error_page after a JWT decided: claim value survives');

$r = req('/g404/x', headers => [Cookie => '_oauth2_proxy=good']);
expect_ok($r, 'error_page into a gated location', qr{^user=bob email=bob\@example.com status=fallback_ok cl= uri=/gated/$});
$r = req('/g404/x');
expect_status($r, 401, 'no credentials, gated location with error_page');

# --- satisfy any
$r = req('/any-allow/x');
expect_ok($r, 'satisfy any + allow 127.0.0.1, no credentials');
is(h($r, 'www-authenticate'), undef, 'satisfy any + allow: no challenge on the 200');
$r = req('/any-allow/x', headers => [Cookie => '_oauth2_proxy=broken']);
expect_ok($r, 'satisfy any + allow 127.0.0.1, auth service broken: allow wins');
is(hits($r), 0, 'satisfy any + allow 127.0.0.1: no subrequest needed');

$r = req('/any-deny/x', headers => [Cookie => '_oauth2_proxy=good']);
expect_ok($r, 'satisfy any + deny all, fallback allows', qr{^user=bob email=bob\@example.com status=fallback_ok });
$r = req('/any-deny/x');
expect_status($r, 401, 'satisfy any + deny all, fallback 401');
is(h($r, 'www-authenticate'), qq{Bearer realm="oauth2"\nBasic realm="sso", charset="UTF-8"},
    'satisfy any + deny all: the service challenges');
$r = req('/any-deny/x', headers => [Cookie => '_oauth2_proxy=denied']);
expect_status($r, 403, 'satisfy any + deny all, fallback 403');
$r = req('/any-deny/x', headers => [Authorization => "Bearer $good"]);
expect_ok($r, 'satisfy any + deny all, valid JWT', qr{^user=alice });

# --- auth_jwt_rs_fallback off
$r = req('/nofb/x');
expect_missing($r, 'app', 'fallback off: no token is the module\'s 401');
is(hits($r), 0, 'fallback off: no request to the auth service');
$r = req('/nofb/x', headers => [Cookie => '_oauth2_proxy=good']);
expect_invalid($r, 'app', undef, 'fallback off: opaque cookie is an invalid token');
is(h($r, 'x-jwt-reason'), 'malformed', 'fallback off: opaque cookie is malformed');
is(hits($r), 0, 'fallback off, opaque cookie: no request to the auth service');
$r = req('/nofb/x', headers => [Authorization => "Bearer $good"]);
expect_ok($r, 'fallback off: valid JWT', qr{^user=alice });

$r = req('/outer/x', headers => [Cookie => '_oauth2_proxy=good']);
expect_ok($r, 'outer location inherits the fallback', qr{^user=bob });
$r = req('/outer/inner/x', headers => [Cookie => '_oauth2_proxy=good']);
expect_status($r, 401, 'nested location with fallback off');
is(hits($r), 0, 'nested fallback off: no request to the auth service');
control_hit('after fallback off');

$t->finish;

###############################################################################################
# nginx-conf/oauth2-proxy-fallback.conf itself, run end to end: oauth2-proxy on 127.0.0.1:4180 is
# replaced by a stand-in on %%PORT_3%%, the backend by an echo server on %%PORT_2%%.

my $t2 = AuthJwt::Test->new;
{
    my $ex = AuthJwt::Test::read_file_bytes("$AuthJwt::Test::ROOT/nginx-conf/oauth2-proxy-fallback.conf");
    $ex =~ s{^load_module [^;]+;}{load_module %%MODULE%%;\ndaemon on;\npid logs/nginx.pid;\nerror_log logs/error.log debug;}m
        or die 'example: no load_module';
    $ex = "user root;\n$ex" if $> == 0;
    $ex =~ s{listen 8080;}{listen 127.0.0.1:%%PORT_1%%;} or die 'example: no listen 8080';
    $ex =~ s{127\.0\.0\.1:4180}{127.0.0.1:%%PORT_3%%}g or die 'example: no oauth2-proxy';
    $ex =~ s{server 127\.0\.0\.1:9000;}{server 127.0.0.1:%%PORT_2%%;} or die 'example: no backend';
    $ex =~ s{jwt/jwks\.json}{%%KEYS%%/jwks.json}g or die 'example: no jwt/jwks.json';
    my $extra = <<'EOF3';
    server {
        listen 127.0.0.1:%%PORT_2%%;
        location / {
            return 200 "user=$http_x_user email=$http_x_email uri=$request_uri\n";
        }
    }
    server {
        listen 127.0.0.1:%%PORT_3%%;
        access_log logs/o2p.log;
        location = /oauth2/auth {
            if ($cookie__oauth2_proxy = good) {
                add_header X-Auth-Request-User bob always;
                add_header X-Auth-Request-Email bob@example.com always;
                add_header Set-Cookie "_oauth2_proxy=refreshed; Path=/; HttpOnly" always;
                return 202;
            }
            return 401;
        }
        location / {
            return 200 "oauth2-proxy $request_uri\n";
        }
    }
EOF3
    $ex =~ s/^http \{/http {\n$extra/m or die 'example: no http block';
    $t2->write_conf("%%NO_WRAP%%\n$ex");
}
$t2->run;

my $api = $t2->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1',
    claims => {sub => 'svc-1', email => 'svc@example.com', iss => 'https://login.example.com', aud => 'app-api'},
    exp_in => 300);
$r = $t2->get(1, '/x', Cookie => '_oauth2_proxy=good', Accept => 'text/html');
expect_ok($r, 'oauth2 example: browser with a session', qr{^user=bob email=bob\@example.com uri=/x$});
is(h($r, 'set-cookie'), '_oauth2_proxy=refreshed; Path=/; HttpOnly', 'oauth2 example: refreshed cookie passed on');
$r = $t2->get(1, '/x?a=1', Accept => 'text/html');
expect_status($r, 302, 'oauth2 example: browser without a session');
like(h($r, 'location') // '', qr{^http://localhost(?::\d+)?/oauth2/start\?rd=http%3A%2F%2Flocalhost%2Fx%3Fa%3D1$},
    'oauth2 example: sent to oauth2-proxy sign-in with the return URL');
$r = $t2->get(1, '/x', Authorization => "Bearer $api");
expect_ok($r, 'oauth2 example: machine client with a JWT', qr{^user=svc-1 email=svc\@example.com uri=/x$});
$r = $t2->get(1, '/x', Authorization => "Bearer $bad", Cookie => '_oauth2_proxy=good');
expect_status($r, 401, 'oauth2 example: JWT signed by another key, session cookie ignored');
like(h($r, 'www-authenticate') // '', qr/^Bearer realm="app", error="invalid_token", error_description="[^"]+"$/,
    'oauth2 example: invalid_token challenge kept through error_page');
$r = $t2->get(1, '/oauth2/sign_in');
expect_ok($r, 'oauth2 example: /oauth2/ is public', qr{^oauth2-proxy /oauth2/sign_in$});
$r = $t2->get(1, '/oauth2/auth', Cookie => '_oauth2_proxy=good');
expect_status($r, 404, 'oauth2 example: /oauth2/auth is internal');
$r = $t2->get(1, '/healthz');
expect_ok($r, 'oauth2 example: health check', qr{^ok$});

$t2->finish;
done_testing;
