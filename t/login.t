#!/usr/bin/perl
# README "auth_jwt_rs_login_url", "Variables": the browser login flow. auth_jwt_rs_login_url turns
# the gate's 401 for a browser navigation (GET/HEAD accepting text/html) into a 302 to the login
# URL; every other request keeps its 401; a 403 never redirects. $jwt_return_url (percent-encoded
# $scheme://Host as sent + $request_uri), and the error_page 401 = @login pattern.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use IO::Socket::INET;

my $t = AuthJwt::Test->new;
$t->write_conf(<<'EOF2');
http {
    %%BACKEND%%

    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name app.internal;
        auth_jwt_rs on;
        auth_jwt_rs_realm "app";
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        auth_jwt_rs_login_url "https://login.example.com/?rd=$jwt_return_url";
        add_header X-Status $jwt_status always;
        add_header X-Reason $jwt_reason always;
        proxy_set_header X-User $jwt_claim_sub;

        location / {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /admin/ {
            auth_jwt_rs_require_claim role eq admin;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /public/ {
            auth_jwt_rs off;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /rv/ {
            auth_jwt_rs off;
            return 200 "$jwt_return_url";
        }
    }

    # no auth_jwt_rs_login_url: the classic error_page 401 = @login pattern
    server {
        listen 127.0.0.1:%%PORT_3%%;
        server_name app.internal;
        auth_jwt_rs on;
        auth_jwt_rs_realm "app";
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        proxy_set_header X-User $jwt_claim_sub;

        location / {
            error_page 401 = @login;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /page/ {
            error_page 401 = @loginpage;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location @login {
            auth_jwt_rs off;
            return 302 https://login.example.com/start?rd=$jwt_return_url;
        }
        location @loginpage {
            # a content handler: the access phase runs here again, so the gate must be off
            auth_jwt_rs off;
            proxy_set_header X-User $jwt_return_url;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2
$t->run;

my $LOGIN = 'https://login.example.com/?rd=';
my $HTML  = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
my $good  = $t->mint(alg => 'RS256', key => 'rsa.key', claims => {sub => 'alice', role => 'user'}, exp_in => 300);
my $admin = $t->mint(alg => 'RS256', key => 'rsa.key', claims => {sub => 'root', role => 'admin'}, exp_in => 300);
my $expired = $t->mint(alg => 'RS256', key => 'rsa.key', claims => {sub => 'alice', exp => time - 60});
my $forged  = $t->mint(alg => 'RS256', key => 'rsa2.key', claims => {sub => 'alice'}, exp_in => 300);

# the example from the brief: /a/b?x=1&y=%20z on app.example.com:8443
my $URI  = '/a/b?x=1&y=%20z';
my $HOST = 'app.example.com:8443';
my $RD   = 'http%3A%2F%2Fapp.example.com%3A8443%2Fa%2Fb%3Fx%3D1%26y%3D%2520z';

sub redirected {
    my ($r, $rd, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    expect_status($r, 302, $name);
    is(h($r, 'location'), $LOGIN . $rd, "$name: Location");
    unlike($r->{raw}, qr/user=/, "$name: backend not reached");
}

sub not_redirected_401 {
    my ($r, $name, $invalid) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if ($invalid) {
        expect_invalid($r, 'app', $invalid, $name);
    } else {
        expect_missing($r, 'app', $name);
    }
    is(h($r, 'location'), undef, "$name: no Location");
}

my $r;

###############################################################################################
# $jwt_return_url itself

$r = $t->get(1, "/rv$URI", Host => $HOST);
is($r->{body}, 'http%3A%2F%2Fapp.example.com%3A8443%2Frv%2Fa%2Fb%3Fx%3D1%26y%3D%2520z',
    '$jwt_return_url: scheme, Host with port, request_uri, encoded');

$r = $t->get(1, "/rv/~u/a-b_c.d/%7E!*'()?q=%C3%A9&r=a+b&s=/x;y,z:\@\$", Host => 'app.example.com');
is($r->{body},
    'http%3A%2F%2Fapp.example.com%2Frv%2F~u%2Fa-b_c.d%2F%257E%21%2A%27%28%29%3Fq%3D%25C3%25A9%26r%3Da%2Bb%26s%3D%2Fx%3By%2Cz%3A%40%24',
    '$jwt_return_url: unreserved kept, everything else %XX uppercase');

$r = $t->get(1, "/rv/\xC3\xA9?k=\xFF", Host => 'app.example.com');
is($r->{body}, 'http%3A%2F%2Fapp.example.com%2Frv%2F%C3%A9%3Fk%3D%FF', '$jwt_return_url: raw 8-bit bytes');

$r = $t->get(1, '/rv/', Host => 'App.Example.COM:8443');
is($r->{body}, 'http%3A%2F%2FApp.Example.COM%3A8443%2Frv%2F', '$jwt_return_url: Host exactly as sent');

# no Host header (HTTP/1.0): $host, i.e. the server_name
sub raw_request {
    my ($port, $req) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port($port), Proto => 'tcp', Timeout => 10)
        or die "connect: $!";
    binmode $s;
    print $s $req;
    local $/;
    my $raw = <$s> // '';
    close $s;
    return AuthJwt::Test::parse_response($raw);
}
$r = raw_request(1, "GET /rv/x?y=1 HTTP/1.0\r\n\r\n");
is($r->{body}, 'http%3A%2F%2Fapp.internal%2Frv%2Fx%3Fy%3D1', '$jwt_return_url: no Host header -> $host');

###############################################################################################
# Browser navigations are redirected

$r = $t->get(1, $URI, Host => $HOST, Accept => $HTML);
redirected($r, $RD, 'GET, Accept text/html, no token');
is(h($r, 'x-status'), 'missing', 'GET, Accept text/html, no token: $jwt_status missing');

$r = $t->request(port => 1, method => 'HEAD', path => $URI, headers => [Host => $HOST, Accept => $HTML]);
redirected($r, $RD, 'HEAD, Accept text/html, no token');
is($r->{body}, '', 'HEAD: no body');

$r = $t->get(1, $URI, Host => $HOST, Accept => $HTML, Authorization => "Bearer $expired");
redirected($r, $RD, 'GET, Accept text/html, expired token');
is(h($r, 'x-status'), 'invalid', 'expired token redirect: $jwt_status invalid');
is(h($r, 'x-reason'), 'expired', 'expired token redirect: $jwt_reason expired');

$r = $t->get(1, $URI, Host => $HOST, Accept => $HTML, Authorization => "Bearer $forged");
redirected($r, $RD, 'GET, Accept text/html, bad signature');

$r = $t->get(1, $URI, Host => $HOST, Accept => $HTML, Authorization => 'Bearer not.a.jwt');
redirected($r, $RD, 'GET, Accept text/html, garbage token');

$r = $t->get(1, '/', Host => 'app.example.com', Accept => 'text/html');
redirected($r, 'http%3A%2F%2Fapp.example.com%2F', 'GET, Accept exactly text/html');

$r = $t->get(1, '/x', Host => 'app.example.com', Accept => 'application/xhtml+xml, TEXT/HTML;q=0.9');
redirected($r, 'http%3A%2F%2Fapp.example.com%2Fx', 'GET, Accept with TEXT/HTML (media types are case-insensitive)');

$r = $t->get(1, '/x', Host => 'app.example.com', Accept => 'application/json', Accept => 'text/html');
redirected($r, 'http%3A%2F%2Fapp.example.com%2Fx', 'GET, text/html in a second Accept header');

# authentication failure on a rule location still redirects (the 401 comes first)
$r = $t->get(1, '/admin/', Host => 'app.example.com', Accept => $HTML);
redirected($r, 'http%3A%2F%2Fapp.example.com%2Fadmin%2F', 'GET /admin/, Accept text/html, no token');

###############################################################################################
# Everything else keeps the 401

$r = $t->request(port => 1, method => 'POST', path => $URI, body => 'a=1',
    headers => [Host => $HOST, Accept => $HTML]);
not_redirected_401($r, 'POST, Accept text/html, no token');

$r = $t->request(port => 1, method => 'PUT', path => $URI, body => 'a=1',
    headers => [Host => $HOST, Accept => $HTML, Authorization => "Bearer $expired"]);
not_redirected_401($r, 'PUT, Accept text/html, expired token', 'expired');

$r = $t->request(port => 1, method => 'DELETE', path => $URI, headers => [Host => $HOST, Accept => $HTML]);
not_redirected_401($r, 'DELETE, Accept text/html, no token');

$r = $t->get(1, $URI, Host => $HOST, Accept => 'application/json');
not_redirected_401($r, 'GET, Accept application/json, no token');

$r = $t->get(1, $URI, Host => $HOST, Accept => 'application/json', Authorization => "Bearer $forged");
not_redirected_401($r, 'GET, Accept application/json, bad signature', 'bad_signature');

$r = $t->get(1, $URI, Host => $HOST);
not_redirected_401($r, 'GET, no Accept, no token');

$r = $t->get(1, $URI, Host => $HOST, Accept => '*/*');
not_redirected_401($r, 'GET, Accept */*, no token');

$r = $t->request(port => 1, method => 'HEAD', path => $URI, headers => [Host => $HOST]);
not_redirected_401($r, 'HEAD, no Accept, no token');

###############################################################################################
# Valid tokens, 403s, and locations without the gate

$r = $t->get(1, $URI, Host => $HOST, Accept => $HTML, Authorization => "Bearer $good");
expect_ok($r, 'GET, Accept text/html, valid token', qr/^user=alice /);
is(h($r, 'location'), undef, 'valid token: no Location');

$r = $t->get(1, '/admin/', Host => $HOST, Accept => $HTML, Authorization => "Bearer $admin");
expect_ok($r, '/admin/, admin token', qr/^user=root /);

$r = $t->get(1, '/admin/', Host => $HOST, Accept => $HTML, Authorization => "Bearer $good");
expect_status($r, 403, 'forbidden user, Accept text/html: 403, never a redirect');
is(h($r, 'location'), undef, 'forbidden user, Accept text/html: no Location');
like(h($r, 'www-authenticate') // '', qr/^Bearer realm="app", error="insufficient_scope"(?:, error_description="[^"\\]+")?$/,
    'forbidden user, Accept text/html: insufficient_scope challenge');
is(h($r, 'x-status'), 'forbidden', 'forbidden user: $jwt_status forbidden');

$r = $t->request(port => 1, method => 'HEAD', path => '/admin/', headers => [Accept => $HTML, Authorization => "Bearer $good"]);
expect_status($r, 403, 'forbidden user, HEAD, Accept text/html: 403');
is(h($r, 'location'), undef, 'forbidden user, HEAD: no Location');

$r = $t->get(1, '/public/x', Host => $HOST, Accept => $HTML);
expect_ok($r, 'auth_jwt_rs off: no redirect', qr{uri=/public/x$});
is(h($r, 'location'), undef, 'auth_jwt_rs off: no Location');

###############################################################################################
# error_page 401 = @login with $jwt_return_url (no auth_jwt_rs_login_url)

for my $accept (undef, 'application/json', $HTML) {
    my $label = $accept // 'no Accept';
    $r = $t->get(3, $URI, Host => $HOST, defined $accept ? (Accept => $accept) : ());
    expect_status($r, 302, "error_page 401 = \@login ($label)");
    is(h($r, 'location'), "https://login.example.com/start?rd=$RD", "error_page 401 = \@login ($label): Location");
}
$r = $t->get(3, $URI, Host => $HOST, Authorization => "Bearer $expired");
expect_status($r, 302, 'error_page 401 = @login, expired token');
is(h($r, 'location'), "https://login.example.com/start?rd=$RD", 'error_page 401 = @login, expired token: Location');
$r = $t->get(3, $URI, Host => $HOST, Authorization => "Bearer $good");
expect_ok($r, 'error_page 401 = @login, valid token', qr/^user=alice /);

$r = $t->get(3, '/page/p?q=1', Host => $HOST);
expect_status($r, 200, 'error_page 401 = @loginpage (named location with a content handler)');
like($r->{body}, qr{^user=http%3A%2F%2Fapp\.example\.com%3A8443%2Fpage%2Fp%3Fq%3D1 .* uri=/page/p\?q=1$},
    'error_page 401 = @loginpage: $jwt_return_url in the named location');
$r = $t->get(3, '/page/p', Host => $HOST, Authorization => "Bearer $good");
expect_ok($r, 'error_page 401 = @loginpage, valid token', qr/^user=alice /);

$t->finish;
done_testing;
