#!/usr/bin/perl
# The authorization and browser examples in nginx-conf/ do what their comments say: each is run
# as is, except for the listen port, the key paths (jwt/... -> test fixtures), the upstream
# addresses (-> the echo backend) and the events block / load_module line (the harness's).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use JSON::PP;

my %FIXTURE = ('rs256.pub.pem' => 'rsa.pub.pem');

sub start_example {
    my ($name) = @_;
    my $t = AuthJwt::Test->new;
    my $conf = AuthJwt::Test::read_file_bytes("$AuthJwt::Test::ROOT/nginx-conf/$name");
    $conf =~ s/^\s*load_module [^\n]*\n//m or die "$name: no load_module";
    $conf =~ s/^events \{[^}]*\}\n//m or die "$name: no events block";
    $conf =~ s/listen 8080;/listen 127.0.0.1:%%PORT_1%%;/ or die "$name: no listen 8080";
    $conf =~ s{\bjwt/([A-Za-z0-9._-]+);}{"%%KEYS%%/" . ($FIXTURE{$1} // $1) . ';'}ge;
    $conf =~ s/server 127\.0\.0\.1:90\d\d;/server 127.0.0.1:%%PORT_2%%;/g;
    $conf =~ s/^http \{/http {\n    %%BACKEND%%/m or die "$name: no http block";
    $t->write_conf($conf);
    $t->run;
    return $t;
}

my $INSUFFICIENT = qr/^Bearer realm="api", error="insufficient_scope"(?:, error_description="[^"\\]+")?$/;

###############################################################################################
# roles-and-scopes.conf

{
    my $t = start_example('roles-and-scopes.conf');
    my %base = (iss => 'https://sso.example.com/realms/acme', aud => 'orders-api', sub => 'alice');
    my $tok = sub {
        my ($claims, %o) = @_;
        my %c = (%base, %$claims);
        delete $c{$_} for @{ $o{without} // [] };
        $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1', claims => \%c, exp_in => 300);
    };
    my @cases = (
        ['/orders/1',         {scope => 'openid orders:read'}, 200],
        ['/orders/1',         {scope => 'openid orders:write'}, 200],
        ['/orders/1',         {scope => 'openid profile'}, 403],
        ['/orders/1',         {scope => 'orders:read'}, 200, without => ['sub']],   # rules replaced
        ['/me/',              {}, 200],
        ['/me/',              {scope => 'orders:read'}, 403, without => ['sub']],     # rules inherited
        ['/orders/7/refund',  {scope => 'orders:write', realm_access => {roles => ['support']}}, 200],
        ['/orders/7/refund',  {scope => 'orders:read orders:write'}, 403],
        ['/orders/7/refund',  {scope => 'orders:read', realm_access => {roles => ['admin']}}, 403],
        ['/admin/',           {realm_access => {roles => ['user', 'admin']}}, 200],
        ['/admin/',           {realm_access => {roles => ['user']}}, 403],
        ['/reports/',         {resource_access => {reporting => {roles => ['viewer']}}}, 200],
        ['/reports/',         {resource_access => {other => {roles => ['viewer']}}}, 403],
        ['/billing/',         {'https://acme.example.com/roles' => ['billing']}, 200],
        ['/billing/',         {roles => ['billing']}, 403],
        ['/profile/',         {email_verified => JSON::PP::true, email => 'a@acme.example.com'}, 200],
        ['/profile/',         {email_verified => JSON::PP::false, email => 'a@acme.example.com'}, 403],
        ['/profile/',         {email_verified => JSON::PP::true, email => 'a@acme.example.com.evil'}, 403],
        ['/beta/',            {plan => 'pro', tier => 2}, 200],
        ['/beta/',            {plan => 'pro', tier => 0}, 403],
        ['/beta/',            {plan => 'free', tier => 2}, 403],
        ['/ops/',             {realm_access => {roles => ['user', 'ops']}}, 200],
        ['/ops/',             {team => 'sre'}, 200],
        ['/ops/',             {team => 'dev', realm_access => {roles => ['operator']}}, 403],
        ['/step-up/',         {acr => 'urn:acme:loa:2'}, 200],
        ['/step-up/',         {acr => 'urn:acme:loa:1'}, 401],
    );
    for my $c (@cases) {
        my ($path, $claims, $want, %o) = @$c;
        my $name = "roles-and-scopes: $path " . JSON::PP->new->canonical->encode($claims)
            . ($o{without} ? " without @{$o{without}}" : '');
        my $r = $t->get(1, $path, Authorization => 'Bearer ' . $tok->($claims, %o));
        if ($want == 200) {
            expect_ok($r, $name, qr{uri=\Q$path\E$});
        } elsif ($want == 403) {
            expect_status($r, 403, $name);
            like(h($r, 'www-authenticate') // '', $INSUFFICIENT, "$name: challenge kept through error_page");
            is($r->{body}, qq({"error":"insufficient_scope"}\n), "$name: JSON body from \@forbidden");
        } else {
            expect_invalid($r, 'api', undef, $name);
        }
    }
    my $r = $t->get(1, '/orders/1');
    expect_missing($r, 'api', 'roles-and-scopes: no token');
    $r = $t->get(1, '/healthz');
    expect_status($r, 200, 'roles-and-scopes: /healthz is public');
    $t->finish;
}

###############################################################################################
# browser-and-api.conf

{
    my $t = start_example('browser-and-api.conf');
    my %base = (iss => 'https://login.example.com', aud => 'app', sub => 'alice');
    my $tok = sub { $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1', claims => {%base, %{ $_[0] }}, exp_in => 300) };
    my $HTML = 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8';
    my @host = (Host => 'app.example.com:8443');

    my $r = $t->get(1, '/dashboard?tab=2', @host, Accept => $HTML);
    expect_status($r, 302, 'browser-and-api: browser without session');
    is(h($r, 'location'), 'https://login.example.com/login?rd=http%3A%2F%2Fapp.example.com%3A8443%2Fdashboard%3Ftab%3D2',
        'browser-and-api: login Location with the return URL');

    $r = $t->get(1, '/dashboard', @host, Accept => $HTML, Cookie => 'session=' . $tok->({}));
    expect_ok($r, 'browser-and-api: browser with session cookie', qr{^user=alice .* uri=/dashboard$});
    unlike($r->{body}, qr/session=/, 'browser-and-api: cookie not forwarded');

    $r = $t->get(1, '/admin/users', @host, Accept => $HTML);
    expect_status($r, 302, 'browser-and-api: /admin/ signed out is redirected');

    $r = $t->get(1, '/admin/users', @host, Accept => $HTML, Cookie => 'session=' . $tok->({realm_access => {roles => ['user']}}));
    isnt($r->{status}, 302, 'browser-and-api: /admin/ signed in without the role: no redirect');
    is(h($r, 'location'), undef, 'browser-and-api: /admin/ without the role: no Location');
    $r = $t->get(1, '/admin/users', @host, Accept => $HTML, Cookie => 'session=' . $tok->({realm_access => {roles => ['admin']}}));
    expect_ok($r, 'browser-and-api: /admin/ with the role', qr{^user=alice });

    $r = $t->get(1, '/api/items', @host, Accept => $HTML);
    expect_missing($r, 'app', 'browser-and-api: /api/ never redirects, even for text/html');
    $r = $t->get(1, '/api/items', @host, Accept => 'application/json');
    expect_missing($r, 'app', 'browser-and-api: /api/ fetch without token');
    $r = $t->get(1, '/api/items', @host, Authorization => 'Bearer ' . $tok->({scope => 'openid api'}));
    expect_ok($r, 'browser-and-api: /api/ with Bearer and scope api', qr{^user=alice .* authz= });
    $r = $t->get(1, '/api/items', @host, Cookie => 'session=' . $tok->({scope => 'openid api'}));
    expect_ok($r, 'browser-and-api: /api/ with the session cookie', qr{^user=alice });
    $r = $t->get(1, '/api/items', @host, Authorization => 'Bearer ' . $tok->({scope => 'openid'}));
    expect_status($r, 403, 'browser-and-api: /api/ without scope api');
    like(h($r, 'www-authenticate') // '', qr/^Bearer realm="app", error="insufficient_scope"/, 'browser-and-api: /api/ 403 challenge');
    $r = $t->get(1, '/api/admin/x', @host, Authorization => 'Bearer ' . $tok->({scope => 'api'}));
    expect_status($r, 403, 'browser-and-api: /api/admin/ without the role');
    $r = $t->get(1, '/api/admin/x', @host, Authorization => 'Bearer ' . $tok->({realm_access => {roles => ['admin']}}));
    expect_status($r, 403, 'browser-and-api: /api/admin/ without scope api');
    $r = $t->get(1, '/api/admin/x', @host, Authorization => 'Bearer ' . $tok->({scope => 'api', realm_access => {roles => ['admin']}}));
    expect_ok($r, 'browser-and-api: /api/admin/ with scope and role', qr{^user=alice });

    $r = $t->get(1, '/legacy/page', @host);
    expect_status($r, 302, 'browser-and-api: /legacy/ error_page 401 = @signin');
    is(h($r, 'location'), 'https://login.example.com/legacy-login?rd=http%3A%2F%2Fapp.example.com%3A8443%2Flegacy%2Fpage',
        'browser-and-api: @signin Location');
    $t->finish;
}

###############################################################################################
# cors-preflight.conf

{
    my $t = start_example('cors-preflight.conf');
    my $tok = $t->mint(alg => 'RS256', key => 'rsa.key',
        claims => {iss => 'https://issuer.example.com', aud => 'api', sub => 'alice'}, exp_in => 300);
    my @pre = ('Access-Control-Request-Method' => 'PUT', 'Access-Control-Request-Headers' => 'authorization');

    my $r = $t->request(port => 1, method => 'OPTIONS', path => '/items', headers => [Origin => 'https://app.example.com', @pre]);
    expect_status($r, 204, 'cors-preflight: preflight');
    is(h($r, 'access-control-allow-origin'), 'https://app.example.com', 'cors-preflight: allowed origin echoed');
    is(h($r, 'access-control-allow-methods'), 'GET, POST, PUT, PATCH, DELETE', 'cors-preflight: methods');
    is(h($r, 'www-authenticate'), undef, 'cors-preflight: no challenge');

    $r = $t->request(port => 1, method => 'OPTIONS', path => '/items', headers => [Origin => 'https://evil.example', @pre]);
    expect_status($r, 204, 'cors-preflight: preflight from another origin');
    is(h($r, 'access-control-allow-origin'), undef, 'cors-preflight: other origin gets no ACAO');

    $r = $t->request(port => 1, method => 'OPTIONS', path => '/v2/items', headers => [Origin => 'https://app.example.com', @pre]);
    expect_ok($r, 'cors-preflight: /v2/ preflight reaches the backend without token', qr{uri=/v2/items$});

    $r = $t->get(1, '/items', Origin => 'https://app.example.com');
    expect_missing($r, 'api', 'cors-preflight: GET without token');
    is(h($r, 'access-control-allow-origin'), 'https://app.example.com', 'cors-preflight: 401 readable cross-origin');
    $r = $t->get(1, '/v2/items', Origin => 'https://app.example.com');
    expect_missing($r, 'api', 'cors-preflight: /v2/ GET without token');
    $r = $t->get(1, '/items', Origin => 'https://app.example.com', Authorization => "Bearer $tok");
    expect_ok($r, 'cors-preflight: GET with token', qr{^user=alice email= authz= injected= uri=/items$});
    $t->finish;
}

done_testing;
