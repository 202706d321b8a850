#!/usr/bin/perl
# README "Time and standard claims": exp / nbf / iat with leeway, require_exp, issuer, audience.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;

my $t = AuthJwt::Test->new;
$t->write_conf(<<'EOF2');
http {
    %%BACKEND%%

    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_realm "time";
        auth_jwt_rs_secret_file %%KEYS%%/hs.secret;
        add_header X-Status $jwt_status always;
        add_header X-Reason $jwt_reason always;
        proxy_set_header X-User $jwt_claim_sub;

        location /strict/ {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /noexp/ {
            auth_jwt_rs_require_exp off;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /leeway/ {
            auth_jwt_rs_leeway 60s;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /leeway2m/ {
            auth_jwt_rs_leeway 2m;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /iss/ {
            auth_jwt_rs_issuer https://a.example https://b.example;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /aud/ {
            auth_jwt_rs_audience api-1 api-2;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2
$t->run;

my $alice = qr/^user=alice /;
sub tok { $t->mint(alg => 'HS256', secret => 'hs.secret', claims => {sub => 'alice', %{ $_[0] }}) }
sub req { my ($loc, $claims) = @_; $t->get(1, $loc, Authorization => 'Bearer ' . tok($claims)) }

# exp (now >= exp + leeway is expired). The clock may tick between minting and checking, which
# only ever makes an "expired" verdict more certain; "valid" cases keep a margin of >= 5 s.
my $now = time;
expect_invalid(req('/strict/', {exp => $now}), 'time', 'expired', 'exp == now');
expect_invalid(req('/strict/', {exp => $now - 1}), 'time', 'expired', 'exp == now - 1');
expect_invalid(req('/strict/', {exp => $now - 86400}), 'time', 'expired', 'exp yesterday');
expect_ok(req('/strict/', {exp => time + 5}), 'exp == now + 5', $alice);
expect_ok(req('/strict/', {exp => time + 86400 * 365 * 50}), 'exp in 50 years', $alice);
expect_invalid(req('/strict/', {}), 'time', 'missing_exp', 'missing exp (require_exp on by default)');
expect_ok(req('/noexp/', {}), 'auth_jwt_rs_require_exp off accepts a token without exp', $alice);
expect_invalid(req('/noexp/', {exp => time - 10}), 'time', 'expired', 'require_exp off still checks exp');

# exp/nbf/iat must be numbers
expect_invalid(req('/strict/', {exp => '' . (time + 300)}), 'time', 'bad_time_claim', 'exp as string');
expect_invalid(req('/strict/', {exp => JSON::PP::true}), 'time', 'bad_time_claim', 'exp as bool');
expect_invalid(req('/strict/', {exp => undef}), 'time', undef, 'exp null');
expect_invalid(req('/strict/', {exp => time + 300, nbf => '' . (time - 10)}), 'time', 'bad_time_claim', 'nbf as string');
expect_invalid(req('/strict/', {exp => time + 300, iat => '' . (time - 10)}), 'time', 'bad_time_claim', 'iat as string');
expect_ok(req('/strict/', {exp => time + 300.5}), 'exp as a fractional number', $alice);

# nbf
expect_invalid(req('/strict/', {exp => time + 300, nbf => time + 30}), 'time', 'not_yet_valid', 'nbf in the future');
expect_ok(req('/strict/', {exp => time + 300, nbf => time - 5}), 'nbf in the past', $alice);
expect_ok(req('/strict/', {exp => time + 300, nbf => time}), 'nbf == now', $alice);

# iat
expect_invalid(req('/strict/', {exp => time + 300, iat => time + 30}), 'time', 'iat_future', 'iat in the future');
expect_ok(req('/strict/', {exp => time + 300, iat => time - 5}), 'iat in the past', $alice);

# leeway
expect_ok(req('/leeway/', {exp => time + 300, nbf => time + 30}), 'leeway 60s: nbf = now + 30', $alice);
expect_ok(req('/leeway/', {exp => time - 30}), 'leeway 60s: exp = now - 30', $alice);
expect_ok(req('/leeway/', {exp => time + 300, iat => time + 30}), 'leeway 60s: iat = now + 30', $alice);
expect_invalid(req('/leeway/', {exp => time - 90}), 'time', 'expired', 'leeway 60s: exp = now - 90');
expect_invalid(req('/leeway/', {exp => time + 300, nbf => time + 90}), 'time', 'not_yet_valid', 'leeway 60s: nbf = now + 90');
expect_invalid(req('/leeway/', {exp => time + 300, iat => time + 90}), 'time', 'iat_future', 'leeway 60s: iat = now + 90');
expect_ok(req('/leeway2m/', {exp => time - 90}), 'leeway 2m: exp = now - 90', $alice);

# issuer
expect_ok(req('/iss/', {exp => time + 300, iss => 'https://a.example'}), 'iss: first value', $alice);
expect_ok(req('/iss/', {exp => time + 300, iss => 'https://b.example'}), 'iss: second value', $alice);
expect_invalid(req('/iss/', {exp => time + 300, iss => 'https://c.example'}), 'time', 'issuer', 'iss: mismatch');
expect_invalid(req('/iss/', {exp => time + 300, iss => 'https://a.example/'}), 'time', 'issuer', 'iss: trailing slash is a mismatch');
expect_invalid(req('/iss/', {exp => time + 300, iss => 42}), 'time', 'issuer', 'iss: number');
expect_invalid(req('/iss/', {exp => time + 300, iss => ['https://a.example']}), 'time', 'issuer', 'iss: array');
expect_invalid(req('/iss/', {exp => time + 300}), 'time', 'issuer', 'iss: missing');
expect_ok(req('/strict/', {exp => time + 300, iss => 'anything'}), 'no issuer configured: iss ignored', $alice);

# audience
expect_ok(req('/aud/', {exp => time + 300, aud => 'api-2'}), 'aud: string match', $alice);
expect_ok(req('/aud/', {exp => time + 300, aud => ['other', 'api-1']}), 'aud: array match', $alice);
expect_invalid(req('/aud/', {exp => time + 300, aud => [7, 'other']}), 'time', 'audience', 'aud: array with a non-string, no match');
expect_invalid(req('/aud/', {exp => time + 300, aud => [7]}), 'time', 'audience', 'aud: array of a number');
expect_invalid(req('/aud/', {exp => time + 300, aud => 'api-3'}), 'time', 'audience', 'aud: wrong');
expect_invalid(req('/aud/', {exp => time + 300, aud => []}), 'time', 'audience', 'aud: empty array');
expect_invalid(req('/aud/', {exp => time + 300, aud => 'api-1 api-2'}), 'time', 'audience', 'aud: space-joined string');
expect_invalid(req('/aud/', {exp => time + 300}), 'time', 'audience', 'aud: missing');

$t->finish;
done_testing;
