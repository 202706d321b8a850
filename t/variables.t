#!/usr/bin/perl
# README "Variables": $jwt_claim_*, $jwt_header_*, $jwt_payload, auth_jwt_rs_claim_set/_header_set,
# $jwt_status/$jwt_reason, rendering, use in proxy_set_header/add_header/log_format/map/if, and
# control characters never exposed.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use JSON::PP;

my $t = AuthJwt::Test->new;
$t->write_conf(<<'EOF2');
http {
    auth_jwt_rs_claim_set $user sub;
    auth_jwt_rs_claim_set $email email;
    auth_jwt_rs_claim_set $role realm_access.roles;
    auth_jwt_rs_claim_set $ns /https:~1~1example.com~1roles;
    auth_jwt_rs_header_set $kid kid;

    map $jwt_claim_role $role_class {
        admin    is-admin;
        default  not-admin;
    }

    log_format jwt 'status=$jwt_status reason=$jwt_reason user=$user email=$email role=$role ns=$ns kid=$kid class=$role_class';

    %%BACKEND%%

    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_realm "vars";
        auth_jwt_rs_key_file %%KEYS%%/jwks.json;
        access_log logs/jwt.log jwt;
        large_client_header_buffers 4 64k;

        location /vars/ {
            add_header X-Status $jwt_status always;
            add_header X-Reason $jwt_reason always;
            add_header X-Sub $jwt_claim_sub always;
            add_header X-Email $jwt_claim_email always;
            add_header X-Num $jwt_claim_num always;
            add_header X-Float $jwt_claim_float always;
            add_header X-Flag $jwt_claim_flag always;
            add_header X-List $jwt_claim_list always;
            add_header X-Obj $jwt_claim_obj always;
            add_header X-Missing "[$jwt_claim_nope]" always;
            add_header X-Alg $jwt_header_alg always;
            add_header X-Kid $jwt_header_kid always;
            add_header X-Payload $jwt_payload always;
            add_header X-User $user always;
            add_header X-Role $role always;
            add_header X-Ns $ns always;
            add_header X-Kid2 $kid always;
            add_header X-Role-Class $role_class always;
            proxy_set_header X-User $user;
            proxy_set_header X-Email $email;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        location /if/ {
            set $adm "no";
            if ($jwt_claim_admin = "true") {
                set $adm "yes";
            }
            add_header X-Admin $adm always;
            proxy_set_header X-User $user;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        location /reasons/ {
            auth_jwt_rs_algorithms RS256 ES256;
            auth_jwt_rs_issuer https://idp.example;
            auth_jwt_rs_audience api;
            add_header X-Status $jwt_status always;
            add_header X-Reason $jwt_reason always;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2
$t->run;

my %claims = (
    sub   => 'alice',
    email => 'alice@example.com',
    num   => 42,
    float => 1.5,
    flag  => JSON::PP::true,
    list  => ['x', 'y', 'z'],
    obj   => {a => 1, b => [JSON::PP::true, undef]},
    role  => 'admin',
    realm_access => {roles => ['admin', 'user']},
    'https://example.com/roles' => ['reader', 'writer'],
    exp   => time + 300,
);
my $tok = $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1', claims => \%claims);
my $r = $t->get(1, '/vars/', Authorization => "Bearer $tok", 'X-User' => 'spoofed', 'X-Email' => 'spoofed');
expect_ok($r, 'all variables', qr/^user=alice email=alice\@example.com /);
my %want = (
    'x-status' => 'ok', 'x-reason' => undef,
    'x-sub' => 'alice', 'x-email' => 'alice@example.com', 'x-num' => '42', 'x-float' => '1.5',
    'x-flag' => 'true', 'x-list' => 'x,y,z', 'x-obj' => '{"a":1,"b":[true,null]}',
    'x-missing' => '[]', 'x-alg' => 'RS256', 'x-kid' => 'rsa1',
    'x-user' => 'alice', 'x-role' => 'admin,user', 'x-ns' => 'reader,writer', 'x-kid2' => 'rsa1',
    'x-role-class' => 'is-admin',
);
for my $h (sort keys %want) {
    is(h($r, $h), $want{$h}, "variable via add_header $h");
}
my $payload = eval { decode_json(h($r, 'x-payload') // '') };
is_deeply($payload, \%claims, '$jwt_payload is the claims set as JSON');
unlike(h($r, 'x-payload') // '', qr/\n|": /, '$jwt_payload is compact');

# spoofed identity header, token without sub/email
my $nosub = $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1', claims => {role => 'user'}, exp_in => 300);
$r = $t->get(1, '/vars/', Authorization => "Bearer $nosub", 'X-User' => 'admin', 'X-Email' => 'admin@example.com');
expect_ok($r, 'token without sub', qr/^user= email= /);
is(h($r, 'x-sub'), undef, 'missing claim: add_header not sent');
is(h($r, 'x-role-class'), 'not-admin', 'map on a claim');

# CR/LF in a claim
my $inj = $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1',
    claims => {sub => "bob\r\nX-Injected: 1", email => "e\x00\@x", list => ["a", "b\nc"]}, exp_in => 300);
my $before = length $t->error_log;
$r = $t->get(1, '/vars/', Authorization => "Bearer $inj");
expect_ok($r, 'claim with CR/LF: request proceeds', qr/^user= email= authz=Bearer \S+ injected= /);
is(h($r, 'x-sub'), undef, 'CR/LF claim not exposed via $jwt_claim_sub');
is(h($r, 'x-user'), undef, 'CR/LF claim not exposed via $user');
is(h($r, 'x-injected'), undef, 'no injected response header');
is(h($r, 'x-email'), undef, 'NUL claim not exposed');
is(h($r, 'x-list'), undef, 'array with a LF element not exposed');
like(h($r, 'x-payload') // '', qr/^\{.*\\r\\n.*\}$/, '$jwt_payload keeps CR/LF escaped (compact JSON)');
my $newlog = substr($t->error_log, $before);
like($newlog, qr/\[info\][^\n]*control/i, 'error.log: info line about the control character');

# variables after a failed/missing token are empty
$r = $t->get(1, '/vars/', 'X-User' => 'spoofed');
expect_missing($r, 'vars', 'no token');
is(h($r, 'x-sub'), undef, 'no token: no claims');
$r = $t->get(1, '/vars/', Authorization => 'Bearer ' . $t->mint(alg => 'RS256', key => 'rsa2.key', kid => 'rsa1', claims => \%claims));
expect_invalid($r, 'vars', 'bad_signature', 'bad signature');
is(h($r, 'x-sub'), undef, 'bad signature: claims not exposed');
is(h($r, 'x-alg'), undef, 'bad signature: header fields not exposed');

# if ($jwt_claim_admin = "true"), evaluated in the rewrite phase
for ([JSON::PP::true, 'yes'], [JSON::PP::false, 'no'], ['true', 'yes'], [undef, 'no']) {
    my ($v, $want) = @$_;
    my %c = (sub => 'alice', exp => time + 300);
    $c{admin} = $v if defined $v;
    $r = $t->get(1, '/if/', Authorization => 'Bearer ' . $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1', claims => \%c));
    expect_ok($r, "if: admin=" . ($v // 'absent'), qr/^user=alice /);
    is(h($r, 'x-admin'), $want, "if: admin=" . ($v // 'absent') . " -> $want");
}
$r = $t->get(1, '/if/', Authorization => 'Bearer ' . $t->mint(alg => 'RS256', key => 'rsa2.key', kid => 'rsa1',
    claims => {sub => 'x', admin => JSON::PP::true, exp => time + 300}));
expect_status($r, 401, 'if: forged admin token');
is(h($r, 'x-admin'), 'no', 'if: forged admin claim not seen');

# $jwt_status / $jwt_reason
my %c = (sub => 'a', iss => 'https://idp.example', aud => 'api');
my sub rs { my (%a) = @_; my $claims = delete $a{claims}; $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1', claims => $claims, %a) }
my @cases = (
    [ok              => 200, rs(claims => {%c, exp => time + 300})],
    [missing         => 401, undef],
    [malformed       => 401, 'abc.def'],
    [bad_signature   => 401, $t->mint(alg => 'RS256', key => 'rsa2.key', kid => 'rsa1', claims => {%c, exp => time + 300})],
    [expired         => 401, rs(claims => {%c, exp => time - 10})],
    [not_yet_valid   => 401, rs(claims => {%c, exp => time + 300, nbf => time + 100})],
    [iat_future      => 401, rs(claims => {%c, exp => time + 300, iat => time + 100})],
    [missing_exp     => 401, rs(claims => {%c})],
    [bad_time_claim  => 401, rs(claims => {%c, exp => 'tomorrow'})],
    [issuer          => 401, rs(claims => {%c, iss => 'https://evil.example', exp => time + 300})],
    [audience        => 401, rs(claims => {%c, aud => 'other', exp => time + 300})],
    [alg_not_allowed => 401, $t->mint(alg => 'RS384', key => 'rsa.key', kid => 'rsa1', claims => {%c, exp => time + 300})],
    [unknown_kid     => 401, $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'nope', claims => {%c, exp => time + 300})],
    [crit            => 401, $t->mint(alg => 'RS256', key => 'rsa.key', header => '{"alg":"RS256","kid":"rsa1","crit":["zip"],"zip":"x"}', claims => {%c, exp => time + 300})],
    [too_large       => 401, rs(claims => {%c, exp => time + 300, pad => 'p' x 20000})],
);
for my $case (@cases) {
    my ($reason, $status, $token) = @$case;
    AuthJwt::Test::track_token($token) if defined $token;
    $r = $t->get(1, '/reasons/', defined $token ? (Authorization => "Bearer $token") : ());
    expect_status($r, $status, "reason $reason");
    my $st = $reason eq 'ok' ? 'ok' : $reason eq 'missing' ? 'missing' : 'invalid';
    is(h($r, 'x-status'), $st, "reason $reason: \$jwt_status = $st");
    is(h($r, 'x-reason'), $reason eq 'ok' ? undef : $reason, "reason $reason: \$jwt_reason");
}

$t->finish;

# log_format + access_log
my $log = $t->read_file('logs/jwt.log');
like($log, qr/^status=ok reason=-? user=alice email=alice\@example\.com role=admin,user ns=reader,writer kid=rsa1 class=is-admin$/m,
    'access_log: variables in log_format');
like($log, qr/^status=missing reason=missing user=-? /m, 'access_log: missing');
like($log, qr/^status=invalid reason=bad_signature user=-? /m, 'access_log: invalid');
unlike($log, qr/X-Injected/, 'access_log: no CR/LF claim');

done_testing;
