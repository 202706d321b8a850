#!/usr/bin/perl
# README "auth_jwt_rs_verify": auth_jwt_rs_verify as the target of nginx's auth_request (the
# drop-in for `location = /auth/verify { internal; ... }`), identity through auth_request_set,
# challenges copied by auth_request, and the same location used publicly as a forward-auth
# endpoint (Traefik forwardAuth, another nginx via proxy_pass). The endpoint answers 204, 401 or
# 403 and never anything else, for every failure class.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);

# An echo backend on %%PORT_2%% that shows what the protected request carried.
my $BACKEND = <<'EOF2';
    server {
        listen 127.0.0.1:%%PORT_2%%;
        location / {
            return 200 "user=$http_x_user status=$http_x_jwt_status reason=$http_x_jwt_reason cl=$content_length method=$request_method uri=$request_uri\n";
        }
    }
EOF2

###############################################################################################
# Part A: the drop-in pattern, `auth_request_set $user $jwt_claim_sub;`

my $t = AuthJwt::Test->new;
$t->write_conf(<<"EOF2");
http {
$BACKEND
    server {
        listen 127.0.0.1:%%PORT_1%%;
        large_client_header_buffers 4 64k;

        auth_jwt_rs_realm "verify";
        auth_jwt_rs_key_file %%KEYS%%/jwks.json;
        auth_jwt_rs_algorithms RS256 ES256;
        auth_jwt_rs_issuer https://idp.example;
        auth_jwt_rs_audience api;

        location = /auth/verify {
            internal;
            auth_jwt_rs_verify;
        }
        location = /auth/verify-admin {
            internal;
            auth_jwt_rs_verify;
            auth_jwt_rs_require_claim role eq admin;
        }

        location / {
            auth_request /auth/verify;
            auth_request_set \$user \$jwt_claim_sub;
            auth_request_set \$vstatus \$jwt_status;
            auth_request_set \$vreason \$jwt_reason;
            add_header X-Reason \$vreason always;
            proxy_set_header X-User \$user;
            proxy_set_header X-Jwt-Status \$vstatus;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /admin/ {
            auth_request /auth/verify-admin;
            auth_request_set \$user \$jwt_claim_sub;
            proxy_set_header X-User \$user;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        # The same endpoint, public: a forward-auth target for other proxies.
        location = /verify {
            auth_jwt_rs_verify;
            add_header X-User \$jwt_claim_sub;
            add_header X-Status \$jwt_status always;
            add_header X-Reason \$jwt_reason always;
        }
        location = /verify-admin {
            auth_jwt_rs_verify;
            auth_jwt_rs_require_claim role eq admin;
            add_header X-User \$jwt_claim_sub;
            add_header X-Status \$jwt_status always;
            add_header X-Reason \$jwt_reason always;
        }
    }

    # Another nginx using the public endpoint through proxy_pass (forward auth).
    server {
        listen 127.0.0.1:%%PORT_3%%;
        location / {
            auth_request /_fa;
            auth_request_set \$fa_user \$upstream_http_x_user;
            proxy_set_header X-User \$fa_user;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /admin/ {
            auth_request /_fa_admin;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location = /_fa {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_1%%/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI \$request_uri;
        }
        location = /_fa_admin {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_1%%/verify-admin;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
    }
}
EOF2
$t->run;

my $now = time;
my %base = (sub => 'alice', iss => 'https://idp.example', aud => 'api', role => 'user');
# exp defaults to now + 300 (a claim given here overrides it)
sub rs { my (%c) = @_; $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1', claims => {%base, exp => int($now) + 300, %c}) }

my $good  = rs();
my $admin = rs(sub => 'root', role => 'admin');
my $es    = $t->mint(alg => 'ES256', key => 'ec256.key', kid => 'ec1', claims => {%base, sub => 'eve'}, exp_in => 300);
my $CHAL_MISSING = 'Bearer realm="verify"';
my $CHAL_INVALID = qr/^Bearer realm="verify", error="invalid_token", error_description="[^"\\]+"$/;
my $CHAL_SCOPE   = qr/^Bearer realm="verify", error="insufficient_scope"(?:, error_description="[^"\\]+")?$/;

# --- valid token through auth_request
my $r = $t->get(1, '/app/x', Authorization => "Bearer $good");
expect_ok($r, 'auth_request, valid RS256 token');
is($r->{body}, "user=alice status=ok reason= cl= method=GET uri=/app/x\n",
    'auth_request_set $user $jwt_claim_sub reaches the backend (and $jwt_status = ok)');

$r = $t->get(1, '/app/es', Authorization => "Bearer $es");
expect_ok($r, 'auth_request, valid ES256 token', qr/^user=eve status=ok /);

$r = $t->request(port => 1, method => 'POST', path => '/app/post', body => 'x' x 3000,
    headers => [Authorization => "Bearer $good", 'Content-Type' => 'text/plain']);
expect_ok($r, 'auth_request, POST with body and valid token',
    qr/^user=alice status=ok reason= cl=3000 method=POST uri=\/app\/post$/);

$r = $t->request(port => 1, method => 'HEAD', path => '/app/head', headers => [Authorization => "Bearer $good"]);
expect_status($r, 200, 'auth_request, HEAD with valid token');

# --- no token: 401 with exactly our challenge, copied by auth_request
$r = $t->get(1, '/app/x');
expect_status($r, 401, 'auth_request, no token');
is(h($r, 'www-authenticate'), $CHAL_MISSING, 'auth_request, no token: challenge copied exactly');
is(h($r, 'x-reason'), 'missing', 'auth_request, no token: $jwt_reason evaluated in the subrequest');
unlike($r->{body}, qr/user=/, 'auth_request, no token: backend not reached');

$r = $t->get(1, '/app/x', Authorization => 'Basic YWxpY2U6c2VjcmV0');
expect_status($r, 401, 'auth_request, Basic credentials only');
is(h($r, 'www-authenticate'), $CHAL_MISSING, 'auth_request, Basic credentials: bare challenge');

# --- invalid token: 401 invalid_token
my $bad = $t->mint(alg => 'RS256', key => 'rsa2.key', kid => 'rsa1', claims => {%base}, exp_in => 300);
$r = $t->get(1, '/app/x', Authorization => "Bearer $bad");
expect_status($r, 401, 'auth_request, bad signature');
like(h($r, 'www-authenticate') // '', $CHAL_INVALID, 'auth_request, bad signature: invalid_token challenge');
is(h($r, 'x-reason'), 'bad_signature', 'auth_request, bad signature: $jwt_reason');
unlike($r->{body}, qr/user=/, 'auth_request, bad signature: backend not reached');

# --- failing rule: 403 (auth_request itself sends no challenge with a 403)
$r = $t->get(1, '/admin/x', Authorization => "Bearer $good");
expect_status($r, 403, 'auth_request, rule fails');
unlike($r->{body}, qr/user=/, 'auth_request, rule fails: backend not reached');
$r = $t->get(1, '/admin/x', Authorization => "Bearer $admin");
expect_ok($r, 'auth_request, rule passes', qr/^user=root /);
$r = $t->get(1, '/admin/x');
expect_status($r, 401, 'auth_request, rule location, no token');
is(h($r, 'www-authenticate'), $CHAL_MISSING, 'auth_request, rule location, no token: challenge');

# --- the internal location is not reachable directly
$r = $t->get(1, '/auth/verify', Authorization => "Bearer $good");
expect_status($r, 404, 'internal verify location is not public');

# --- every failure class: never 2xx, never 400/500, from the subrequest or directly
my $h64 = sub { b64url($_[0]) };
my $claims_ok = AuthJwt::Test->json({%base, exp => int($now) + 300});
my ($gh, $gp, $gs) = split /\./, $good;
my $big = rs(pad => 'A' x 17000);
my $tampered = join '.', $gh, b64url(AuthJwt::Test->json({%base, sub => 'admin', exp => int($now) + 300})), $gs;
my $none1 = $h64->('{"alg":"none","typ":"JWT"}') . '.' . $h64->($claims_ok) . '.';
my $none2 = $h64->('{"alg":"none","kid":"rsa1"}') . '.' . $h64->($claims_ok) . '.' . $gs;
my $none3 = $h64->('{"alg":"None","kid":"rsa1"}') . '.' . $h64->($claims_ok) . '.';
my $hs = hs_token('HS256', $t->secret('hs.secret'), '{"alg":"HS256","typ":"JWT","kid":"rsa1"}', $claims_ok);
my $rs384 = $t->mint(alg => 'RS384', key => 'rsa.key', kid => 'rsa1', claims => {%base}, exp_in => 300);
my $es_as_rsa = $t->mint(alg => 'ES256', key => 'ec256.key', kid => 'rsa1', claims => {%base}, exp_in => 300);
my $crit = $t->mint(alg => 'RS256', key => 'rsa.key',
    header => '{"alg":"RS256","typ":"JWT","kid":"rsa1","crit":["x-ext"],"x-ext":1}',
    claims => {%base}, exp_in => 300);
my $notjson_payload = $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1', claims => 'not json');
my $array_payload = $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1', claims => '["a"]');
for ($tampered, $none1, $none2, $none3, $big) { AuthJwt::Test::track_token($_) }

# [name, Authorization value or undef, expected status, expected $jwt_reason or undef]
my @cases = (
    ['missing',                 undef,                                   401, 'missing'],
    ['empty bearer',            'Bearer ',                               401, 'missing'],
    ['malformed: opaque',       'Bearer not-a-jwt',                      401, 'malformed'],
    ['malformed: a.b.c',        'Bearer a.b.c',                          401, 'malformed'],
    ['malformed: two dots only','Bearer ..',                             401, 'malformed'],
    ['malformed: two segments', "Bearer $gh.$gp",                        401, 'malformed'],
    ['malformed: four segments',"Bearer $good.$gs",                      401, 'malformed'],
    ['malformed: header not JSON', 'Bearer ' . $h64->('not json') . ".$gp.$gs", 401, 'malformed'],
    ['malformed: header JSON array', 'Bearer ' . $h64->('["RS256"]') . ".$gp.$gs", 401, 'malformed'],
    ['malformed: empty payload', "Bearer $gh..$gs",                      401, 'malformed'],
    ['malformed: signature not base64url', "Bearer $gh.$gp.!!!*",        401, 'malformed'],
    ['malformed: payload not JSON', "Bearer $notjson_payload",           401, 'malformed'],
    ['malformed: payload JSON array', "Bearer $array_payload",           401, 'malformed'],
    ['bad signature (other key)', "Bearer $bad",                         401, 'bad_signature'],
    ['bad signature (tampered payload)', "Bearer $tampered",             401, 'bad_signature'],
    ['unknown kid',             'Bearer ' . $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'nope',
                                    claims => {%base}, exp_in => 300), 401, 'unknown_kid'],
    ['disallowed alg HS256',    "Bearer $hs",                            401, 'alg_not_allowed'],
    ['disallowed alg RS384',    "Bearer $rs384",                         401, 'alg_not_allowed'],
    ['ES256 token naming an RSA kid', "Bearer $es_as_rsa",               401, undef],
    ['alg none, empty signature', "Bearer $none1",                       401, undef],
    ['alg none with kid and signature', "Bearer $none2",                 401, undef],
    ['alg None (case variant)', "Bearer $none3",                         401, undef],
    ['expired',                 'Bearer ' . rs(exp => int($now) - 120),  401, 'expired'],
    ['not yet valid',           'Bearer ' . rs(nbf => int($now) + 3600), 401, 'not_yet_valid'],
    ['iat in the future',       'Bearer ' . rs(iat => int($now) + 3600), 401, 'iat_future'],
    ['wrong iss',               'Bearer ' . rs(iss => 'https://evil.example'), 401, 'issuer'],
    ['wrong aud',               'Bearer ' . rs(aud => 'other'),          401, 'audience'],
    ['missing exp',             'Bearer ' . $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1',
                                    claims => {%base}),                  401, 'missing_exp'],
    ['crit header',             "Bearer $crit",                          401, 'crit'],
    ['too large token',         "Bearer $big",                           401, 'too_large'],
);

for my $c (@cases) {
    my ($name, $authz, $code, $reason) = @$c;
    my @h = defined $authz ? (Authorization => $authz) : ();
    my $want_chal = $reason && $reason eq 'missing' ? $CHAL_MISSING : undef;

    # through auth_request (subrequest)
    my $r = $t->get(1, '/app/x', @h);
    ok(defined $r->{status} && $r->{status} !~ /^2/ && $r->{status} != 400 && $r->{status} != 500,
        "$name via auth_request: not 2xx/400/500") or diag("got $r->{status}");
    expect_status($r, $code, "$name via auth_request");
    if (defined $want_chal) {
        is(h($r, 'www-authenticate'), $want_chal, "$name via auth_request: bare challenge");
    } else {
        like(h($r, 'www-authenticate') // '', $CHAL_INVALID, "$name via auth_request: invalid_token challenge");
    }
    is(h($r, 'x-reason'), $reason, "$name via auth_request: \$jwt_reason") if defined $reason;
    unlike($r->{body} // '', qr/user=/, "$name via auth_request: backend not reached");

    # directly (forward auth)
    $r = $t->get(1, '/verify', @h);
    ok(defined $r->{status} && $r->{status} !~ /^2/ && $r->{status} != 400 && $r->{status} != 500,
        "$name direct: not 2xx/400/500") or diag("got $r->{status}");
    expect_status($r, $code, "$name direct");
    if (defined $want_chal) {
        is(h($r, 'www-authenticate'), $want_chal, "$name direct: bare challenge");
        is(h($r, 'x-status'), 'missing', "$name direct: \$jwt_status");
    } else {
        like(h($r, 'www-authenticate') // '', $CHAL_INVALID, "$name direct: invalid_token challenge");
        is(h($r, 'x-status'), 'invalid', "$name direct: \$jwt_status");
    }
    is(h($r, 'x-reason'), $reason, "$name direct: \$jwt_reason") if defined $reason;
    is(h($r, 'x-user'), undef, "$name direct: no identity header");
}

# failed rule: 403, never 2xx, in both modes
$r = $t->get(1, '/verify-admin', Authorization => "Bearer $good");
expect_status($r, 403, 'failed rule direct');
like(h($r, 'www-authenticate') // '', $CHAL_SCOPE, 'failed rule direct: insufficient_scope challenge');
is(h($r, 'x-status'), 'forbidden', 'failed rule direct: $jwt_status');
is(h($r, 'x-user'), undef, 'failed rule direct: no identity header');
$r = $t->get(1, '/admin/x', Authorization => "Bearer $bad");
expect_status($r, 401, 'rule location, invalid token via auth_request: 401 before rules');

# --- forward-auth endpoint hit directly: 204 + identity
$r = $t->get(1, '/verify', Authorization => "Bearer $good");
expect_status($r, 204, 'forward auth, valid token');
is(h($r, 'x-user'), 'alice', 'forward auth: X-User carries identity');
is(h($r, 'x-status'), 'ok', 'forward auth: $jwt_status ok');
is(h($r, 'www-authenticate'), undef, 'forward auth: no challenge on 204');
is($r->{body}, '', 'forward auth: 204 has no body');

$r = $t->get(1, '/verify-admin', Authorization => "Bearer $admin");
expect_status($r, 204, 'forward auth with rule, admin token');
is(h($r, 'x-user'), 'root', 'forward auth with rule: identity');

$r = $t->request(port => 1, method => 'HEAD', path => '/verify', headers => [Authorization => "Bearer $good"]);
expect_status($r, 204, 'forward auth, HEAD');

$r = $t->request(port => 1, method => 'POST', path => '/verify', body => 'a=1&' x 2000,
    headers => [Authorization => "Bearer $good", 'Content-Type' => 'application/x-www-form-urlencoded']);
expect_status($r, 204, 'forward auth, POST with a body');
is(h($r, 'x-user'), 'alice', 'forward auth, POST with a body: identity');

$r = $t->request(port => 1, method => 'POST', path => '/verify', body => 'a=1');
expect_status($r, 401, 'forward auth, POST with a body, no token');
is(h($r, 'www-authenticate'), $CHAL_MISSING, 'forward auth, POST without token: challenge');

# The body is discarded, not left on the connection: a pipelined request after a POST with a
# body is answered as its own request.
sub raw_exchange {
    my ($port, $data, $want) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Proto => 'tcp', Timeout => 10)
        or die "connect: $!";
    binmode $s;
    print $s $data;
    my ($raw, $sel, $deadline) = ('', IO::Select->new($s), time + 10);
    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread($s, my $buf, 65536);
        last if !$n;
        $raw .= $buf;
    }
    close $s;
    return $raw;
}
{
    my $body = "GET /verify HTTP/1.1\r\nHost: evil\r\n\r\n";    # would be a request if not discarded
    my $req = "POST /verify HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $good\r\n"
        . "Content-Type: text/plain\r\nContent-Length: " . length($body) . "\r\n\r\n$body"
        . "GET /verify HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    my $raw = raw_exchange($t->port(1), $req);
    my @st = $raw =~ m{^HTTP/1\.1 (\d{3})}mg;
    is("@st", '204 401', 'POST body discarded: pipelined requests answered 204 then 401')
        or diag(substr($raw, 0, 1500));
}

# --- another nginx using the endpoint through proxy_pass
$r = $t->get(3, '/front/x', Authorization => "Bearer $good");
expect_ok($r, 'nginx front via proxy_pass, valid token', qr/^user=alice status= reason= cl= method=GET uri=\/front\/x$/);
$r = $t->get(3, '/front/x');
expect_status($r, 401, 'nginx front, no token');
is(h($r, 'www-authenticate'), $CHAL_MISSING, 'nginx front, no token: challenge passed through');
$r = $t->get(3, '/front/x', Authorization => "Bearer $bad");
expect_status($r, 401, 'nginx front, bad token');
like(h($r, 'www-authenticate') // '', $CHAL_INVALID, 'nginx front, bad token: invalid_token challenge');
$r = $t->get(3, '/admin/x', Authorization => "Bearer $good");
expect_status($r, 403, 'nginx front, failed rule');
$r = $t->get(3, '/admin/x', Authorization => "Bearer $admin");
expect_ok($r, 'nginx front, rule passes', qr/^user= /);
$r = $t->request(port => 3, method => 'POST', path => '/front/p', body => 'z' x 5000,
    headers => [Authorization => "Bearer $good"]);
expect_ok($r, 'nginx front, POST with body', qr/^user=alice status= reason= cl=5000 method=POST /);

$t->finish;

###############################################################################################
# Part B: `auth_jwt_rs_claim_set $user sub;` + `auth_request_set $user $user;`, and forward auth
# with `add_header X-User $user;`

my $t2 = AuthJwt::Test->new;
$t2->write_conf(<<"EOF2");
http {
    auth_jwt_rs_claim_set \$user sub;
    auth_jwt_rs_claim_set \$email email;
$BACKEND
    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs_realm "verify";
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;

        location = /auth/verify {
            internal;
            auth_jwt_rs_verify;
        }
        location / {
            auth_request /auth/verify;
            auth_request_set \$user \$user;
            proxy_set_header X-User \$user;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /c/ {
            auth_request /auth/verify;
            auth_request_set \$cuser \$user;
            proxy_set_header X-User \$cuser;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location = /verify {
            auth_jwt_rs_verify;
            add_header X-User \$user;
            add_header X-Email \$email;
        }
    }
}
EOF2
$t2->run;

my $tok = $t2->mint(alg => 'RS256', key => 'rsa.key', claims => {sub => 'bob', email => 'bob@example.com'}, exp_in => 300);
$r = $t2->get(1, '/b/x', Authorization => "Bearer $tok");
expect_ok($r, 'claim_set + auth_request_set $user $user, valid token');
is($r->{body}, "user=bob status= reason= cl= method=GET uri=/b/x\n",
    'auth_request_set $user $user (with auth_jwt_rs_claim_set $user sub): identity at the backend');
$r = $t2->get(1, '/c/x', Authorization => "Bearer $tok");
expect_ok($r, 'auth_request_set $cuser $user (claim_set variable into a plain one)',
    qr{^user=bob status= reason= cl= method=GET uri=/c/x$});
$r = $t2->get(1, '/b/x');
expect_status($r, 401, 'claim_set variant, no token');
is(h($r, 'www-authenticate'), $CHAL_MISSING, 'claim_set variant, no token: challenge copied');
$r = $t2->get(1, '/b/x', Authorization => 'Bearer x.y.z');
expect_status($r, 401, 'claim_set variant, malformed');
like(h($r, 'www-authenticate') // '', $CHAL_INVALID, 'claim_set variant, malformed: invalid_token');

$r = $t2->get(1, '/verify', Authorization => "Bearer $tok");
expect_status($r, 204, 'forward auth with add_header X-User $user');
is(h($r, 'x-user'), 'bob', 'forward auth: X-User from auth_jwt_rs_claim_set');
is(h($r, 'x-email'), 'bob@example.com', 'forward auth: X-Email from auth_jwt_rs_claim_set');
$r = $t2->get(1, '/verify');
expect_status($r, 401, 'forward auth (claim_set), no token');
is(h($r, 'x-user'), undef, 'forward auth (claim_set), no token: no X-User');

$t2->finish;

###############################################################################################
# Part C: nginx-conf/auth-request-dropin.conf itself, run end to end (listen port, upstream,
# module and key paths substituted).

my $t3 = AuthJwt::Test->new;
{
    my $ex = AuthJwt::Test::read_file_bytes("$AuthJwt::Test::ROOT/nginx-conf/auth-request-dropin.conf");
    $ex =~ s{^load_module [^;]+;}{load_module %%MODULE%%;\ndaemon on;\npid logs/nginx.pid;\nerror_log logs/error.log debug;}m
        or die 'example: no load_module';
    $ex = "user root;\n$ex" if $> == 0;
    $ex =~ s{listen 8080;}{listen 127.0.0.1:%%PORT_1%%;} or die 'example: no listen 8080';
    $ex =~ s{server 127\.0\.0\.1:9000;}{server 127.0.0.1:%%PORT_2%%;} or die 'example: no backend';
    $ex =~ s{jwt/jwks\.json}{%%KEYS%%/jwks.json}g or die 'example: no jwt/jwks.json';
    $ex =~ s/^http \{/http {\n$BACKEND/m or die 'example: no http block';
    $t3->write_conf("%%NO_WRAP%%\n$ex");
}
$t3->run;
%base = (iss => 'https://issuer.example.com', aud => 'app');
my $ex_user = $t3->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1',
    claims => {%base, sub => 'dana', email => 'dana@example.com', roles => ['user']}, exp_in => 300);
my $ex_admin = $t3->mint(alg => 'ES256', key => 'ec256.key', kid => 'ec1',
    claims => {%base, sub => 'root', roles => ['user', 'admin']}, exp_in => 300);
my $CHAL_APP = 'Bearer realm="app"';

$r = $t3->get(1, '/x', Authorization => "Bearer $ex_user");
expect_ok($r, 'dropin example: valid token');
like($r->{body}, qr{^user=dana }, 'dropin example: identity at the backend');
$r = $t3->get(1, '/x');
expect_status($r, 401, 'dropin example: no token');
is(h($r, 'www-authenticate'), $CHAL_APP, 'dropin example: challenge copied');
$r = $t3->get(1, '/x', Authorization => "Bearer $bad");
expect_status($r, 401, 'dropin example: token signed by another key');
$r = $t3->get(1, '/admin/x', Authorization => "Bearer $ex_user");
expect_status($r, 403, 'dropin example: admin area without the admin role');
$r = $t3->get(1, '/admin/x', Authorization => "Bearer $ex_admin");
expect_ok($r, 'dropin example: admin area with the admin role', qr{^user=root });
$r = $t3->get(1, '/forward-auth', Authorization => "Bearer $ex_user");
expect_status($r, 204, 'dropin example: forward-auth endpoint');
is(h($r, 'x-user'), 'dana', 'dropin example: forward-auth X-User');
is(h($r, 'x-email'), 'dana@example.com', 'dropin example: forward-auth X-Email');
$r = $t3->get(1, '/forward-auth');
expect_status($r, 401, 'dropin example: forward-auth without token');
is(h($r, 'www-authenticate'), $CHAL_APP, 'dropin example: forward-auth challenge');
$r = $t3->get(1, '/auth/verify', Authorization => "Bearer $ex_user");
expect_status($r, 404, 'dropin example: /auth/verify is internal');

$t3->finish;
done_testing;
