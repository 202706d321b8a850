#!/usr/bin/perl
# Tokens of two real OpenID providers (oidc-provider, t/node/provider.mjs) against
# auth_jwt_rs_type (README "Time and standard claims") and issuer-bound key sources
# (docs/multiple-issuers.md, auth_jwt_rs_key_request ... issuer= audience=):
#
#   - the main location with auth_jwt_rs_type at+jwt: the provider's access tokens accepted, its
#     ID token refused; where the audience would admit the ID token, `typ` alone refuses it;
#     typ matched case-insensitively with an optional "application/" prefix;
#   - one location, two providers whose keys share a kid: each provider's token accepted, each
#     only with its own keys (a token naming one issuer but signed with the other's key is
#     refused), audience= per issuer, an issuer with no source refused;
#   - the unknown-kid refetch: another issuer's token never uses up the refetch budget that
#     the provider's own key rotation needs, and a rotation refetches only the sources of the
#     rotating issuer.
# The provider tests that need neither feature are in t/oidc.t.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use AuthJwt::Node;
use JSON::PP;

AuthJwt::Node::require_node();

my $RES_A = 'https://orders.api.test';
my $RES_B = 'urn:partner:orders';
my $t = AuthJwt::Test->new;

# both providers sign their RS256 tokens under kid "k1", each with its own key
my $A = AuthJwt::Node->provider($t, name => 'idp-a', resource => $RES_A,
    keys => [[RS256 => 'k1'], [ES256 => 'a-es']], redirect_uris => ['http://127.0.0.1:9/callback']);
my $B = AuthJwt::Node->provider($t, name => 'idp-b', resource => $RES_B,
    keys => [[RS256 => 'k1'], [ES256 => 'b-es'], [EdDSA => 'b-ed']]);
my ($ISS_A, $ISS_B) = ($A->{issuer}, $B->{issuer});
my $JWKS_A = $A->discovery->{jwks_uri};
my $JWKS_B = $B->discovery->{jwks_uri};

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
my $KEYLOCS = key_location('a', $JWKS_A) . key_location('multi-a', $JWKS_A) . key_location('multi-b', $JWKS_B);

my $CONF = <<"EOF2";
http {
    %%BACKEND%%
    auth_jwt_rs_claim_set \$user  sub;
    auth_jwt_rs_claim_set \$email email;

    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs_realm "orders";
        add_header X-Status \$jwt_status always;
        add_header X-Reason \$jwt_reason always;
        proxy_set_header X-User  \$user;
        proxy_set_header X-Email \$email;
$KEYLOCS
        location /orders/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/a;
            auth_jwt_rs_issuer "$ISS_A";
            auth_jwt_rs_audience "$RES_A";
            auth_jwt_rs_type at+jwt;
            auth_jwt_rs_require_claim scope has orders:read;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        # an audience that also admits the ID token (aud = the client id): only typ differs
        location /typ/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/a;
            auth_jwt_rs_issuer "$ISS_A";
            auth_jwt_rs_audience "$RES_A" web;
            auth_jwt_rs_type at+jwt;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        # control: the same without auth_jwt_rs_type lets the ID token in
        location /no-typ/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/a;
            auth_jwt_rs_issuer "$ISS_A";
            auth_jwt_rs_audience "$RES_A" web;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        # two identity providers, each bound to its own keys and audience
        location /multi/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/multi-a issuer=$ISS_A audience=$RES_A;
            auth_jwt_rs_key_request /_jwks/multi-b issuer=$ISS_B audience=$RES_B;
            auth_jwt_rs_type at+jwt;
            auth_jwt_rs_require_claim scope has orders:read;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2

my ($ok, $out) = $t->conftest($CONF);
ok($ok, 'nginx -t accepts auth_jwt_rs_type and issuer=/audience= on auth_jwt_rs_key_request')
    or do { diag($out); done_testing; exit 1 };
$t->write_conf($CONF);
$t->run;

sub bearer { (Authorization => "Bearer $_[0]") }

# forge(KEY_PATH, ALG, HEADER_FIELDS, CLAIMS): a token signed with one of the providers' own
# private keys, with claims the provider would not issue.
my $JS = JSON::PP->new->canonical;
sub forge {
    my ($key, $alg, $hdr, $claims) = @_;
    return $t->mint(alg => $alg, key => $key, header => $JS->encode({ alg => $alg, %$hdr }),
        claims => { scope => 'orders:read', sub => 'mallory', %$claims }, exp_in => 300);
}

my $r;

###############################################################################################
# auth_jwt_rs_type at+jwt with the provider's tokens

my $at = $A->cc(client => 'svc', scope => 'orders:read')->{access_token};
my $login = $A->code(user => 'alice');
my ($id_hdr) = AuthJwt::Node::jwt_parts($login->{id_token});
isnt(lc($id_hdr->{typ} // ''), 'at+jwt', 'the provider\'s ID token is not typed at+jwt');

$r = $t->get(1, '/orders/1', bearer($at));
expect_ok($r, 'type at+jwt: client-credentials access token', qr{^user=svc });
$r = $t->get(1, '/orders/1', bearer($login->{access_token}));
expect_ok($r, "type at+jwt: alice's access token", qr{^user=alice email=alice\@example\.test });
$r = $t->get(1, '/orders/1', bearer($login->{id_token}));
expect_invalid($r, 'orders', undef, 'type at+jwt: ID token as access token');

$r = $t->get(1, '/typ/1', bearer($login->{id_token}));
expect_invalid($r, 'orders', 'type', 'audience admits the ID token: typ refuses it');
$r = $t->get(1, '/typ/1', bearer($login->{access_token}));
expect_ok($r, 'audience admits the ID token: the access token passes', qr{^user=alice });
$r = $t->get(1, '/no-typ/1', bearer($login->{id_token}));
expect_ok($r, 'control: without auth_jwt_rs_type the ID token passes', qr{^user=alice });

my %base = (iss => $ISS_A, aud => $RES_A);
for my $typ ('application/at+JWT', 'AT+JWT') {
    $r = $t->get(1, '/orders/2', bearer(forge($A->{key}{k1}, 'RS256', { typ => $typ, kid => 'k1' }, \%base)));
    expect_ok($r, "type at+jwt: typ \"$typ\" matches", qr{^user=mallory });
}
for my $typ ('JWT', 'application/jwt', 'at+jwt+x', undef) {
    my %h = (kid => 'k1', defined $typ ? (typ => $typ) : ());
    $r = $t->get(1, '/orders/3', bearer(forge($A->{key}{k1}, 'RS256', \%h, \%base)));
    expect_invalid($r, 'orders', 'type', 'type at+jwt: typ ' . ($typ // 'absent') . ' refused');
}
is($A->jwks_fetches, 1, 'type checks: one JWKS fetch');

###############################################################################################
# Two providers, one location: each only with its own keys

my $a_tok = $A->cc(client => 'svc', scope => 'orders:read')->{access_token};
my $b_tok = $B->cc(client => 'svc', scope => 'orders:read')->{access_token};
my ($ha) = AuthJwt::Node::jwt_parts($a_tok);
my ($hb) = AuthJwt::Node::jwt_parts($b_tok);
is("$ha->{kid} $hb->{kid}", 'k1 k1', 'both providers sign under kid k1');

$r = $t->get(1, '/multi/a', bearer($a_tok));
expect_ok($r, 'bound sources: token of provider A', qr{^user=svc .*uri=/multi/a$});
$r = $t->get(1, '/multi/b', bearer($b_tok));
expect_ok($r, 'bound sources: token of provider B', qr{^user=svc .*uri=/multi/b$});
$r = $t->get(1, '/multi/b-ed', bearer($B->cc(client => 'svc-EdDSA', scope => 'orders:read')->{access_token}));
expect_ok($r, "bound sources: provider B's EdDSA token", qr{^user=svc-EdDSA });
$r = $t->get(1, '/multi/alice', bearer($login->{access_token}));
expect_ok($r, "bound sources: alice's access token from A", qr{^user=alice });

my $at_hdr = { typ => 'at+jwt', kid => 'k1' };
$r = $t->get(1, '/multi/x', bearer(forge($A->{key}{k1}, 'RS256', $at_hdr, { iss => $ISS_B, aud => $RES_B })));
expect_invalid($r, 'orders', 'bad_signature', "bound sources: B's issuer, signed with A's key under B's kid");
$r = $t->get(1, '/multi/x', bearer(forge($B->{key}{k1}, 'RS256', $at_hdr, { iss => $ISS_A, aud => $RES_A })));
expect_invalid($r, 'orders', 'bad_signature', "bound sources: A's issuer, signed with B's key under A's kid");
$r = $t->get(1, '/multi/x', bearer(forge($A->{key}{k1}, 'RS256', $at_hdr, { iss => $ISS_A, aud => $RES_B })));
expect_invalid($r, 'orders', 'audience', "bound sources: A's token with B's audience");
$r = $t->get(1, '/multi/x', bearer(forge($A->{key}{k1}, 'RS256', $at_hdr, { iss => 'http://127.0.0.1:9', aud => $RES_A })));
expect_invalid($r, 'orders', 'issuer', 'bound sources: an issuer no source is bound to');
$r = $t->get(1, '/multi/x', bearer($login->{id_token}));
expect_invalid($r, 'orders', undef, 'bound sources: ID token of A');
$r = $t->get(1, '/orders/b', bearer($b_tok));
expect_invalid($r, 'orders', undef, 'location of A only: token of B');
is($B->jwks_fetches, 1, 'provider B: one JWKS fetch');
is($A->jwks_fetches, 2, 'provider A: one JWKS fetch per key request URI');

###############################################################################################
# The refetch budget: another issuer's token with a kid A does not know

# (ES256, an algorithm A's keys also have, so the kid is all that is unknown)
my $b_es = $B->cc(client => 'svc-ES256', scope => 'orders:read')->{access_token};
$r = $t->get(1, '/orders/b-es', bearer($b_es));
expect_invalid($r, 'orders', undef, "location of A only: B's token under a kid A does not know");
like(h($r, 'x-reason'), qr/^(?:issuer|unknown_kid)$/, "B's token under a kid A does not know: \$jwt_reason");
is($A->jwks_fetches, 2, "B's unknown kid did not make nginx refetch A's keys");

# rotation at A: the budget is intact, and only A's sources are refetched
$A->restart(keys => [[RS256 => 'k2'], [ES256 => 'a-es']]);
my $new = $A->cc(client => 'svc', scope => 'orders:read')->{access_token};
$r = $t->get(1, '/orders/rotated', bearer($new));
expect_ok($r, 'rotation at A: first token with the new kid on the location of A', qr{^user=svc });
is($A->jwks_fetches, 3, 'rotation at A: one refetch for /_jwks/a');
$r = $t->get(1, '/multi/rotated', bearer($new));
expect_ok($r, 'rotation at A: first token with the new kid on the two-provider location', qr{^user=svc });
is($A->jwks_fetches, 4, 'rotation at A: one refetch for /_jwks/multi-a');
is($B->jwks_fetches, 1, "rotation at A: B's keys not refetched");
expect_ok($t->get(1, '/multi/b2', bearer($b_tok)), 'rotation at A: B still accepted');

$A->stop;
$B->stop;
$t->finish;
done_testing;
