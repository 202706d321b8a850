#!/usr/bin/perl
# Tokens of a real OpenID provider: oidc-provider (t/node/provider.mjs, npm packages pinned by
# t/node/package-lock.json) on 127.0.0.1, its keys fetched by auth_jwt_rs_key_request from the
# jwks_uri its discovery document names (docs/key-rotation.md).
#
#   - access tokens (RFC 9068 at+jwt) from its token endpoint, client credentials and an
#     authorization-code login: accepted with auth_jwt_rs_issuer, auth_jwt_rs_audience and a
#     scope rule; $user and $email reach the backend;
#   - the wrong scope: 403 insufficient_scope; its ID token as an access token: 401 (audience);
#     an expired token: 401;
#   - a second provider instance (other issuer, other key under the same kid): 401;
#   - every signing algorithm the provider offers that the module supports: RS256, PS256,
#     ES256, EdDSA;
#   - key rotation: the provider restarted with a new signing key; its first token with the new
#     kid is accepted without a reload after exactly one JWKS refetch.
# The checks that need auth_jwt_rs_type and issuer-bound key sources, and the refetch budget
# that another issuer's token must not use up, are in t/oidc_bound.t.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use AuthJwt::Node;
use Time::HiRes qw(sleep time);

AuthJwt::Node::require_node();

my $RESOURCE = 'https://orders.api.test';
my $t = AuthJwt::Test->new;

my @ALGS = qw(RS256 PS256 ES256 EdDSA);
my $A = AuthJwt::Node->provider($t, name => 'idp-a', resource => $RESOURCE,
    keys => [map { [$_ => "k-$_"] } @ALGS], redirect_uris => ['http://127.0.0.1:9/callback']);
# the second instance: another RSA key under the same kid as A's RS256 key
my $B = AuthJwt::Node->provider($t, name => 'idp-b', resource => $RESOURCE, keys => [[RS256 => 'k-RS256']]);

my $disco = $A->discovery;
is($disco->{issuer}, $A->{issuer}, 'discovery: issuer');
like($disco->{jwks_uri}, qr{^\Q$A->{issuer}\E/}, 'discovery: jwks_uri on the provider');
my $JWKS_A = $disco->{jwks_uri};
my $ISS_A  = $A->{issuer};

sub key_location {
    my ($name, $jwks_uri) = @_;
    return <<"EOF2";
        location = /_jwks/$name {
            internal;
            auth_jwt_rs off;
            proxy_pass $jwks_uri;
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
}
my $KEYLOC_A = key_location('a', $JWKS_A);

$t->write_conf(<<"EOF2");
http {
    %%BACKEND%%
    auth_jwt_rs_claim_set \$user  sub;
    auth_jwt_rs_claim_set \$email email;

    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs_realm "orders";
        add_header X-Status \$jwt_status always;
        add_header X-Reason \$jwt_reason always;
        add_header X-Kid \$jwt_header_kid always;
        proxy_set_header X-User  \$user;
        proxy_set_header X-Email \$email;
$KEYLOC_A
        location /orders/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/a;
            auth_jwt_rs_issuer "$ISS_A";
            auth_jwt_rs_audience "$RESOURCE";
            auth_jwt_rs_require_claim scope has orders:read;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        # the same keys without an issuer check: what a foreign key under a known kid meets
        location /any-issuer/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/a;
            auth_jwt_rs_audience "$RESOURCE";
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2
$t->run;

sub bearer { (Authorization => "Bearer $_[0]") }
my $r;

###############################################################################################
# Client credentials: the provider's real access token

my $cc = $A->cc(client => 'svc', scope => 'orders:read');
my ($hdr, $claims) = AuthJwt::Node::jwt_parts($cc->{access_token});
is($hdr->{typ}, 'at+jwt', 'provider: access token typ at+jwt');
is($hdr->{kid}, 'k-RS256', 'provider: signed with the first key (kid)');
is($claims->{iss}, $ISS_A, 'provider: iss');
is($claims->{aud}, $RESOURCE, 'provider: aud is the resource');
is($claims->{scope}, 'orders:read', 'provider: scope');

# a short-lived token now, to be expired by the time it is used below
my $short = $A->cc(client => 'svc-short', scope => 'orders:read')->{access_token};
my $short_t0 = time;

$r = $t->get(1, '/orders/42', bearer($cc->{access_token}));
expect_ok($r, 'client-credentials access token', qr{^user=svc .*uri=/orders/42$});
is(h($r, 'x-status'), 'ok', 'client-credentials access token: $jwt_status ok');
is($A->jwks_fetches, 1, 'the JWKS was fetched once from the provider');

$r = $t->get(1, '/orders/43', bearer($cc->{access_token}));
expect_ok($r, 'the same token again', qr{^user=svc });
is($A->jwks_fetches, 1, 'keys cached: no second fetch');

###############################################################################################
# Authorization code: a user's login, identity in the access token

my $login = $A->code(user => 'alice', scope => 'openid email orders:read');
ok($login->{id_token}, 'code flow: an ID token');
($hdr, $claims) = AuthJwt::Node::jwt_parts($login->{access_token});
is($claims->{sub}, 'alice', 'code flow: access token of alice');
$r = $t->get(1, '/orders/mine', bearer($login->{access_token}));
expect_ok($r, "alice's access token", qr{^user=alice email=alice\@example\.test .*uri=/orders/mine$});

$r = $t->get(1, '/orders/mine', bearer($A->code(user => 'bob')->{access_token}));
expect_ok($r, "bob's access token", qr{^user=bob email=bob\@example\.test });

###############################################################################################
# One accepted token per signing algorithm

for my $alg (@ALGS) {
    my $tok = $A->cc(client => "svc-$alg", scope => 'orders:read orders:write')->{access_token};
    my ($h) = AuthJwt::Node::jwt_parts($tok);
    is("$h->{alg}/$h->{kid}", "$alg/k-$alg", "$alg: the provider signed with alg $alg, kid k-$alg");
    $r = $t->get(1, "/orders/$alg", bearer($tok));
    expect_ok($r, "$alg access token", qr{^user=svc-$alg .*uri=/orders/$alg$});
    is(h($r, 'x-kid'), "k-$alg", "$alg: \$jwt_header_kid");
}
is($A->jwks_fetches, 1, 'every algorithm from the one JWKS fetch');

###############################################################################################
# Rejections

$r = $t->get(1, '/orders/1', bearer($A->cc(client => 'svc', scope => 'orders:write')->{access_token}));
expect_status($r, 403, 'token without the orders:read scope');
like(h($r, 'www-authenticate') // '', qr/^Bearer realm="orders", error="insufficient_scope"/,
    'wrong scope: insufficient_scope challenge');
is(h($r, 'x-status'), 'forbidden', 'wrong scope: $jwt_status forbidden');
unlike($r->{body}, qr/user=/, 'wrong scope: backend not reached');

$r = $t->get(1, '/orders/1', bearer($login->{id_token}));
expect_invalid($r, 'orders', 'audience', 'ID token presented as access token');
unlike($r->{body}, qr/user=/, 'ID token: backend not reached');

my $b_tok = $B->cc(client => 'svc', scope => 'orders:read')->{access_token};
($hdr, $claims) = AuthJwt::Node::jwt_parts($b_tok);
is("$hdr->{kid} $claims->{aud}", "k-RS256 $RESOURCE", 'second provider: same kid and audience as the first');
# the signature is checked first: under the shared kid it fails; either reason is a 401
$r = $t->get(1, '/orders/1', bearer($b_tok));
expect_invalid($r, 'orders', undef, 'token of the second provider (other issuer, same kid)');
like(h($r, 'x-reason'), qr/^(?:bad_signature|issuer)$/, 'second provider, same kid: $jwt_reason');
$r = $t->get(1, '/any-issuer/1', bearer($b_tok));
expect_invalid($r, 'orders', 'bad_signature', 'second provider without an issuer check: its key is not the one under that kid');
is($A->jwks_fetches, 1, 'none of the rejected tokens caused a JWKS fetch');
# (another issuer's token under a kid A does not know must not use up A's refetch budget:
# t/oidc_bound.t)

sleep 0.1 while time < $short_t0 + 1.5;
$r = $t->get(1, '/orders/late', bearer($short));
expect_invalid($r, 'orders', 'expired', 'a token the provider issued for 1 s, later');

###############################################################################################
# Key rotation at the provider: restarted with a new RSA signing key (new kid)

my $old = $A->cc(client => 'svc', scope => 'orders:read')->{access_token};
my $old_es = $A->cc(client => 'svc-ES256', scope => 'orders:read')->{access_token};
$A->restart(keys => [[RS256 => 'k-RS256-2'], [ES256 => 'k-ES256']]);
my $new = $A->cc(client => 'svc', scope => 'orders:read')->{access_token};
($hdr) = AuthJwt::Node::jwt_parts($new);
is($hdr->{kid}, 'k-RS256-2', 'rotation: the provider signs with the new kid');

$r = $t->get(1, '/orders/rotated', bearer($new));
expect_ok($r, 'rotation: first token with the new kid, no reload', qr{^user=svc .*uri=/orders/rotated$});
is($A->jwks_fetches, 2, 'rotation: exactly one refetch');
expect_ok($t->get(1, '/orders/rotated2', bearer($new)), 'rotation: the new kid again');
expect_ok($t->get(1, '/orders/es', bearer($old_es)), 'rotation: a kept key (ES256) still verifies');
$r = $t->get(1, '/orders/old', bearer($old));
expect_invalid($r, 'orders', 'unknown_kid', 'rotation: a token of the removed key');
is($A->jwks_fetches, 2, 'rotation: no further refetch');

$A->stop;
$B->stop;
$t->finish;
done_testing;
