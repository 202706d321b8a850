#!/bin/sh
# Regenerates the test key fixtures in this directory (they are checked in; running this again
# produces new random keys, which is fine: no test hard-codes key material).
# Needs: openssl (3.x), perl (core modules only).
set -eu
cd "$(dirname "$0")"

umask 022

# RSA 2048: private PKCS#8, public SPKI, public PKCS#1, self-signed certificate.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key
openssl pkey -in rsa.key -pubout -out rsa.pub.pem
openssl rsa -in rsa.key -RSAPublicKey_out -out rsa.pkcs1.pem 2>/dev/null
openssl req -new -x509 -key rsa.key -subj "/CN=auth-jwt-rs test" -days 36500 -out rsa.crt

# A second, unrelated RSA 2048 key (wrong-key / attacker-key tests).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2.key
openssl pkey -in rsa2.key -pubout -out rsa2.pub.pem

# RSA 1024 public key (must be refused at config time).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 2>/dev/null \
    | openssl pkey -pubout -out rsa1024.pub.pem

# EC P-256, P-384 (private PKCS#8 + SPKI), P-521 (public only; not a supported curve).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec256.key
openssl pkey -in ec256.key -pubout -out ec256.pub.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ec384.key
openssl pkey -in ec384.key -pubout -out ec384.pub.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 \
    | openssl pkey -pubout -out ec521.pub.pem

# Ed25519.
openssl genpkey -algorithm ED25519 -out ed25519.key
openssl pkey -in ed25519.key -pubout -out ed25519.pub.pem

# HMAC secrets: 48 ASCII bytes + newline; a second unrelated one; a 20-byte (too short) one.
openssl rand -base64 36 > hs.secret
openssl rand -base64 36 > hs2.secret
openssl rand -hex 10 > short.secret

# JWK / JWKS files, computed from the keys above.
rsa_n=$(openssl rsa -pubin -in rsa.pub.pem -noout -modulus | sed 's/^Modulus=//')
rsa2_n=$(openssl rsa -pubin -in rsa2.pub.pem -noout -modulus | sed 's/^Modulus=//')
ec_pub=$(openssl pkey -pubin -in ec256.pub.pem -noout -text \
    | sed -n '/^pub:/,/^ASN1 OID/p' | grep -v -e '^pub:' -e '^ASN1' | tr -d ' :\n')

RSA_N="$rsa_n" RSA2_N="$rsa2_n" EC_PUB="$ec_pub" perl -MMIME::Base64 -e '
    sub b64u { my $s = MIME::Base64::encode_base64($_[0], ""); $s =~ tr{+/}{-_}; $s =~ s/=+$//; $s }
    sub hexb64u { b64u(pack "H*", $_[0]) }
    my $n = hexb64u($ENV{RSA_N});
    my $n2 = hexb64u($ENV{RSA2_N});
    my $pt = $ENV{EC_PUB};
    die "unexpected EC point $pt\n" unless $pt =~ /^04([0-9a-f]{64})([0-9a-f]{64})$/;
    my ($x, $y) = (hexb64u($1), hexb64u($2));
    open my $fh, "<", "hs.secret" or die; local $/; my $secret = <$fh>; close $fh;
    $secret =~ s/\n\z//;
    my $k = b64u($secret);
    my $rsa = qq{"kty":"RSA","n":"$n","e":"AQAB"};
    my %files = (
        "jwks.json" => qq({"keys":[{$rsa,"kid":"rsa1","use":"sig","alg":"RS256"},)
            . qq({"kty":"EC","crv":"P-256","x":"$x","y":"$y","kid":"ec1","use":"sig","alg":"ES256"}]}\n),
        "jwks-mixed-use.json" => qq({"keys":[{"kty":"RSA","n":"$n2","e":"AQAB","kid":"enc1","use":"enc"},)
            . qq({$rsa,"kid":"rsa1","use":"sig"}]}\n),
        "rsa.jwk.json"       => qq({$rsa}\n),
        "rsa.enc.jwk.json"   => qq({$rsa,"use":"enc"}\n),
        "rsa.rs384.jwk.json" => qq({$rsa,"alg":"RS384"}\n),
        "hmac.jwk.json"      => qq({"kty":"oct","k":"$k","kid":"hmac1"}\n),
    );
    for my $f (sort keys %files) {
        open my $o, ">", $f or die "$f: $!"; print $o $files{$f}; close $o;
    }
'
echo "keys regenerated in $(pwd)"
