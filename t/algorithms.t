#!/usr/bin/perl
# README "Keys and algorithms", "auth_jwt_rs_algorithms": every supported alg with the right key;
# allow-list; alg none; key confusion; crit; embedded jwk; malformed tokens are 401 invalid_token
# (never 400/500/200).

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
    %%BACKEND%%

    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_realm "alg";
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        add_header X-Status $jwt_status always;
        add_header X-Reason $jwt_reason always;
        proxy_set_header X-User $jwt_claim_sub;
        large_client_header_buffers 4 64k;

        location /rsa/     { auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;     proxy_pass http://127.0.0.1:%%PORT_2%%; }
        location /ec256/   { auth_jwt_rs_key_file %%KEYS%%/ec256.pub.pem;   proxy_pass http://127.0.0.1:%%PORT_2%%; }
        location /ec384/   { auth_jwt_rs_key_file %%KEYS%%/ec384.pub.pem;   proxy_pass http://127.0.0.1:%%PORT_2%%; }
        location /ed25519/ { auth_jwt_rs_key_file %%KEYS%%/ed25519.pub.pem; proxy_pass http://127.0.0.1:%%PORT_2%%; }
        location /hs/      { auth_jwt_rs_secret_file %%KEYS%%/hs.secret;    proxy_pass http://127.0.0.1:%%PORT_2%%; }
        location /rs256only/ {
            auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
            auth_jwt_rs_algorithms RS256;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /hs384only/ {
            auth_jwt_rs_secret_file %%KEYS%%/hs.secret;
            auth_jwt_rs_algorithms HS384 HS512;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2
$t->run;

my %c = (claims => {sub => 'alice'}, exp_in => 300);
my $alice = qr/^user=alice /;
sub bearer { (Authorization => "Bearer $_[0]") }

# every algorithm with its key
my @algs = (
    [HS256 => secret => 'hs.secret', '/hs/'],
    [HS384 => secret => 'hs.secret', '/hs/'],
    [HS512 => secret => 'hs.secret', '/hs/'],
    (map { [$_ => key => 'rsa.key', '/rsa/'] } qw(RS256 RS384 RS512 PS256 PS384 PS512)),
    [ES256 => key => 'ec256.key', '/ec256/'],
    [ES384 => key => 'ec384.key', '/ec384/'],
    [EdDSA => key => 'ed25519.key', '/ed25519/'],
);
for my $a (@algs) {
    my ($alg, $kt, $kn, $loc) = @$a;
    my $tok = $t->mint(alg => $alg, $kt => $kn, %c);
    my $r = $t->get(1, $loc, bearer($tok));
    expect_ok($r, "$alg accepted", $alice);
}

# allow-list
expect_ok($t->get(1, '/rs256only/', bearer($t->mint(alg => 'RS256', key => 'rsa.key', %c))), 'RS256 allowed', $alice);
expect_invalid($t->get(1, '/rs256only/', bearer($t->mint(alg => 'RS384', key => 'rsa.key', %c))),
    'alg', 'alg_not_allowed', 'auth_jwt_rs_algorithms RS256 rejects RS384');
expect_invalid($t->get(1, '/rs256only/', bearer($t->mint(alg => 'PS256', key => 'rsa.key', %c))),
    'alg', 'alg_not_allowed', 'auth_jwt_rs_algorithms RS256 rejects PS256');
expect_invalid($t->get(1, '/hs384only/', bearer($t->mint(alg => 'HS256', secret => 'hs.secret', %c))),
    'alg', 'alg_not_allowed', 'auth_jwt_rs_algorithms HS384 HS512 rejects HS256');
expect_ok($t->get(1, '/hs384only/', bearer($t->mint(alg => 'HS512', secret => 'hs.secret', %c))), 'HS512 allowed', $alice);

# alg none, in any case, with empty and non-empty signature
my $payload = encode_json({sub => 'alice', exp => time + 300});
for my $none (qw(none None NONE nOnE)) {
    my $unsigned = b64url(qq({"alg":"$none","typ":"JWT"})) . '.' . b64url($payload);
    for my $sig ('', b64url('x' x 32)) {
        my $tok = AuthJwt::Test::track_token("$unsigned.$sig");
        for my $loc ('/rsa/', '/hs/') {
            my $r = $t->get(1, $loc, bearer($tok));
            expect_invalid($r, 'alg', undef, "alg $none, " . (length $sig ? 'non-empty' : 'empty') . " signature, $loc");
        }
    }
}
# alg none signed (HMAC) with the real secret: still refused
expect_invalid($t->get(1, '/hs/', bearer(hs256_token($t->secret('hs.secret'), '{"alg":"none"}', $payload))),
    'alg', undef, 'alg none with an HMAC signature');

# HS256 signed with the RSA public key PEM bytes, only that RSA key configured
for my $pem (qw(rsa.pub.pem rsa.pkcs1.pem)) {
    my $tok = $t->mint(alg => 'HS256', key => $pem, %c);
    expect_invalid($t->get(1, '/rsa/', bearer($tok)), 'alg', undef, "HS256 signed with $pem bytes (key confusion)");
}
# ES256 token against an ES384 key, ES384 against ES256, EdDSA against RSA
expect_invalid($t->get(1, '/ec384/', bearer($t->mint(alg => 'ES256', key => 'ec256.key', %c))), 'alg', undef, 'ES256 token, ES384 key');
expect_invalid($t->get(1, '/ec256/', bearer($t->mint(alg => 'ES384', key => 'ec384.key', %c))), 'alg', undef, 'ES384 token, ES256 key');
expect_invalid($t->get(1, '/rsa/', bearer($t->mint(alg => 'EdDSA', key => 'ed25519.key', %c))), 'alg', undef, 'EdDSA token, RSA key');
# header alg says RS256, signed PS256 (and vice versa)
expect_invalid($t->get(1, '/rsa/', bearer($t->mint(alg => 'PS256', key => 'rsa.key', header => '{"alg":"RS256"}', %c))),
    'alg', 'bad_signature', 'PS256 signature under an RS256 header');

# crit
expect_invalid($t->get(1, '/rsa/', bearer($t->mint(alg => 'RS256', key => 'rsa.key',
    header => '{"alg":"RS256","crit":["exp"],"exp":1}', %c))), 'alg', 'crit', 'crit header');
expect_invalid($t->get(1, '/rsa/', bearer($t->mint(alg => 'RS256', key => 'rsa.key',
    header => '{"alg":"RS256","crit":["b64"],"b64":true}', %c))), 'alg', 'crit', 'crit b64 header');

# embedded attacker jwk / jku / x5u: never used to verify
{
    # public JWK of rsa2 (the attacker's key) computed with openssl
    my $mod = `openssl rsa -pubin -in @{[$t->keys_dir]}/rsa2.pub.pem -noout -modulus`;
    $mod =~ s/^Modulus=//; chomp $mod;
    my $jwk = qq({"kty":"RSA","n":"@{[b64url(pack 'H*', $mod)]}","e":"AQAB"});
    for my $hdr (qq({"alg":"RS256","jwk":$jwk}), qq({"alg":"RS256","jku":"http://127.0.0.1:1/jwks"}),
                 qq({"alg":"RS256","x5u":"http://127.0.0.1:1/cert"})) {
        my $tok = $t->mint(alg => 'RS256', key => 'rsa2.key', header => $hdr, %c);
        my ($field) = $hdr =~ /"(jwk|jku|x5u)"/;
        expect_invalid($t->get(1, '/rsa/', bearer($tok)), 'alg', undef, "embedded $field header with attacker key");
    }
}

# malformed tokens
my $valid = $t->mint(alg => 'HS256', secret => 'hs.secret', %c);
my ($h64, $p64, $s64) = split /\./, $valid;
my $secret = $t->secret('hs.secret');
my %malformed = (
    'one segment'            => $h64,
    'two segments'           => "$h64.$p64",
    'trailing dot, empty signature' => "$h64.$p64.",
    'four segments'          => "$valid.$s64",
    'empty segments'         => '..',
    'bad base64url chars'    => "$h64.$p64.$s64" =~ s/^(.{5})./$1*/r,
    'base64 +/ chars'        => "$h64.$p64.$s64" =~ s/-/+/gr =~ s/_/\//gr =~ s/^([^.]*)/$1+\//r,
    '= padding'              => "$h64==.$p64.$s64",
    'padding on signature'   => "$h64.$p64.$s64=",
    'header not JSON'        => hs256_token($secret, 'not json', encode_json({sub => 'a', exp => time + 300})),
    'header JSON array'      => hs256_token($secret, '["alg","HS256"]', encode_json({sub => 'a', exp => time + 300})),
    'header JSON string'     => hs256_token($secret, '"HS256"', encode_json({sub => 'a', exp => time + 300})),
    'header without alg'     => hs256_token($secret, '{"typ":"JWT"}', encode_json({sub => 'a', exp => time + 300})),
    'payload not JSON (signed)'   => hs256_token($secret, '{"alg":"HS256"}', 'hello'),
    'payload JSON array (signed)' => hs256_token($secret, '{"alg":"HS256"}', '[1,2,3]'),
    'payload JSON number (signed)' => hs256_token($secret, '{"alg":"HS256"}', '42'),
    'empty signature'        => "$h64.$p64.",
    'signature truncated'    => "$h64.$p64." . substr($s64, 0, 20),
    'whitespace inside'      => "$h64 .$p64.$s64",
    'huge token (> 16 KiB)'  => hs256_token($secret, '{"alg":"HS256"}', encode_json({sub => 'a', exp => time + 300, pad => 'x' x 17000})),
);
for my $name (sort keys %malformed) {
    my $tok = AuthJwt::Test::track_token($malformed{$name});
    my $r = $t->get(1, '/hs/', bearer($tok));
    my $reason = $name =~ /huge/ ? 'too_large' : $name =~ /^(one|two|four|empty seg|bad base64|base64|= padding|padding|header not|header JSON|whitespace)/ ? 'malformed' : undef;
    expect_invalid($r, 'alg', $reason, "malformed: $name");
}

$t->finish;
done_testing;
