#!/usr/bin/perl
# README "auth_jwt_rs_key_file", "Keys and algorithms": PEM (SPKI, PKCS#1, certificate), JWK, JWKS
# with kids, secret file, oct JWK, several key files; kid-strict selection; JWK use/alg honoured.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;

my $t = AuthJwt::Test->new;

my %loc = (
    spki      => 'auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;',
    pkcs1     => 'auth_jwt_rs_key_file %%KEYS%%/rsa.pkcs1.pem;',
    cert      => 'auth_jwt_rs_key_file %%KEYS%%/rsa.crt;',
    jwk       => 'auth_jwt_rs_key_file %%KEYS%%/rsa.jwk.json;',
    jwks      => 'auth_jwt_rs_key_file %%KEYS%%/jwks.json;',
    secret    => 'auth_jwt_rs_secret_file %%KEYS%%/hs.secret;',
    oct       => 'auth_jwt_rs_key_file %%KEYS%%/hmac.jwk.json;',
    multi     => "auth_jwt_rs_key_file %%KEYS%%/rsa2.pub.pem;\n"
               . "            auth_jwt_rs_key_file %%KEYS%%/ec256.pub.pem;\n"
               . "            auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;\n"
               . "            auth_jwt_rs_secret_file %%KEYS%%/hs.secret;",
    mixeduse  => 'auth_jwt_rs_key_file %%KEYS%%/jwks-mixed-use.json;',
    rs384     => 'auth_jwt_rs_key_file %%KEYS%%/rsa.rs384.jwk.json;',
    # a kid-carrying JWKS next to a kid-less PEM of another key
    mixed     => "auth_jwt_rs_key_file %%KEYS%%/jwks.json;\n"
               . "            auth_jwt_rs_key_file %%KEYS%%/rsa2.pub.pem;",
);
my $locations = join '', map {
    "        location /$_/ {\n            $loc{$_}\n            proxy_pass http://127.0.0.1:%%PORT_2%%;\n        }\n"
} sort keys %loc;

$t->write_conf(<<"EOF2");
http {
    %%BACKEND%%

    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_realm "keys";
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        add_header X-Status \$jwt_status always;
        add_header X-Reason \$jwt_reason always;
        proxy_set_header X-User \$jwt_claim_sub;

$locations
        # inheritance: a level that sets key sources replaces the enclosing level's
        location /inherit/ {
            auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
            proxy_pass http://127.0.0.1:%%PORT_2%%;

            location /inherit/inner/ {
                proxy_pass http://127.0.0.1:%%PORT_2%%;
            }
            location /inherit/replaced/ {
                auth_jwt_rs_key_file %%KEYS%%/rsa2.pub.pem;
                proxy_pass http://127.0.0.1:%%PORT_2%%;
            }
        }
    }
}
EOF2
$t->run;

my %claims = (claims => {sub => 'alice'}, exp_in => 300);
my $rsa      = $t->mint(alg => 'RS256', key => 'rsa.key', %claims);
my $rsa_kid  = $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'rsa1', %claims);
my $rsa_other_kid = $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'whatever', %claims);
my $rsa_ec1  = $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'ec1', %claims);
my $rsa384   = $t->mint(alg => 'RS384', key => 'rsa.key', %claims);
my $rsa2     = $t->mint(alg => 'RS256', key => 'rsa2.key', %claims);
my $rsa2_kid = $t->mint(alg => 'RS256', key => 'rsa2.key', kid => 'rsa1', %claims);
my $ec_kid   = $t->mint(alg => 'ES256', key => 'ec256.key', kid => 'ec1', %claims);
my $ec       = $t->mint(alg => 'ES256', key => 'ec256.key', %claims);
my $hs       = $t->mint(alg => 'HS256', secret => 'hs.secret', %claims);
my $hs_kid   = $t->mint(alg => 'HS256', secret => 'hs.secret', kid => 'hmac1', %claims);
my $hs2      = $t->mint(alg => 'HS256', secret => 'hs2.secret', %claims);
my $alice = qr/^user=alice /;

sub bearer { (Authorization => "Bearer $_[0]") }

# PEM kinds
for my $k (qw(spki pkcs1 cert jwk)) {
    expect_ok($t->get(1, "/$k/", bearer($rsa)), "$k: RS256 token", $alice);
    expect_ok($t->get(1, "/$k/", bearer($rsa_kid)), "$k: kid-less key accepts a token with a kid", $alice);
    expect_invalid($t->get(1, "/$k/", bearer($rsa2)), 'keys', 'bad_signature', "$k: other key's token");
    expect_invalid($t->get(1, "/$k/", bearer($hs)), 'keys', undef, "$k: HS256 token against an RSA key");
}

# JWKS with kids
expect_ok($t->get(1, '/jwks/', bearer($rsa_kid)), 'jwks: kid rsa1', $alice);
expect_ok($t->get(1, '/jwks/', bearer($ec_kid)), 'jwks: kid ec1', $alice);
expect_invalid($t->get(1, '/jwks/', bearer($rsa_other_kid)), 'keys', 'unknown_kid', 'jwks: unknown kid');
expect_invalid($t->get(1, '/jwks/', bearer($rsa2_kid)), 'keys', 'bad_signature', 'jwks: kid rsa1, other key');
expect_invalid($t->get(1, '/jwks/', bearer($rsa_ec1)), 'keys', undef,
    'jwks: RSA-signed token naming the EC kid is not verified by the RSA key');
my $r = $t->get(1, '/jwks/', bearer($rsa));
is($r->{status}, 200, 'jwks: token without kid may be tried against each key');

# kid-carrying JWKS + kid-less PEM
expect_ok($t->get(1, '/mixed/', bearer($rsa_kid)), 'mixed: kid rsa1 -> JWKS key', $alice);
expect_invalid($t->get(1, '/mixed/', bearer($rsa2_kid)), 'keys', 'bad_signature',
    'mixed: kid rsa1 signed by the PEM key: only the kid rsa1 key is tried');
expect_ok($t->get(1, '/mixed/', bearer($rsa2)), 'mixed: no kid -> PEM key', $alice);
$r = $t->get(1, '/mixed/', bearer($t->mint(alg => 'RS256', key => 'rsa2.key', kid => 'nope', %claims)));
expect_ok($r, 'mixed: unknown kid -> kid-less PEM key', $alice);
$r = $t->get(1, '/mixed/', bearer($t->mint(alg => 'RS256', key => 'rsa.key', kid => 'nope', %claims)));
expect_invalid($r, 'keys', undef, 'mixed: unknown kid signed by the JWKS key: not verified by it');

# secrets
expect_ok($t->get(1, '/secret/', bearer($hs)), 'secret file: HS256', $alice);
expect_ok($t->get(1, '/secret/', bearer($hs_kid)), 'secret file: HS256 with a kid', $alice);
expect_invalid($t->get(1, '/secret/', bearer($hs2)), 'keys', 'bad_signature', 'secret file: other secret');
expect_invalid($t->get(1, '/secret/', bearer($rsa)), 'keys', undef, 'secret file: RS256 token');
expect_ok($t->get(1, '/oct/', bearer($hs_kid)), 'oct JWK: HS256 kid hmac1', $alice);
expect_invalid($t->get(1, '/oct/', bearer($hs2)), 'keys', 'bad_signature', 'oct JWK: other secret');
expect_invalid($t->get(1, '/oct/', bearer($rsa)), 'keys', undef, 'oct JWK: RS256 token');

# several key files
for ([rsa => $rsa], [rsa2 => $rsa2], [ec256 => $ec], [hs => $hs]) {
    expect_ok($t->get(1, '/multi/', bearer($_->[1])), "multi: $_->[0] token", $alice);
}
expect_invalid($t->get(1, '/multi/', bearer($hs2)), 'keys', 'bad_signature', 'multi: unknown secret');

# JWK use/alg
my $enc_kid = $t->mint(alg => 'RS256', key => 'rsa2.key', kid => 'enc1', %claims);
expect_invalid($t->get(1, '/mixeduse/', bearer($enc_kid)), 'keys', undef, 'JWKS: the use=enc key never verifies');
expect_invalid($t->get(1, '/mixeduse/', bearer($rsa2)), 'keys', undef, 'JWKS: the use=enc key never verifies (no kid)');
expect_ok($t->get(1, '/mixeduse/', bearer($rsa_kid)), 'JWKS with a use=enc key: the sig key works', $alice);
expect_ok($t->get(1, '/rs384/', bearer($rsa384)), 'JWK alg=RS384: RS384 token', $alice);
expect_invalid($t->get(1, '/rs384/', bearer($rsa)), 'keys', undef, 'JWK alg=RS384: RS256 token rejected');

# inheritance of key sources
expect_ok($t->get(1, '/inherit/inner/x', bearer($rsa)), 'inner location inherits key file', $alice);
expect_ok($t->get(1, '/inherit/replaced/x', bearer($rsa2)), 'key file at inner level', $alice);
expect_invalid($t->get(1, '/inherit/replaced/x', bearer($rsa)), 'keys', 'bad_signature',
    'key file at inner level replaces the outer one');

$t->finish;

# A file whose only key is use=enc: either a config error naming the file, or a key that never
# verifies.
my $t2 = AuthJwt::Test->new;
my $conf2 = <<'EOF2';
http {
    %%BACKEND%%
    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_key_file %%KEYS%%/rsa.enc.jwk.json;
        location / { proxy_pass http://127.0.0.1:%%PORT_2%%; }
    }
}
EOF2
my ($ok, $out) = $t2->conftest($conf2);
if ($ok) {
    $t2->write_conf($conf2)->run;
    expect_invalid($t2->get(1, '/', bearer($rsa)), undef, undef, 'JWK use=enc never verifies');
} else {
    like($out, qr/\[emerg\] [^\n]*rsa\.enc\.jwk\.json[^\n]* in \S+nginx\.conf:\d+/, 'JWK use=enc refused at config time, naming the file');
}
$t2->finish;
done_testing;
