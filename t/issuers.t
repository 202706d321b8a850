#!/usr/bin/perl
# docs/multiple-issuers.md: key sources bound to an issuer (`issuer=`, `audience=` on
# auth_jwt_rs_key_request / _key_file / _secret_file) verify only that issuer's tokens, and no
# other source ever verifies them; an unknown kid refetches only the token's issuer's key
# requests, and only for a token that passes every check that needs no signature. Also
# auth_jwt_rs_max_lifetime and auth_jwt_rs_type at their boundaries.
#
# Two identity providers are real servers (one nginx server block each, with its own access
# log, serving JWKS files the test rewrites): the JWKS requests each one received are counted
# in its log.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use JSON::PP;

my $J = JSON::PP->new->canonical;

###############################################################################################
# Keys: RSA1 = rsa.key's public key, RSA2 = rsa2.key's, OCT = hs.secret as a JWK.

my $fixture = $J->decode(AuthJwt::Test::read_file_bytes(AuthJwt::Test::keys_src() . '/jwks.json'));
my ($RSA1) = grep { $_->{kid} eq 'rsa1' } @{ $fixture->{keys} };
die 't/keys/jwks.json lacks rsa1' unless $RSA1;
my $pem = AuthJwt::Test::keys_src() . '/rsa2.pub.pem';
my $mod = `openssl rsa -pubin -in '$pem' -noout -modulus 2>&1`;
die "openssl: $mod" unless $? == 0 && $mod =~ /^Modulus=([0-9A-Fa-f]+)\s*$/;
my $RSA2 = { kty => 'RSA', n => b64url(pack 'H*', $1), e => 'AQAB', use => 'sig', alg => 'RS256' };

sub as_kid { my ($jwk, $kid) = @_; return { %$jwk, kid => $kid } }
sub jwks { $J->encode({ keys => [@_] }) . "\n" }
sub bearer { (Authorization => "Bearer $_[0]") }

my $A = 'https://a.example/';
my $B = 'https://b.example';

my $t = AuthJwt::Test->new;
my $OCT = { kty => 'oct', k => b64url($t->secret('hs.secret')) };

# IdP A serves RSA1, IdP B serves RSA2, both under the same kid "k1" unless said otherwise.
for my $f (qw(main nocache rf rf2 mix)) {
    $t->write_file("idp-a/$f", jwks(as_kid($RSA1, 'k1')));
    $t->write_file("idp-b/$f", jwks(as_kid($RSA2, 'k1')));
}
# HS and RS mixed: A's key is an HMAC secret, B's an RSA key, same kid
$t->write_file('idp-a/hsrs', jwks(as_kid($OCT, 'k1')));
$t->write_file('idp-b/hsrs', jwks(as_kid($RSA1, 'k1')));

sub fetches {
    my ($idp, $name) = @_;
    return scalar grep { /^\/\Q$name\E\s/ } split /\n/, $t->read_file("logs/idp-$idp.log");
}

my $IDPS = '';
for my $idp (['a', 3], ['b', 4]) {
    my ($n, $port) = @$idp;
    $IDPS .= <<"EOF2";
    server {
        listen 127.0.0.1:%%PORT_$port%%;
        access_log logs/idp-$n.log idp;
        root %%PREFIX%%/idp-$n;
        default_type application/json;
    }
EOF2
}

$t->write_conf(<<"EOF2");
http {
    %%BACKEND%%
    log_format idp '\$uri \$status';
$IDPS
    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_realm "api";
        add_header X-Reason \$jwt_reason always;

        location /_jwks/a/ {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_3%%/;
            proxy_pass_request_headers off;
        }
        location /_jwks/b/ {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_4%%/;
            proxy_pass_request_headers off;
        }

        # two identity providers, each with its audience; inherited by /kr/
        auth_jwt_rs_key_request /_jwks/a/main issuer=$A audience=api-a;
        auth_jwt_rs_key_request /_jwks/b/main issuer=$B audience=api-b;

        location /kr/ { proxy_pass http://127.0.0.1:%%PORT_2%%; }
        # inherited with another key_cache: the same groups, rebuilt
        location /kr-ttl/ {
            auth_jwt_rs_key_cache 5m;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        # the same through auth_request and auth_jwt_rs_verify
        location /ar/ {
            auth_jwt_rs off;
            auth_request /auth/verify;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location = /auth/verify {
            internal;
            auth_jwt_rs_verify;
        }

        location /nocache/ {
            auth_jwt_rs_cache off;
            auth_jwt_rs_key_request /_jwks/a/nocache issuer=$A audience=api-a;
            auth_jwt_rs_key_request /_jwks/b/nocache issuer=$B audience=api-b;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /hsrs/ {
            auth_jwt_rs_key_request /_jwks/a/hsrs issuer=$A;
            auth_jwt_rs_key_request /_jwks/b/hsrs issuer=$B;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        # refetch: only the token's issuer, only for a token that passes every cheap check
        location /rf/ {
            auth_jwt_rs_key_request /_jwks/a/rf issuer=$A audience=api-a;
            auth_jwt_rs_key_request /_jwks/b/rf issuer=$B audience=api-b;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /rf2/ {
            auth_jwt_rs_key_request /_jwks/a/rf2 issuer=$A audience=api-a;
            auth_jwt_rs_key_request /_jwks/b/rf2 issuer=$B audience=api-b;
            auth_jwt_rs_algorithms RS256 ES256;
            auth_jwt_rs_max_lifetime 1h;
            auth_jwt_rs_type JWT at+jwt;
            auth_jwt_rs_issuer $A $B https://c.example;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        # a bound key request plus an unbound secret for every other issuer
        location /mix/ {
            auth_jwt_rs_key_request /_jwks/a/mix issuer=$A audience=api-a;
            auth_jwt_rs_secret_file %%KEYS%%/hs.secret;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        # files only: a secret for A, an RSA key for B, another secret unbound
        location /files/ {
            auth_jwt_rs_secret_file %%KEYS%%/hs.secret issuer=$A;
            auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem issuer=$B audience=api-b;
            auth_jwt_rs_secret_file %%KEYS%%/hs2.secret;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        # no issuer binding: rsa2 verifies any token (cross-location cache check)
        location /anyiss/ {
            auth_jwt_rs_key_file %%KEYS%%/rsa2.pub.pem;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        location /lifetime/ {
            auth_jwt_rs_secret_file %%KEYS%%/hs.secret;
            auth_jwt_rs_max_lifetime 1h;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /lifetime-off/ {
            auth_jwt_rs_secret_file %%KEYS%%/hs.secret;
            auth_jwt_rs_max_lifetime 1h;
            location /lifetime-off/inner/ {
                auth_jwt_rs_max_lifetime off;
                proxy_pass http://127.0.0.1:%%PORT_2%%;
            }
        }
        location /type/ {
            auth_jwt_rs_secret_file %%KEYS%%/hs.secret;
            auth_jwt_rs_type at+jwt;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /type-cached/ {
            auth_jwt_rs_secret_file %%KEYS%%/hs.secret;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        location = /metrics { auth_jwt_rs off; auth_jwt_rs_status; }
    }
}
EOF2
$t->run;

# tok(iss => ..., aud => ..., key => 'rsa.key' | secret => 'hs.secret', alg, kid, typ, header,
#     exp_in (default 600, undef: no exp), claims => {...extra}, no_iat => 1): iat is now unless
#     the claims give one or no_iat is set
sub tok {
    my (%a) = @_;
    my %claims = (sub => 'alice', %{ $a{claims} // {} });
    $claims{iss} = $a{iss} if defined $a{iss};
    $claims{aud} = $a{aud} if defined $a{aud};
    my @key = defined $a{secret} ? (secret => $a{secret}) : (key => $a{key} // 'rsa.key');
    my %m = (alg => $a{alg} // (defined $a{secret} ? 'HS256' : 'RS256'), @key, claims => \%claims);
    $m{kid} = $a{kid} if defined $a{kid};
    $m{typ} = $a{typ} if exists $a{typ};
    $m{header} = $a{header} if defined $a{header};
    $m{exp_in} = exists $a{exp_in} ? $a{exp_in} : 600;
    delete $m{exp_in} unless defined $m{exp_in};
    $m{iat_now} = 1 unless $a{no_iat} || exists $claims{iat};
    return $t->mint(%m);
}

# Every gate answer of this file goes through these two, so the decision counters of
# auth_jwt_rs_status can be compared with what the test saw.
my (%seen, $seen_ok);
sub okay {
    my ($path, $tok, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $seen_ok++;
    expect_ok($t->get(1, $path, bearer($tok)), $name);
}
sub refused {
    my ($path, $tok, $reason, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $seen{$reason}++;
    my $r = $t->get(1, $path, bearer($tok));
    expect_invalid($r, 'api', $reason, $name);
    return $r;
}

###############################################################################################
# A and B, each with its own keys; never with the other's

for my $loc ('kr', 'nocache') {
    my $a_ok = tok(iss => $A, aud => 'api-a', kid => 'k1', key => 'rsa.key');
    my $b_ok = tok(iss => $B, aud => 'api-b', kid => 'k1', key => 'rsa2.key');
    for my $round (1, 2) {    # the second round is answered from the cache in /kr/
        okay("/$loc/$round", $a_ok, "$loc: A's token with A's key ($round)");
        okay("/$loc/$round", $b_ok, "$loc: B's token with B's key ($round)");
        for my $kid ('k1', undef) {
            my $k = $kid // 'no kid';
            refused("/$loc/x", tok(iss => $A, aud => 'api-a', kid => $kid, key => 'rsa2.key'), 'bad_signature',
                "$loc: A's iss signed with B's key, $k ($round)");
            refused("/$loc/x", tok(iss => $B, aud => 'api-b', kid => $kid, key => 'rsa.key'), 'bad_signature',
                "$loc: B's iss signed with A's key, $k ($round)");
        }
        refused("/$loc/x", tok(iss => $A, aud => 'api-b', kid => 'k1'), 'audience',
            "$loc: A's token with B's audience ($round)");
        refused("/$loc/x", tok(iss => $B, aud => 'api-a', kid => 'k1', key => 'rsa2.key'), 'audience',
            "$loc: B's token with A's audience ($round)");
        refused("/$loc/x", tok(iss => $A, aud => [qw(other api-b)], kid => 'k1'), 'audience',
            "$loc: A's token with an aud array without A's audience ($round)");
        okay("/$loc/$round", tok(iss => $A, aud => [qw(other api-a)], kid => 'k1'),
            "$loc: A's token with an aud array holding A's audience ($round)");
        refused("/$loc/x", tok(iss => $A, kid => 'k1'), 'audience', "$loc: A's token without aud ($round)");
        # no unbound source: any other iss is refused, even one a bound key verifies
        refused("/$loc/x", tok(iss => 'https://c.example', aud => 'api-a', kid => 'k1'), 'issuer',
            "$loc: another issuer ($round)");
        refused("/$loc/x", tok(aud => 'api-a', kid => 'k1'), 'issuer', "$loc: no iss ($round)");
        refused("/$loc/x", tok(iss => 'https://a.example', aud => 'api-a', kid => 'k1'), 'issuer',
            "$loc: iss differs from A's by a trailing slash ($round)");
    }
    my $main = $loc eq 'kr' ? 'main' : 'nocache';
    is(fetches('a', $main), 1, "$loc: IdP A asked once");
    is(fetches('b', $main), 1, "$loc: IdP B asked once");
}

for my $loc ('kr-ttl', 'ar') {
    okay("/$loc/1", tok(iss => $A, aud => 'api-a', kid => 'k1'), "$loc: A's token");
    okay("/$loc/2", tok(iss => $B, aud => 'api-b', kid => 'k1', key => 'rsa2.key'), "$loc: B's token");
    refused("/$loc/3", tok(iss => $A, aud => 'api-a', kid => 'k1', key => 'rsa2.key'), 'bad_signature',
        "$loc: A's iss with B's key");
    refused("/$loc/4", tok(iss => $B, aud => 'api-a', kid => 'k1', key => 'rsa2.key'), 'audience',
        "$loc: B's token with A's audience");
}
is(fetches('a', 'main') . '/' . fetches('b', 'main'), '1/1', 'kr-ttl, ar: the same key requests, no new fetch');

# a token cached as verified by a key set without issuer binding never passes where its iss is
# bound to other keys
my $a_by_rsa2 = tok(iss => $A, aud => 'api-a', kid => 'k1', key => 'rsa2.key');
okay('/anyiss/1', $a_by_rsa2, 'anyiss: rsa2 verifies a token claiming A');
okay('/anyiss/2', $a_by_rsa2, 'anyiss: again (cached)');
refused('/kr/after-cache', $a_by_rsa2, 'bad_signature',
    "kr: the same token, cached as verified elsewhere, is refused (A is bound to A's keys)");
okay('/anyiss/3', $a_by_rsa2, 'anyiss: still accepted there');
refused('/kr/after-cache', $a_by_rsa2, 'bad_signature', 'kr: and refused again');

###############################################################################################
# HS and RS mixed, same kid: A's group holds an HMAC key, B's an RSA key

okay('/hsrs/1', tok(iss => $A, secret => 'hs.secret', kid => 'k1'), 'hsrs: A with its HMAC key');
okay('/hsrs/2', tok(iss => $B, key => 'rsa.key', kid => 'k1'), 'hsrs: B with its RSA key');
refused('/hsrs/3', tok(iss => $A, key => 'rsa.key', kid => 'k1'), 'alg_not_allowed',
    "hsrs: A's iss signed with B's RSA key");
refused('/hsrs/4', tok(iss => $B, secret => 'hs.secret', kid => 'k1'), 'alg_not_allowed',
    "hsrs: B's iss signed with A's secret");
# without kid, a token may be tried against every key of its issuer's group of the right type
okay('/hsrs/5', tok(iss => $A, secret => 'hs.secret'), 'hsrs: A, no kid');
refused('/hsrs/6', tok(iss => $A, secret => 'hs2.secret'), 'bad_signature', 'hsrs: A, no kid, another secret');
is(fetches('a', 'hsrs') + fetches('b', 'hsrs'), 2, 'hsrs: each IdP asked once, no refetch');

###############################################################################################
# Unknown kid: only the token's issuer's key requests are refetched

okay('/rf/1', tok(iss => $A, aud => 'api-a', kid => 'k1'), 'rf: A primes its keys');
okay('/rf/2', tok(iss => $B, aud => 'api-b', kid => 'k1', key => 'rsa2.key'), 'rf: B primes its keys');
is(fetches('a', 'rf') . '/' . fetches('b', 'rf'), '1/1', 'rf: one fetch each');
$t->write_file('idp-a/rf', jwks(as_kid($RSA1, 'k1'), as_kid($RSA1, 'k2')));
okay('/rf/3', tok(iss => $A, aud => 'api-a', kid => 'k2'), 'rf: A rotated to k2');
is(fetches('a', 'rf') . '/' . fetches('b', 'rf'), '2/1', "rf: A's unknown kid refetched A only");
$t->write_file('idp-b/rf', jwks(as_kid($RSA2, 'k1'), as_kid($RSA2, 'k3')));
okay('/rf/4', tok(iss => $B, aud => 'api-b', kid => 'k3', key => 'rsa2.key'), 'rf: B rotated to k3');
is(fetches('a', 'rf') . '/' . fetches('b', 'rf'), '2/2', "rf: B's unknown kid refetched B only");
# a kid that only B has, on A's token: A's keys only (A's refetch is rate-limited by now)
refused('/rf/5', tok(iss => $A, aud => 'api-a', kid => 'k3', key => 'rsa2.key'), 'unknown_kid',
    "rf: A's token with a kid only B has");
is(fetches('a', 'rf') . '/' . fetches('b', 'rf'), '2/2', 'rf: nothing fetched for it');

# Only a token that passes every check that needs no signature may refetch: none of these
# (all with the new kid, signed with the right key) uses up A's refetch.
okay('/rf2/1', tok(iss => $A, aud => 'api-a', kid => 'k1'), 'rf2: A primes its keys');
okay('/rf2/2', tok(iss => $B, aud => 'api-b', kid => 'k1', key => 'rsa2.key'), 'rf2: B primes its keys');
$t->write_file('idp-a/rf2', jwks(as_kid($RSA1, 'k1'), as_kid($RSA1, 'k-rot')));
my $now = int(time);
my %rot = (iss => $A, aud => 'api-a', kid => 'k-rot');
for my $case (
    [expired         => { %rot, exp_in => -10 }],
    [not_yet_valid   => { %rot, claims => { nbf => $now + 300 } }],
    [iat_future      => { %rot, claims => { iat => $now + 300 } }],
    [missing_exp     => { %rot, exp_in => undef }],
    [lifetime        => { %rot, exp_in => undef, claims => { iat => $now, exp => $now + 3601 } }],
    [type            => { %rot, typ => 'dpop+jwt' }],
    [type            => { %rot, typ => undef }],
    [audience        => { %rot, aud => 'api-b' }],
    [issuer          => { %rot, iss => 'https://c.example' }],
    [issuer          => { %rot, iss => 'https://d.example' }],
    [alg_not_allowed => { %rot, alg => 'PS256' }],
    [alg_not_allowed => { %rot, alg => 'HS256', secret => 'hs.secret' }],
    [crit            => { %rot, header => '{"alg":"RS256","typ":"JWT","kid":"k-rot","crit":["exp"]}' }],
) {
    my ($reason, $args) = @$case;
    refused('/rf2/x', tok(%$args), $reason, "rf2: new kid, but $reason");
}
is(fetches('a', 'rf2') . '/' . fetches('b', 'rf2'), '1/1', 'rf2: none of them refetched anything');
# B's token with the new kid: B's keys are refetched (B does not have it), not A's
refused('/rf2/3', tok(iss => $B, aud => 'api-b', kid => 'k-rot', key => 'rsa2.key'), 'unknown_kid',
    "rf2: B's token with A's new kid");
is(fetches('a', 'rf2') . '/' . fetches('b', 'rf2'), '1/2', "rf2: B's unknown kid refetched B, not A");
# A's refetch is still there for A's first good token of the new key
okay('/rf2/4', tok(%rot), "rf2: A's first good token of the rotated key");
is(fetches('a', 'rf2') . '/' . fetches('b', 'rf2'), '2/2', 'rf2: A refetched once');

###############################################################################################
# A bound key request and an unbound secret

okay('/mix/1', tok(iss => $A, aud => 'api-a', kid => 'k1'), "mix: A's token with A's key");
okay('/mix/2', tok(iss => 'https://other.example', secret => 'hs.secret'), 'mix: another issuer, the unbound secret');
okay('/mix/3', tok(secret => 'hs.secret'), 'mix: no iss, the unbound secret');
okay('/mix/4', tok(iss => 'https://other.example', secret => 'hs.secret', kid => 'zz'),
    'mix: another issuer, unknown kid, the unbound secret (it has no kid)');
refused('/mix/5', tok(iss => $A, aud => 'api-a', secret => 'hs.secret'), 'alg_not_allowed',
    "mix: A's iss with the unbound secret: never verified by it");
refused('/mix/6', tok(iss => 'https://other.example', kid => 'k1'), 'alg_not_allowed',
    "mix: another issuer with A's key: never verified by it");
refused('/mix/7', tok(iss => 'https://other.example', kid => 'new'), 'alg_not_allowed',
    "mix: another issuer with an unknown kid and A's key");
is(fetches('a', 'mix'), 1, 'mix: tokens of other issuers never refetch A');
refused('/mix/8', tok(iss => $A, aud => 'api-a', kid => 'new'), 'unknown_kid', "mix: A's token, unknown kid");
is(fetches('a', 'mix'), 2, "mix: A's own token did refetch A");

###############################################################################################
# Files only: HS for A, RS for B (with its audience), another secret unbound

okay('/files/1', tok(iss => $A, secret => 'hs.secret'), "files: A with A's secret");
refused('/files/2', tok(iss => $A, secret => 'hs2.secret'), 'bad_signature', "files: A with the unbound secret");
refused('/files/3', tok(iss => $A), 'alg_not_allowed', "files: A with B's RSA key");
okay('/files/4', tok(iss => $B, aud => 'api-b'), "files: B with B's key");
refused('/files/5', tok(iss => $B, aud => 'x'), 'audience', "files: B with another audience");
refused('/files/6', tok(iss => $B, aud => 'api-b', secret => 'hs.secret'), 'alg_not_allowed', "files: B with A's secret");
refused('/files/7', tok(iss => $B, aud => 'api-b', secret => 'hs2.secret'), 'alg_not_allowed',
    'files: B with the unbound secret');
okay('/files/8', tok(iss => 'https://other.example', secret => 'hs2.secret'), 'files: another issuer, unbound secret');
refused('/files/9', tok(iss => 'https://other.example', secret => 'hs.secret'), 'bad_signature',
    "files: another issuer with A's secret");
refused('/files/10', tok(iss => 'https://other.example'), 'alg_not_allowed', "files: another issuer with B's key");

###############################################################################################
# auth_jwt_rs_max_lifetime 1h: exp - iat == 3600 accepted, 3601 refused

$now = int(time);
my $iat = $now - 5;
my $at_max = tok(secret => 'hs.secret', exp_in => undef, claims => { iat => $iat, exp => $iat + 3600 });
my $over = tok(secret => 'hs.secret', exp_in => undef, claims => { iat => $iat, exp => $iat + 3601 });
for my $round (1, 2) {
    okay('/lifetime/1', $at_max, "lifetime: exp - iat = 3600 ($round)");
    my $r = refused('/lifetime/2', $over, 'lifetime', "lifetime: exp - iat = 3601 ($round)");
    my (undef, $p) = challenge_params(h($r, 'www-authenticate'));
    is($p->{error_description}, 'token lifetime too long', "lifetime: error_description ($round)");
}
refused('/lifetime/3', tok(secret => 'hs.secret', no_iat => 1), 'lifetime', 'lifetime: no iat');
refused('/lifetime/4', tok(secret => 'hs.secret', exp_in => undef, claims => { iat => $iat }), 'missing_exp',
    'lifetime: no exp (missing_exp comes first)');
refused('/lifetime/5', tok(secret => 'hs.secret', exp_in => undef, claims => { iat => $iat, exp => $iat + 3600.5 }),
    'lifetime', 'lifetime: 3600.5 s');
okay('/lifetime-off/inner/1', $over, 'lifetime: off at an inner level');

###############################################################################################
# auth_jwt_rs_type at+jwt: compared case-insensitively, with an optional application/ prefix

for my $typ ('at+jwt', 'application/AT+JWT', 'AT+JWT', 'Application/at+jwt') {
    okay('/type/1', tok(secret => 'hs.secret', typ => $typ), "type: typ \"$typ\"");
}
for my $typ ('JWT', 'application/jwt', 'at+jwt2', 'text/at+jwt', 'application/application/at+jwt') {
    refused('/type/2', tok(secret => 'hs.secret', typ => $typ), 'type', "type: typ \"$typ\"");
}
my $r = refused('/type/3', tok(secret => 'hs.secret', typ => undef), 'type', 'type: no typ');
my (undef, $p) = challenge_params(h($r, 'www-authenticate'));
is($p->{error_description}, 'token type not accepted', 'type: error_description');
refused('/type/4', tok(secret => 'hs.secret', header => '{"alg":"HS256","typ":["at+jwt"]}'), 'type',
    'type: typ not a string');
# the check runs on cached verdicts too
my $jwt_typed = tok(secret => 'hs.secret');
okay('/type-cached/1', $jwt_typed, 'type-cached: no type rule there (now cached)');
refused('/type/5', $jwt_typed, 'type', 'type: the cached token is still refused here');

###############################################################################################
# Metrics: every decision of this file counted under its reason

my $m = $t->get(1, '/metrics')->{body};
my ($ok_n) = $m =~ /^auth_jwt_rs_decisions_total\{status="ok",reason=""\} (\d+)$/m;
is($ok_n, $seen_ok, "metrics: $seen_ok ok decisions");
for my $reason (sort keys %seen) {
    my ($n) = $m =~ /^auth_jwt_rs_decisions_total\{status="invalid",reason="\Q$reason\E"\} (\d+)$/m;
    is($n, $seen{$reason}, "metrics: $seen{$reason} invalid decisions for $reason");
}
my @invalid = $m =~ /^auth_jwt_rs_decisions_total\{status="invalid",reason="([a-z_]+)"\}/mg;
is(join(',', sort @invalid), join(',', sort keys %seen), 'metrics: no other invalid reasons');

$t->finish;

###############################################################################################
# nginx-conf/multi-issuer.conf as written, with the IdP URLs pointed at two local JWKS servers
# (plain HTTP: the TLS lines left out), the listen port and the upstream the harness's.

my $x = AuthJwt::Test->new;
my $CORP = 'https://login.corp.example/realms/corp';
my $PARTNER = 'https://id.partner.example';
$x->write_file('idp-a/realms/corp/protocol/openid-connect/certs', jwks(as_kid($RSA1, 'c1')));
$x->write_file('idp-b/.well-known/jwks.json', jwks(as_kid($RSA2, 'p1')));
my $conf = AuthJwt::Test::read_file_bytes("$AuthJwt::Test::ROOT/nginx-conf/multi-issuer.conf");
$conf =~ s/^\s*load_module [^\n]*\n//m or die 'multi-issuer.conf: no load_module';
$conf =~ s/^events \{[^}]*\}\n//m or die 'multi-issuer.conf: no events block';
$conf =~ s/listen 8080;/listen 127.0.0.1:%%PORT_1%%;/ or die 'multi-issuer.conf: no listen 8080';
$conf =~ s/server 127\.0\.0\.1:9000;/server 127.0.0.1:%%PORT_2%%;/ or die 'multi-issuer.conf: no upstream';
$conf =~ s{"https://login\.corp\.example/}{"http://127.0.0.1:%%PORT_3%%/} or die 'multi-issuer.conf: no corp URL';
$conf =~ s{"https://id\.partner\.example/}{"http://127.0.0.1:%%PORT_4%%/} or die 'multi-issuer.conf: no partner URL';
$conf =~ s/^\s*proxy_ssl_\w+ [^\n]*\n//mg;
$conf =~ s|^http \{|http {\n    %%BACKEND%%\n    log_format idp '\$uri \$status';\n$IDPS|m or die 'no http block';
$x->write_conf($conf);
$x->run;

my $ex = sub {
    my ($iss, $aud, $key, $kid, %o) = @_;
    my %c = (iss => $iss, aud => $aud, sub => 'alice', %{ $o{claims} // {} });
    return $x->mint(alg => 'RS256', key => $key, kid => $kid, typ => $o{typ} // 'at+jwt',
        claims => \%c, exp_in => $o{exp_in} // 300, iat_now => 1);
};
my $corp = $ex->($CORP, 'api://orders', 'rsa.key', 'c1');
my $partner = $ex->($PARTNER, 'orders', 'rsa2.key', 'p1');
my $x_get = sub { $x->get(1, $_[0], bearer($_[1])) };
expect_ok($x_get->('/orders/1', $corp), 'example: an employee token', qr/^user=alice /);
expect_ok($x_get->('/orders/1', $partner), 'example: a partner token', qr/^user=alice /);
expect_ok($x_get->('/orders/refunds/1', $corp), 'example: refunds, employee');
expect_status($x_get->('/orders/refunds/1', $partner), 403, 'example: refunds, partner');
for my $case (
    [[$CORP, 'api://orders', 'rsa2.key', 'p1'], "the corp iss signed with the partner's key"],
    [[$CORP, 'api://orders', 'rsa2.key', 'c1'], "the corp iss, the corp kid, the partner's key"],
    [[$PARTNER, 'orders', 'rsa.key', 'c1'], "the partner iss signed with the corp key"],
    [[$CORP, 'orders', 'rsa.key', 'c1'], "a corp token with the partner's audience"],
    [[$PARTNER, 'api://orders', 'rsa2.key', 'p1'], "a partner token with the corp audience"],
    [['https://evil.example', 'orders', 'rsa2.key', 'p1'], 'another issuer'],
    [[$CORP, 'api://orders', 'rsa.key', 'c1', typ => 'JWT'], 'an ID token (typ JWT)'],
    [[$CORP, 'api://orders', 'rsa.key', 'c1', exp_in => 3601], 'a token valid for more than 1h'],
) {
    my ($args, $name) = @$case;
    my $r = $x_get->('/orders/2', $ex->(@$args));
    expect_status($r, 401, "example: $name");
    like(h($r, 'www-authenticate') // '', qr/^Bearer realm="orders", error="invalid_token"/,
        "example: $name: invalid_token");
}
# each IdP: the first fetch, and one refetch for the other provider's kid on a token of its
# own issuer that passed every other check (the corp iss with kid p1, the partner iss with c1)
is(scalar(grep { m{^/realms/corp/protocol/openid-connect/certs 200} } split /\n/, $x->read_file('logs/idp-a.log')),
    2, 'example: the corp IdP asked twice');
is(scalar(grep { m{^/\.well-known/jwks\.json 200} } split /\n/, $x->read_file('logs/idp-b.log')),
    2, 'example: the partner IdP asked twice');
$x->finish;

done_testing;
