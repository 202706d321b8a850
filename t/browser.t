#!/usr/bin/perl
# A real browser against cookie SSO (nginx-conf/cookie-sso.conf style): Debian's chromium,
# headless, driven by playwright-core (t/node/browser.mjs); the login is the authorization-code
# flow of a real OpenID provider (t/node/provider.mjs) with a minimal login endpoint
# (t/node/rp.mjs) that sets the session cookie to the provider's access token.
#
#   - a signed-out navigation is redirected to the login URL with the right rd=, and ends on
#     the provider's login form;
#   - signing in sets the session cookie and returns to the page first asked for, which shows
#     the user's identity ($user, $email from the cookie's token);
#   - fetch() from that page: 200 with the cookie; with an expired cookie 401 (never a
#     redirect), also in a location with auth_jwt_rs_login_url; a navigation there with the
#     expired cookie is redirected and signed in again by the provider's session;
#   - a cross-origin call with a CORS preflight passes the `auth_jwt_rs $jwt_gate` gate
#     (README "auth_jwt_rs"); without the map the preflight is refused and so is the call.
# No chromium at /usr/bin/chromium (or AUTH_JWT_CHROMIUM) is a failure, not a skip.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use AuthJwt::Node;
use JSON::PP;
use Time::HiRes qw(time);

my $CHROMIUM = $ENV{AUTH_JWT_CHROMIUM} // '/usr/bin/chromium';
if (!-x $CHROMIUM) {
    fail("chromium is installed at $CHROMIUM");
    diag("t/browser.t needs Debian's chromium at $CHROMIUM (scripts/install-deps.sh installs it)");
    done_testing;
    exit 1;
}
AuthJwt::Node::require_node();

my $RESOURCE = 'https://orders.api.test';
my $t = AuthJwt::Test->new;
my $APP   = 'http://127.0.0.1:' . $t->port(1);
my $OTHER = 'http://127.0.0.1:' . $t->port(3);

my $idp = AuthJwt::Node->provider($t, name => 'idp', resource => $RESOURCE,
    keys => [[ES256 => 'k-es'], [RS256 => 'k-rs']], redirect_uris => ["$APP/callback"]);
my $ISS = $idp->{issuer};
my $JWKS = $idp->discovery->{jwks_uri};
my $rp_port = AuthJwt::Node::free_port($t);
my $rp = AuthJwt::Node->start(name => 'rp', logdir => $t->prefix . '/logs', script => 'rp.mjs',
    args => ['--port', $rp_port, '--issuer', $ISS, '--app-origin', $APP, '--resource', $RESOURCE]);

# the gate and the key location, the same in both servers
my $GATE = <<"EOF2";
        auth_jwt_rs_key_request /_jwks;
        auth_jwt_rs_issuer "$ISS";
        auth_jwt_rs_audience "$RESOURCE";
        add_header X-Reason \$jwt_reason always;

        location = /_jwks {
            internal;
            auth_jwt_rs off;
            proxy_pass $JWKS;
            proxy_pass_request_headers off;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Accept-Encoding "";
            proxy_ignore_client_abort on;
            proxy_connect_timeout 3s;
            proxy_read_timeout 5s;
            subrequest_output_buffer_size 64k;
        }
EOF2

$t->write_conf(<<"EOF2");
http {
    auth_jwt_rs_claim_set \$user  sub;
    auth_jwt_rs_claim_set \$email email;

    map \$request_method \$jwt_gate {
        OPTIONS  off;
        default  on;
    }

    log_format browser '\$request_method \$uri \$status \$jwt_status/\$jwt_reason origin=[\$http_origin] '
                       'mode=[\$http_sec_fetch_mode] dest=[\$http_sec_fetch_dest] accept=[\$http_accept]';

    # the app: pages and an API, the session cookie (or a Bearer header) carries the token
    server {
        listen 127.0.0.1:%%PORT_1%%;
        access_log logs/app.access.log browser;

        auth_jwt_rs on;
        auth_jwt_rs_realm "app";
        auth_jwt_rs_token cookie=session bearer;
$GATE
        proxy_set_header X-User  \$user;
        proxy_set_header X-Email \$email;
        proxy_set_header Authorization "";
        proxy_set_header Cookie "";

        location / {
            error_page 401 = \@login;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location \@login {
            auth_jwt_rs off;
            return 302 $APP/login?rd=\$jwt_return_url;
        }

        # the module's own browser redirect instead of error_page
        location /app2/ {
            auth_jwt_rs_login_url "$APP/login?rd=\$jwt_return_url";
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        # the API: 401 with the challenge, never a redirect
        location /api/ {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        # the login endpoint
        location = /login {
            auth_jwt_rs off;
            proxy_pass http://127.0.0.1:$rp_port;
        }
        location = /callback {
            auth_jwt_rs off;
            # nginx's own debug dump of this reply holds the new cookie (the token); the
            # module is off here, so this location logs at info
            error_log logs/callback.log info;
            proxy_pass http://127.0.0.1:$rp_port;
        }
    }

    # the backend: an HTML page and a JSON API showing who nginx said the user is
    server {
        listen 127.0.0.1:%%PORT_2%%;
        location / {
            default_type text/html;
            return 200 '<!doctype html><title>app</title><p id="who">user=\$http_x_user email=\$http_x_email</p>\\n';
        }
        location /api/ {
            default_type application/json;
            return 200 '{"user":"\$http_x_user","method":"\$request_method","uri":"\$request_uri"}\\n';
        }
    }

    # an API on another origin, called with CORS (as nginx-conf/cors-preflight.conf)
    server {
        listen 127.0.0.1:%%PORT_3%%;
        access_log logs/other.access.log browser;
        auth_jwt_rs_realm "api";
        proxy_set_header X-User \$user;
$GATE
        location /api/ {
            auth_jwt_rs \$jwt_gate;
            add_header Access-Control-Allow-Origin \$http_origin always;
            add_header Vary Origin always;
            if (\$request_method = OPTIONS) {
                add_header Access-Control-Allow-Origin \$http_origin always;
                add_header Access-Control-Allow-Methods "GET, POST" always;
                add_header Access-Control-Allow-Headers "Authorization, Content-Type" always;
                add_header Access-Control-Max-Age 600 always;
                return 204;
            }
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        # control: the gate without the map also meets the preflight
        location /nomap/ {
            auth_jwt_rs on;
            add_header Access-Control-Allow-Origin \$http_origin always;
            add_header Access-Control-Allow-Methods "GET, POST" always;
            add_header Access-Control-Allow-Headers "Authorization, Content-Type" always;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2
$t->run;

# tokens the provider issued: one for the cross-origin call, one that expires in 1 s
my $bearer = $idp->cc(client => 'svc', scope => 'orders:read')->{access_token};
my $expired = $idp->cc(client => 'svc-short', scope => 'orders:read')->{access_token};
my $expired_at = time + 1.5;

my $START  = '/app/page?x=1&y=a%20b';
my $START2 = '/app2/page?z=%C3%A9';
my $profile = $t->prefix . '/chromium-profile';
mkdir $profile or die "mkdir $profile: $!";
my $cfg = $t->write_file('browser.json', JSON::PP->new->encode({
    app => $APP, start => $START, start2 => $START2, api => '/api/me', api2 => '/app2/data',
    other => $OTHER, bearer => $bearer, expired => $expired, expiredAt => $expired_at,
    user => 'alice', password => 'wonderland', profile => $profile, executable => $CHROMIUM,
}));

my $t0 = time;
my ($rc, $out, $err) = AuthJwt::Node->run(script => 'browser.mjs', args => [$cfg], timeout => 90);
is($rc, 0, 'browser.mjs ran to the end') or diag("exit $rc\n$err");
my $b = eval { JSON::PP->new->decode($out) } // {};
diag(sprintf 'chromium %s, %.1f s', $b->{version} // '?', time - $t0);
AuthJwt::Test::track_token($b->{cookie}{value}) if $b->{cookie};

sub rd { (my $u = shift) =~ s/([^A-Za-z0-9\-._~])/sprintf '%%%02X', ord $1/ge; $u }

###############################################################################################
# Signed out: redirected to the login URL, then to the provider's login form

my $first = $b->{signedOut}{chain}[0] // {};
is($first->{url}, "$APP$START", 'signed out: the navigation');
is($first->{status}, 302, 'signed out: 302');
is($first->{location}, "$APP/login?rd=" . rd("$APP$START"), 'signed out: Location is the login URL with rd=');
my $second = $b->{signedOut}{chain}[1] // {};
like($second->{location} // '', qr{^\Q$ISS\E/auth\?}, 'the login endpoint sends the browser to the provider');
like($b->{signedOut}{url} // '', qr{^\Q$ISS\E/interaction/}, 'the browser is on the provider\'s login page');
is($b->{signedOut}{heading}, 'Sign in to the test IdP', 'the provider\'s login form is shown');

###############################################################################################
# Signed in: the cookie, back to the page, identity shown

my @back = grep { ($_->{url} // '') =~ m{^\Q$APP\E/callback\?} } @{ $b->{signedIn}{chain} // [] };
is(scalar @back, 1, 'signed in: the provider redirected to the login endpoint\'s callback');
is($back[0]{location}, "$APP$START", 'signed in: the callback redirects to rd');
is($b->{signedIn}{url}, "$APP$START", 'signed in: back on the page first asked for');
is($b->{signedIn}{who}, 'user=alice email=alice@example.test', 'signed in: the page shows the user\'s identity');
ok($b->{cookie} && $b->{cookie}{httpOnly}, 'session cookie set, HttpOnly');
my ($ch) = AuthJwt::Node::jwt_parts($b->{cookie}{value});
is($ch->{typ}, 'at+jwt', 'the session cookie holds the provider\'s access token');

###############################################################################################
# fetch() from the page

is($b->{apiFetch}{status}, 200, 'fetch() with the session cookie: 200');
like($b->{apiFetch}{body} // '', qr/"user":"alice"/, 'fetch() with the session cookie: the API sees alice');

for my $k (qw(apiExpired apiExpiredManual pageExpired)) {
    my $f = $b->{$k} // {};
    is($f->{status}, 401, "$k: fetch() with an expired cookie: 401") or diag(explain $f);
    ok(!$f->{redirected} && ($f->{type} // '') ne 'opaqueredirect', "$k: not redirected");
    like($f->{www} // '', qr/^Bearer realm="app", error="invalid_token", error_description="[^"]+"$/,
        "$k: invalid_token challenge");
    is($f->{reason}, 'expired', "$k: \$jwt_reason expired");
}

my $re = $b->{relogin} // {};
is($re->{chain}[0]{status}, 302, 'auth_jwt_rs_login_url: navigation with the expired cookie redirected');
is($re->{chain}[0]{location}, "$APP/login?rd=" . rd("$APP$START2"), 'auth_jwt_rs_login_url: Location with rd=');
is($re->{url}, "$APP$START2", 'signed in again by the provider\'s session, back on the page');
is($re->{who}, 'user=alice email=alice@example.test', 'signed in again: identity shown');

# what the browser sent, as nginx saw it
my @app = split /\n/, $t->read_file('logs/app.access.log');
ok((grep { m{^GET /app/page 302 missing/missing .*mode=\[navigate\] dest=\[document\] accept=\[text/html} } @app),
    'access log: the signed-out navigation (Sec-Fetch-Mode navigate, Accept text/html)');
ok((grep { m{^GET /api/me 401 invalid/expired .*mode=\[(?:cors|same-origin)\]} } @app),
    'access log: the fetch() with the expired cookie');
ok((grep { m{^GET /app2/page 302 invalid/expired .*mode=\[navigate\]} } @app),
    'access log: the login_url redirect of the navigation with the expired cookie');

###############################################################################################
# CORS preflight from the app's origin to the other origin

is($b->{cors}{status}, 200, 'cross-origin POST with preflight: 200') or diag(explain $b->{cors});
like($b->{cors}{body} // '', qr/"user":"svc","method":"POST"/, 'cross-origin POST: the backend saw the token\'s user');
like($b->{corsNoMap}{error} // '', qr/TypeError/, 'control: without the map the preflight fails, so does the call');

my @other = split /\n/, $t->read_file('logs/other.access.log');
ok((grep { m{^OPTIONS /api/items 204 -/- origin=\[\Q$APP\E\] mode=\[cors\]} } @other),
    'access log: the preflight from the app\'s origin answered 204 without the gate')
    or diag(join "\n", @other);
ok((grep { m{^POST /api/items 200 ok/- origin=\[\Q$APP\E\]} } @other), 'access log: then the POST, gate ok');
ok((grep { m{^OPTIONS /nomap/items 401 missing/missing } } @other), 'access log: control preflight refused with 401');
ok(!(grep { m{^POST /nomap/} } @other), 'control: the browser did not send the POST');

$rp->stop;
$idp->stop;
$t->finish;
done_testing;
