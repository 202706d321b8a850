#!/usr/bin/perl
# README "Authorization rules": auth_jwt_rs_require (NGINX Plus semantics, with map on the
# module's own variables and on others), auth_jwt_rs_require_claim with every operator on
# top-level claims, dotted paths and RFC 6901 pointers, typed comparison, 403 / error=401
# answers and their challenges, $jwt_status / $jwt_reason, rule inheritance, and configuration
# errors.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use JSON::PP;

my $t = AuthJwt::Test->new;
my $T = JSON::PP::true;
my $F = JSON::PP::false;

###############################################################################################
# auth_jwt_rs_require_claim: one location per case. Each case: [name, [directive args ...],
# [[label, claims (hashref, or raw JSON with %%EXP%%), 1 = allowed / 0 = 403], ...]].

my @OPS = (
    ['eq-string', ['sub eq alice'], [
        ['sub "alice"',         {sub => 'alice'},  1],
        ['sub "bob"',           {sub => 'bob'},    0],
        ['sub "Alice" (case)',  {sub => 'Alice'},  0],
        ['sub "alice2"',        {sub => 'alice2'}, 0],
        ['sub ["alice"] array', {sub => ['alice']}, 0],
        ['sub missing',         {iss => 'x'},      0],
    ]],
    ['eq-number', ['num eq 42'], [
        ['num 42',            {num => 42},  1],
        ['num 42.0 (JSON)',   '{"num":42.0,"exp":%%EXP%%}', 1],
        ['num 43',            {num => 43},  0],
        ['num 420',           {num => 420}, 0],
        ['num 4.2',           {num => 4.2}, 0],
        ['num missing',       {other => 42}, 0],
    ]],
    ['eq-bool', ['admin eq true'], [
        ['admin true',        {admin => $T}, 1],
        ['admin false',       {admin => $F}, 0],
        ['admin 1 (number)',  {admin => 1},  0],
        ['admin null',        '{"admin":null,"exp":%%EXP%%}', 0],
        ['admin missing',     {sub => 'a'},  0],
    ]],
    ['eq-false', ['verified eq false'], [
        ['verified false',    {verified => $F}, 1],
        ['verified true',     {verified => $T}, 0],
        ['verified missing',  {sub => 'a'},     0],
    ]],
    ['ne', ['sub ne mallory'], [
        ['sub "alice"',       {sub => 'alice'},   1],
        ['sub "mallory"',     {sub => 'mallory'}, 0],
        ['sub missing (ne passes)', {iss => 'x'}, 1],
    ]],
    ['ne-number', ['level ne 0'], [
        ['level 3',           {level => 3}, 1],
        ['level 0',           {level => 0}, 0],
        ['level missing',     {sub => 'a'}, 1],
    ]],
    ['in', ['role in admin editor'], [
        ['role "admin"',      {role => 'admin'},  1],
        ['role "editor"',     {role => 'editor'}, 1],
        ['role "viewer"',     {role => 'viewer'}, 0],
        ['role "admin editor"', {role => 'admin editor'}, 0],
        ['role ["admin"] (array, not scalar)', {role => ['admin']}, 0],
        ['role missing',      {sub => 'a'},       0],
    ]],
    ['in-number', ['tier in 1 2 3'], [
        ['tier 2',            {tier => 2},  1],
        ['tier 4',            {tier => 4},  0],
        ['tier missing',      {sub => 'a'}, 0],
    ]],
    ['has-scope', ['scope has read write'], [
        ['scope "read write"',                 {scope => 'read write'}, 1],
        ['scope "openid write profile read"',  {scope => 'openid write profile read'}, 1],
        ['scope "read"',                       {scope => 'read'}, 0],
        ['scope "read writer"',                {scope => 'read writer'}, 0],
        ['scope "readwrite"',                  {scope => 'readwrite'}, 0],
        ['scope missing',                      {sub => 'a'}, 0],
    ]],
    ['has_any-scope', ['scope has_any admin write'], [
        ['scope "openid write"',   {scope => 'openid write'}, 1],
        ['scope "admin"',          {scope => 'admin'}, 1],
        ['scope "read openid"',    {scope => 'read openid'}, 0],
        ['scope "administrator"',  {scope => 'administrator'}, 0],
        ['scope missing',          {sub => 'a'}, 0],
    ]],
    ['has-array', ['roles has editor publisher'], [
        ['roles [viewer editor publisher]', {roles => [qw(viewer editor publisher)]}, 1],
        ['roles [editor]',                  {roles => ['editor']}, 0],
        ['roles []',                        {roles => []}, 0],
        ['roles missing',                   {sub => 'a'}, 0],
    ]],
    ['has_any-array', ['roles has_any admin editor'], [
        ['roles [viewer editor]', {roles => [qw(viewer editor)]}, 1],
        ['roles [viewer]',        {roles => ['viewer']}, 0],
        ['roles missing',         {sub => 'a'}, 0],
    ]],
    ['nested', ['realm_access.roles has admin'], [
        ['realm_access.roles [user admin]', {realm_access => {roles => [qw(user admin)]}}, 1],
        ['realm_access.roles [user]',       {realm_access => {roles => ['user']}}, 0],
        ['top-level claim named "realm_access.roles"', {'realm_access.roles' => ['admin']}, 0],
        ['realm_access without roles',      {realm_access => {groups => ['admin']}}, 0],
        ['realm_access missing',            {sub => 'a'}, 0],
    ]],
    ['nested-deep', ['org.unit.name eq platform'], [
        ['org.unit.name "platform"', {org => {unit => {name => 'platform'}}}, 1],
        ['org.unit.name "sales"',    {org => {unit => {name => 'sales'}}}, 0],
        ['org.unit a string',        {org => {unit => 'platform'}}, 0],
    ]],
    ['pointer', ['/https:~1~1example.com~1roles has writer'], [
        ['"https://example.com/roles" [reader writer]', {'https://example.com/roles' => [qw(reader writer)]}, 1],
        ['"https://example.com/roles" [reader]',        {'https://example.com/roles' => ['reader']}, 0],
        ['namespaced claim missing',                    {roles => ['writer']}, 0],
    ]],
    ['pointer-nested', ['/realm_access/roles has_any admin ops'], [
        ['pointer into realm_access.roles [ops]', {realm_access => {roles => ['ops']}}, 1],
        ['pointer into realm_access.roles [dev]', {realm_access => {roles => ['dev']}}, 0],
    ]],
    ['pointer-tilde', ['/a~0b.c eq x'], [
        ['claim "a~b.c" = "x"', {'a~b.c' => 'x'}, 1],
        ['claim "a~b" {c: x}',  {'a~b' => {c => 'x'}}, 0],
    ]],
    ['match', ['email match "^[a-z]+@example\.com$"'], [
        ['email alice@example.com',          {email => 'alice@example.com'}, 1],
        ['email alice@example.com.evil.org', {email => 'alice@example.com.evil.org'}, 0],
        ['email alice@exampleXcom',          {email => 'alice@exampleXcom'}, 0],
        ['email Alice@example.com',          {email => 'Alice@example.com'}, 0],
        ['email missing',                    {sub => 'a'}, 0],
    ]],
    ['present', ['sub present'], [
        ['sub "alice"',       {sub => 'alice'}, 1],
        ['sub missing',       {iss => 'x'},     0],
    ]],
    ['present-false', ['flag present'], [
        ['flag false is present', {flag => $F}, 1],
        ['flag 0 is present',     {flag => 0},  1],
        ['flag missing',          {sub => 'a'}, 0],
    ]],
    ['literal-dollar', ['sub eq $remote_user'], [
        ['sub "$remote_user" (value is literal)', {sub => '$remote_user'}, 1],
        ['sub "" vs unset $remote_user',          {sub => ''}, 0],
    ]],
    ['explicit-403', ['role eq admin error=403'], [
        ['role admin', {role => 'admin'}, 1],
        ['role user',  {role => 'user'},  0],
    ]],
    ['several-claims', ['sub present', 'scope has read', 'realm_access.roles has_any admin ops'], [
        ['all three pass',        {sub => 'a', scope => 'read', realm_access => {roles => ['ops']}}, 1],
        ['first fails',           {scope => 'read', realm_access => {roles => ['ops']}}, 0],
        ['second fails',          {sub => 'a', scope => 'write', realm_access => {roles => ['ops']}}, 0],
        ['third fails',           {sub => 'a', scope => 'read', realm_access => {roles => ['dev']}}, 0],
    ]],
);

my $op_locations = '';
for my $case (@OPS) {
    my ($name, $rules) = @$case;
    $op_locations .= "        location /op/$name/ {\n";
    $op_locations .= "            auth_jwt_rs_require_claim $_;\n" for @$rules;
    $op_locations .= "            proxy_pass http://127.0.0.1:%%PORT_2%%;\n        }\n";
}

$t->write_conf(<<'EOF2' =~ s/%%OP_LOCATIONS%%\n/$op_locations/r);
http {
    %%BACKEND%%

    map $jwt_claim_role $is_admin {
        admin    1;
        default  0;
    }
    map $jwt_claim_dept $dept_ok {
        eng      yes;
        default  "";
    }
    map $http_x_tenant $tenant_ok {
        acme     1;
        default  "";
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_realm "api";
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        add_header X-Status $jwt_status always;
        add_header X-Reason $jwt_reason always;
        proxy_set_header X-User $jwt_claim_sub;

        location /norules/ {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        # auth_jwt_rs_require
        location /req/admin/ {
            auth_jwt_rs_require $is_admin;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /req/admin401/ {
            auth_jwt_rs_require $is_admin error=401;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /req/admin403/ {
            auth_jwt_rs_require $is_admin error=403;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /req/tenant/ {
            auth_jwt_rs_require $tenant_ok;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /req/flag/ {
            auth_jwt_rs_require $http_x_flag;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /req/claim/ {
            auth_jwt_rs_require $jwt_claim_ok;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /req/two-vars/ {
            auth_jwt_rs_require $is_admin $dept_ok;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /req/two-directives/ {
            auth_jwt_rs_require $is_admin;
            auth_jwt_rs_require $tenant_ok;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /req/mixed/ {
            auth_jwt_rs_require $dept_ok;
            auth_jwt_rs_require_claim scope has write;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        # auth_jwt_rs_require_claim ... error=401
        location /claim401/ {
            auth_jwt_rs_require_claim role eq admin error=401;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /claim401-present/ {
            auth_jwt_rs_require_claim tenant present error=401;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

%%OP_LOCATIONS%%
    }

    # inheritance: the server level sets two rules
    server {
        listen 127.0.0.1:%%PORT_3%%;
        auth_jwt_rs on;
        auth_jwt_rs_realm "inh";
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        add_header X-Status $jwt_status always;
        add_header X-Reason $jwt_reason always;
        proxy_set_header X-User $jwt_claim_sub;

        auth_jwt_rs_require_claim scope has read;
        auth_jwt_rs_require_claim sub present;

        location /inherit/ {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /replace-claim/ {
            auth_jwt_rs_require_claim role eq admin;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /replace-var/ {
            auth_jwt_rs_require $is_admin;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /outer/ {
            auth_jwt_rs_require_claim role eq admin;
            proxy_pass http://127.0.0.1:%%PORT_2%%;

            location /outer/inner/ {
                proxy_pass http://127.0.0.1:%%PORT_2%%;
            }
            location /outer/own/ {
                auth_jwt_rs_require_claim role eq editor;
                proxy_pass http://127.0.0.1:%%PORT_2%%;
            }
        }
        location /off/ {
            auth_jwt_rs off;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2
$t->run;

sub tok {
    my ($claims) = @_;
    if (!ref $claims) {
        my $exp = time + 300;
        $claims =~ s/%%EXP%%/$exp/g;
        return $t->mint(alg => 'RS256', key => 'rsa.key', claims => $claims);
    }
    return $t->mint(alg => 'RS256', key => 'rsa.key', claims => $claims, exp_in => 300);
}

sub bearer { (Authorization => 'Bearer ' . tok($_[0])) }

my $INSUFFICIENT = sub {
    my ($realm) = @_;
    qr/^Bearer realm="\Q$realm\E", error="insufficient_scope"(?:, error_description="[^"\\]+")?$/;
};

# allowed($res, NAME, REALM): 200 from the backend, $jwt_status ok, no $jwt_reason.
sub allowed {
    my ($r, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    expect_ok($r, $name, qr/^user=/);
    is(h($r, 'x-status'), 'ok', "$name: \$jwt_status ok");
    is(h($r, 'x-reason'), undef, "$name: no \$jwt_reason");
}

# forbidden($res, NAME, REALM): 403 + insufficient_scope, forbidden/rule, backend not reached.
sub forbidden {
    my ($r, $name, $realm) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    expect_status($r, 403, $name);
    like(h($r, 'www-authenticate') // '(none)', $INSUFFICIENT->($realm // 'api'),
        "$name: insufficient_scope challenge");
    is(h($r, 'x-status'), 'forbidden', "$name: \$jwt_status forbidden");
    is(h($r, 'x-reason'), 'rule', "$name: \$jwt_reason rule");
    unlike($r->{body} // '', qr/user=/, "$name: backend not reached");
}

# rule401($res, NAME, REALM): a rule with error=401: 401 + invalid_token, still forbidden/rule.
sub rule401 {
    my ($r, $name, $realm) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    expect_invalid($r, $realm // 'api', 'rule', $name);
    is(h($r, 'x-status'), 'forbidden', "$name: \$jwt_status forbidden");
    unlike($r->{body} // '', qr/user=/, "$name: backend not reached");
}

my $r;

###############################################################################################
# Authentication comes first: no token / a bad token on a rule location is a 401, not a 403.

$r = $t->get(1, '/req/admin/');
expect_missing($r, 'api', 'rule location, no token');
is(h($r, 'x-status'), 'missing', 'rule location, no token: $jwt_status missing');

$r = $t->get(1, '/req/admin/', Authorization => 'Bearer '
    . $t->mint(alg => 'RS256', key => 'rsa2.key', claims => {role => 'admin'}, exp_in => 300));
expect_invalid($r, 'api', 'bad_signature', 'rule location, forged admin token');

$r = $t->get(1, '/req/admin/', Authorization => 'Bearer '
    . $t->mint(alg => 'RS256', key => 'rsa.key', claims => {role => 'admin', exp => time - 60}));
expect_invalid($r, 'api', 'expired', 'rule location, expired admin token');

$r = $t->get(1, '/norules/', bearer({sub => 'alice'}));
allowed($r, 'location without rules');

###############################################################################################
# auth_jwt_rs_require

$r = $t->get(1, '/req/admin/', bearer({sub => 'a', role => 'admin'}));
allowed($r, 'require $is_admin (map on $jwt_claim_role): admin');
$r = $t->get(1, '/req/admin/', bearer({sub => 'a', role => 'user'}));
forbidden($r, 'require $is_admin: role user -> map 0');
$r = $t->get(1, '/req/admin/', bearer({sub => 'a'}));
forbidden($r, 'require $is_admin: no role claim');
$r = $t->get(1, '/req/admin/', bearer({sub => 'a', role => 'administrator'}));
forbidden($r, 'require $is_admin: role "administrator"');

$r = $t->get(1, '/req/admin401/', bearer({sub => 'a', role => 'admin'}));
allowed($r, 'require ... error=401: admin');
$r = $t->get(1, '/req/admin401/', bearer({sub => 'a', role => 'user'}));
rule401($r, 'require ... error=401: role user');

$r = $t->get(1, '/req/admin403/', bearer({sub => 'a', role => 'admin'}));
allowed($r, 'require ... error=403: admin');
$r = $t->get(1, '/req/admin403/', bearer({sub => 'a', role => 'user'}));
forbidden($r, 'require ... error=403: role user');

# a variable that has nothing to do with the token
$r = $t->get(1, '/req/tenant/', bearer({sub => 'a'}), 'X-Tenant' => 'acme');
allowed($r, 'require $tenant_ok (map on a request header): acme');
$r = $t->get(1, '/req/tenant/', bearer({sub => 'a'}), 'X-Tenant' => 'other');
forbidden($r, 'require $tenant_ok: other -> empty');
$r = $t->get(1, '/req/tenant/', bearer({sub => 'a'}));
forbidden($r, 'require $tenant_ok: header absent');

# NGINX Plus semantics: every value non-empty and not "0"
for ([undef, 0], ['', 0], ['0', 0], ['1', 1], ['00', 1], ['false', 1], ['off', 1], ['yes', 1]) {
    my ($v, $ok) = @$_;
    my $label = defined $v ? "'$v'" : 'absent';
    $r = $t->get(1, '/req/flag/', bearer({sub => 'a'}), defined $v ? ('X-Flag' => $v) : ());
    $ok ? allowed($r, "require \$http_x_flag = $label")
        : forbidden($r, "require \$http_x_flag = $label");
}

# directly on a claim variable: true/false/0/1/"" rendering
for ([$T, 1], [$F, 1], [1, 1], [0, 0], ['', 0], ['x', 1], [undef, 0]) {
    my ($v, $ok) = @$_;
    my $label = !defined $v ? 'absent' : ref $v ? ($v ? 'true' : 'false') : "'$v'";
    $r = $t->get(1, '/req/claim/', bearer({sub => 'a', defined $v ? (ok => $v) : ()}));
    $ok ? allowed($r, "require \$jwt_claim_ok = $label")
        : forbidden($r, "require \$jwt_claim_ok = $label");
}

# several variables in one directive: all must pass
$r = $t->get(1, '/req/two-vars/', bearer({sub => 'a', role => 'admin', dept => 'eng'}));
allowed($r, 'require $is_admin $dept_ok: both');
$r = $t->get(1, '/req/two-vars/', bearer({sub => 'a', role => 'admin', dept => 'sales'}));
forbidden($r, 'require $is_admin $dept_ok: second fails');
$r = $t->get(1, '/req/two-vars/', bearer({sub => 'a', role => 'user', dept => 'eng'}));
forbidden($r, 'require $is_admin $dept_ok: first fails');

# several directives: all must pass
$r = $t->get(1, '/req/two-directives/', bearer({sub => 'a', role => 'admin'}), 'X-Tenant' => 'acme');
allowed($r, 'two require directives: both');
$r = $t->get(1, '/req/two-directives/', bearer({sub => 'a', role => 'admin'}), 'X-Tenant' => 'evil');
forbidden($r, 'two require directives: second fails');
$r = $t->get(1, '/req/two-directives/', bearer({sub => 'a', role => 'user'}), 'X-Tenant' => 'acme');
forbidden($r, 'two require directives: first fails');

# require + require_claim in one location
$r = $t->get(1, '/req/mixed/', bearer({sub => 'a', dept => 'eng', scope => 'read write'}));
allowed($r, 'require + require_claim: both');
$r = $t->get(1, '/req/mixed/', bearer({sub => 'a', dept => 'eng', scope => 'read'}));
forbidden($r, 'require + require_claim: claim rule fails');
$r = $t->get(1, '/req/mixed/', bearer({sub => 'a', dept => 'ops', scope => 'write'}));
forbidden($r, 'require + require_claim: variable rule fails');

###############################################################################################
# auth_jwt_rs_require_claim: every operator

for my $case (@OPS) {
    my ($name, $rules, $tokens) = @$case;
    for my $c (@$tokens) {
        my ($label, $claims, $ok) = @$c;
        $r = $t->get(1, "/op/$name/", bearer($claims));
        my $n = "require_claim " . join('; ', @$rules) . " -- $label";
        $ok ? allowed($r, $n) : forbidden($r, $n);
    }
}

# error=401: the invalid_token challenge, $jwt_status still forbidden
$r = $t->get(1, '/claim401/', bearer({sub => 'a', role => 'admin'}));
allowed($r, 'require_claim ... error=401: passing token');
$r = $t->get(1, '/claim401/', bearer({sub => 'a', role => 'user'}));
rule401($r, 'require_claim role eq admin error=401: role user');
$r = $t->get(1, '/claim401/', bearer({sub => 'a'}));
rule401($r, 'require_claim role eq admin error=401: role missing');
$r = $t->get(1, '/claim401-present/', bearer({sub => 'a', tenant => 'acme'}));
allowed($r, 'require_claim tenant present error=401: present');
$r = $t->get(1, '/claim401-present/', bearer({sub => 'a'}));
rule401($r, 'require_claim tenant present error=401: missing');

###############################################################################################
# Inheritance (README "Authorization rules"): a level with any rule replaces the enclosing level's
# rules.

# /inherit/: server rules "scope has read" and "sub present"
$r = $t->get(3, '/inherit/', bearer({sub => 'a', scope => 'read'}));
allowed($r, 'inherit: both server rules pass');
$r = $t->get(3, '/inherit/', bearer({sub => 'a', scope => 'write'}));
forbidden($r, 'inherit: server rule "scope has read" applies', 'inh');
$r = $t->get(3, '/inherit/', bearer({scope => 'read'}));
forbidden($r, 'inherit: server rule "sub present" applies', 'inh');

# /replace-claim/: only "role eq admin"
$r = $t->get(3, '/replace-claim/', bearer({role => 'admin', scope => 'write'}));
allowed($r, 'replace (require_claim): server rules no longer apply');
$r = $t->get(3, '/replace-claim/', bearer({sub => 'a', scope => 'read', role => 'user'}));
forbidden($r, 'replace (require_claim): own rule applies', 'inh');

# /replace-var/: auth_jwt_rs_require replaces the server's auth_jwt_rs_require_claim rules too
$r = $t->get(3, '/replace-var/', bearer({role => 'admin'}));
allowed($r, 'replace (require): server claim rules no longer apply');
$r = $t->get(3, '/replace-var/', bearer({sub => 'a', scope => 'read', role => 'user'}));
forbidden($r, 'replace (require): own rule applies', 'inh');

# nested locations
$r = $t->get(3, '/outer/x', bearer({role => 'admin'}));
allowed($r, 'outer: own rule');
$r = $t->get(3, '/outer/inner/x', bearer({role => 'admin'}));
allowed($r, 'outer/inner inherits outer\'s rule only');
$r = $t->get(3, '/outer/inner/x', bearer({sub => 'a', scope => 'read', role => 'user'}));
forbidden($r, 'outer/inner inherits outer\'s rule (role eq admin)', 'inh');
$r = $t->get(3, '/outer/own/x', bearer({role => 'editor'}));
allowed($r, 'outer/own: own rule replaces outer\'s');
$r = $t->get(3, '/outer/own/x', bearer({sub => 'a', scope => 'read', role => 'admin'}));
forbidden($r, 'outer/own: outer\'s rule replaced', 'inh');

$r = $t->get(3, '/off/');
expect_ok($r, 'auth_jwt_rs off: inherited rules do not run', qr/^user= /);
is(h($r, 'x-status'), undef, 'auth_jwt_rs off: $jwt_status empty');

$t->finish;

###############################################################################################
# Configuration errors: nginx -t fails, nginx's message form ending "in <conf>:<line>".

my $conf = $t->conf_path;

sub rule_conf {
    my ($directive) = @_;
    return <<"EOF2";
http {
    map \$jwt_claim_role \$is_admin { admin 1; default 0; }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        location / {
            $directive # HERE
            return 204;
        }
    }
}
EOF2
}

sub conf_fails {
    my ($name, $directive, $msg_re) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($ok, $out) = $t->conftest(rule_conf($directive));
    ok(!$ok, "$name: nginx -t fails") or return;
    my $line = $t->line_of('# HERE');
    my ($msg) = $out =~ /\[emerg\] (.*?) in \Q$conf\E:$line\n/s;
    ok(defined $msg, "$name: [emerg] ... in nginx.conf:$line") or diag($out);
    unlike($msg // '', qr/[\r\n]/, "$name: the message is one line (nginx's form)") or diag($out);
    like($out, $msg_re, "$name: message") or diag($out) if $msg_re;
    unlike($out, qr/panicked|\[alert\]/, "$name: no panic");
}

sub conf_ok {
    my ($name, $text) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($ok, $out) = $t->conftest($text);
    ok($ok, "$name: nginx -t passes") or diag($out);
}

conf_ok('every operator, error= codes, paths and pointers', rule_conf(join "\n            ",
    'auth_jwt_rs_require $is_admin $http_x_a error=401;',
    'auth_jwt_rs_require $is_admin;',
    'auth_jwt_rs_require_claim sub eq alice;',
    'auth_jwt_rs_require_claim sub ne bob error=403;',
    'auth_jwt_rs_require_claim role in a b c error=401;',
    'auth_jwt_rs_require_claim scope has read write;',
    'auth_jwt_rs_require_claim scope has_any read;',
    'auth_jwt_rs_require_claim email match "^.+@example\.com$";',
    'auth_jwt_rs_require_claim realm_access.roles present;',
    'auth_jwt_rs_require_claim /https:~1~1example.com~1roles has x;'));

conf_ok('rules in http and server context', <<'EOF2');
http {
    map $jwt_claim_role $is_admin { admin 1; default 0; }
    auth_jwt_rs_require $is_admin;
    auth_jwt_rs_require_claim sub present;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        auth_jwt_rs_require_claim scope has read error=401;
        location / { return 204; }
    }
}
EOF2

# README "auth_jwt_rs_require_claim": `match REGEX` is PCRE, so PCRE syntax (lookahead) must be
# accepted.
conf_ok('match with a PCRE lookahead', rule_conf('auth_jwt_rs_require_claim sub match "^(?!guest-).+$";'));

conf_fails('unknown operator', 'auth_jwt_rs_require_claim sub like alice;', qr/like/);
conf_fails('unknown operator "==" ', 'auth_jwt_rs_require_claim sub == alice;', qr/==/);
conf_fails('eq without a value', 'auth_jwt_rs_require_claim sub eq;');
conf_fails('eq without a value, with error=', 'auth_jwt_rs_require_claim sub eq error=401;');
conf_fails('eq with two values', 'auth_jwt_rs_require_claim sub eq alice bob;');
conf_fails('ne with two values', 'auth_jwt_rs_require_claim sub ne alice bob;');
conf_fails('match with two values', 'auth_jwt_rs_require_claim sub match a b;');
conf_fails('present with a value', 'auth_jwt_rs_require_claim sub present yes;');
conf_fails('in without values', 'auth_jwt_rs_require_claim role in;');
conf_fails('has without values', 'auth_jwt_rs_require_claim scope has;');
conf_fails('has_any without values', 'auth_jwt_rs_require_claim scope has_any error=403;');
conf_fails('operator missing', 'auth_jwt_rs_require_claim sub error=403;');
conf_fails('bad regex', 'auth_jwt_rs_require_claim sub match "(unclosed";');
conf_fails('bad regex "[a-"', 'auth_jwt_rs_require_claim sub match "[a-";');
conf_fails('require_claim error=500', 'auth_jwt_rs_require_claim sub present error=500;', qr/error=500/);
conf_fails('require_claim error=302', 'auth_jwt_rs_require_claim sub eq a error=302;', qr/error=302/);
conf_fails('require_claim error=', 'auth_jwt_rs_require_claim sub present error=;');
conf_fails('require error=500', 'auth_jwt_rs_require $is_admin error=500;', qr/error=500/);
conf_fails('require error=abc', 'auth_jwt_rs_require $is_admin error=abc;', qr/error=abc/);
conf_fails('require with a non-variable', 'auth_jwt_rs_require admin;', qr/"admin"/);
conf_fails('require with a variable and a non-variable', 'auth_jwt_rs_require $is_admin 1;', qr/"1"/);
conf_fails('require with only error=', 'auth_jwt_rs_require error=401;');
conf_fails('require without arguments', 'auth_jwt_rs_require;',
    qr/invalid number of arguments in "auth_jwt_rs_require" directive/);
conf_fails('require_claim with a path only', 'auth_jwt_rs_require_claim sub;',
    qr/invalid number of arguments in "auth_jwt_rs_require_claim" directive/);
conf_fails('empty segment in dotted path', 'auth_jwt_rs_require_claim realm_access..roles has a;', qr/realm_access\.\.roles/);
conf_fails('bad JSON pointer escape', 'auth_jwt_rs_require_claim /a~2b present;');

{
    my ($ok, $out) = $t->conftest(rule_conf('auth_jwt_rs_require $no_such_variable;'));
    ok(!$ok, 'require with an unknown variable: nginx -t fails');
    like($out, qr/\[emerg\] unknown "no_such_variable" variable/, 'require with an unknown variable: message')
        or diag($out);
}

done_testing;
