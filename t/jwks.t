#!/usr/bin/perl
# README "auth_jwt_rs_key_request" / "auth_jwt_rs_key_cache", docs/key-rotation.md (unknown kid):
# end to end against a JWKS server in the same nginx (a server block serving files from the
# test's prefix, which the test rewrites), counting the JWKS server's access-log lines to know
# exactly how many fetches happened.
#
#   Part A  cold cache, one fetch for many requests, rotation (one refetch, then the 30 s rate
#           limit), inheritance, key files + key request, two URIs, auth_jwt_rs_verify with an
#           empty cache, client credentials and body kept from the JWKS server.
#   Part B  key request failing from the start and garbage responses: 500, a log line, no crash;
#           the 5 s pause after a failure; subrequest_output_buffer_size.
#   Part C  auth_jwt_rs_key_cache expiry, JWKS server failing after a good fetch (keys kept,
#           warn line), recovery with a rotated key, nginx proxy_cache in the key location.
#   Part D  configuration errors.
#   Part E  the key location of nginx-conf/idp-jwks.conf, end to end.
#
# The burst of concurrent first requests and the raw request the IdP sees are in
# t/jwks_burst.t; the 30 s refetch window running out is in t/jwks_refetch.t.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use JSON::PP;
use IO::Compress::Gzip qw(gzip $GzipError);
use Time::HiRes qw(sleep time);

my $J = JSON::PP->new->canonical;

###############################################################################################
# Key material: the JWKs of t/keys/jwks.json, plus rsa2.pub.pem as a JWK computed here.

my $fixture = $J->decode(AuthJwt::Test::read_file_bytes(AuthJwt::Test::keys_src() . '/jwks.json'));
my ($RSA1) = grep { $_->{kid} eq 'rsa1' } @{ $fixture->{keys} };
my ($EC1)  = grep { $_->{kid} eq 'ec1' } @{ $fixture->{keys} };
die "t/keys/jwks.json lacks rsa1/ec1" unless $RSA1 && $EC1;

sub rsa_jwk_from_pem {
    my ($pem, %extra) = @_;
    my $out = `openssl rsa -pubin -in '$pem' -noout -modulus 2>&1`;
    die "openssl -modulus failed for $pem: $out" unless $? == 0 && $out =~ /^Modulus=([0-9A-Fa-f]+)\s*$/;
    return { kty => 'RSA', n => b64url(pack 'H*', $1), e => 'AQAB', %extra };
}
my $RSA2 = rsa_jwk_from_pem(AuthJwt::Test::keys_src() . '/rsa2.pub.pem', kid => 'rsa2', use => 'sig', alg => 'RS256');
my $EC_NEW = { %$EC1, kid => 'ec-new' };
my $RSA1_NEW = { %$RSA1, kid => 'rsa-new' };
my $RSA1_ENC = { %$RSA1, kid => 'enc1', use => 'enc' };
delete $RSA1_ENC->{alg};

sub jwks { $J->encode({ keys => [@_] }) . "\n" }

sub bearer { (Authorization => "Bearer $_[0]") }

# fetches($t, NAME): requests the JWKS server logged for /NAME (any status)
sub fetches {
    my ($t, $name) = @_;
    return scalar grep { /^\/\Q$name\E\s/ } split /\n/, $t->read_file('logs/jwks.access.log');
}

# fetches() once a background refresh (which the client does not wait for) has had up to 2 s
sub fetches_after_refresh {
    my ($t, $name, $want) = @_;
    my $n;
    for (1 .. 40) {
        $n = fetches($t, $name);
        last if $n >= $want;
        sleep 0.05;
    }
    return $n;
}

# log lines of the JWKS server for /NAME
sub jwks_log_lines {
    my ($t, $name) = @_;
    return grep { /^\/\Q$name\E\s/ } split /\n/, $t->read_file('logs/jwks.access.log');
}

# error.log lines at [warn] with `auth_jwt_rs: key request "URI"`
sub key_warns {
    my ($t, $uri) = @_;
    return grep { /\[warn\] .*auth_jwt_rs: key request "\Q$uri\E"/ } split /\n/, $t->error_log;
}

# The JWKS server on %%PORT_3%%: files under PREFIX/jwks, one access-log line per request.
my $JWKS_SERVER = <<'EOF2';
    log_format jwks '$uri $status auth=[$http_authorization] cookie=[$http_cookie] cl=[$content_length] m=$request_method';
    server {
        listen 127.0.0.1:%%PORT_3%%;
        access_log logs/jwks.access.log jwks;
        root %%PREFIX%%/jwks;
        default_type application/json;

        location / { }
        location = /fail500 { return 500; }
        # a valid JWKS body that claims to be compressed
        location = /gzhdr { add_header Content-Encoding gzip; }
        # really compressed when asked to
        location = /gzreal {
            gzip on;
            gzip_types *;
            gzip_min_length 1;
            gzip_http_version 1.0;
        }
    }
EOF2

my @claims = (claims => { sub => 'alice' }, exp_in => 600);

###############################################################################################
# Part A

my $t = AuthJwt::Test->new;
$t->write_file('jwks/main',    jwks($RSA1, $EC1));
$t->write_file('jwks/inh',     jwks($RSA1, $EC1));
$t->write_file('jwks/combo',   jwks($RSA1));
$t->write_file('jwks/two-a',   jwks($RSA1));
$t->write_file('jwks/two-b',   jwks($EC1));
$t->write_file('jwks/verify',  jwks($RSA1, $EC1));
$t->write_file('jwks/verify2', jwks($RSA1, $EC1));
$t->write_file('jwks/cred',    jwks($RSA1, $EC1));
$t->write_file('jwks/leaky',   jwks($RSA1, $EC1));
$t->write_file('jwks/xtype',   jwks($RSA1));
$t->write_file('jwks/xtype-algs', jwks($RSA1));

$t->write_conf(<<"EOF2");
http {
    %%BACKEND%%
$JWKS_SERVER
    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_realm "jwks";
        auth_jwt_rs_key_request /_jwks/main;
        add_header X-Status \$jwt_status always;
        add_header X-Reason \$jwt_reason always;

        # the key locations, as docs/key-rotation.md recommends
        location /_jwks/ {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_3%%/;
            proxy_pass_request_headers off;
        }
        # the IdP needs credentials of its own: proxy_set_header still applies (and nothing
        # of the client's request goes along, even without proxy_pass_request_headers off)
        location = /_jwks/leaky {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_3%%/leaky;
            proxy_set_header Authorization "Basic aWRwOmtleXM=";
            proxy_set_header Cookie "idp=1";
        }

        location /api/ { proxy_pass http://127.0.0.1:%%PORT_2%%; }

        location /combo/ {
            auth_jwt_rs_key_file %%KEYS%%/ec256.pub.pem;
            auth_jwt_rs_key_request /_jwks/combo;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /combo404/ {
            auth_jwt_rs_key_file %%KEYS%%/ec256.pub.pem;
            auth_jwt_rs_key_request /_jwks/missing;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /xtype/ {
            auth_jwt_rs_key_request /_jwks/xtype;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /xtype-algs/ {
            auth_jwt_rs_key_request /_jwks/xtype-algs;
            auth_jwt_rs_algorithms RS256 ES256;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /two/ {
            auth_jwt_rs_key_request /_jwks/two-a;
            auth_jwt_rs_key_request /_jwks/two-b;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }

        location /ar/ {
            auth_jwt_rs off;
            auth_request /auth/verify;
            auth_request_set \$vreason \$jwt_reason;
            add_header X-VReason \$vreason always;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location = /auth/verify {
            internal;
            auth_jwt_rs_verify;
            auth_jwt_rs_key_request /_jwks/verify;
        }
        location /ar2/ {
            auth_jwt_rs off;
            auth_request /auth/verify2;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location = /auth/verify2 {
            internal;
            auth_jwt_rs_verify;
            auth_jwt_rs_key_request /_jwks/verify2;
        }
        location /ar3/ {
            auth_jwt_rs off;
            auth_request /auth/verify3;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location = /auth/verify3 {
            internal;
            auth_jwt_rs_verify;
            auth_jwt_rs_key_request /_jwks/missing3;
        }

        location /cred/ {
            auth_jwt_rs_key_request /_jwks/cred;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /leaky/ {
            auth_jwt_rs_key_request /_jwks/leaky;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }

    # inheritance: a level that sets its own key source replaces the server-level key request
    server {
        listen 127.0.0.1:%%PORT_4%%;
        auth_jwt_rs on;
        auth_jwt_rs_key_request /_jwks/inh;
        add_header X-Status \$jwt_status always;
        add_header X-Reason \$jwt_reason always;

        location /_jwks/ {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_3%%/;
            proxy_pass_request_headers off;
        }
        location /inh/ { proxy_pass http://127.0.0.1:%%PORT_2%%; }
        location /own/ {
            auth_jwt_rs_key_file %%KEYS%%/rsa2.pub.pem;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2
$t->run;

my $rsa1       = $t->mint(alg => 'RS256', key => 'rsa.key',   kid => 'rsa1',   @claims);
my $ec1        = $t->mint(alg => 'ES256', key => 'ec256.key', kid => 'ec1',    @claims);
my $rsa2       = $t->mint(alg => 'RS256', key => 'rsa2.key',  kid => 'rsa2',   @claims);
my $ec_new     = $t->mint(alg => 'ES256', key => 'ec256.key', kid => 'ec-new', @claims);
my $rsa_new    = $t->mint(alg => 'RS256', key => 'rsa.key',   kid => 'rsa-new', @claims);
my $forged     = $t->mint(alg => 'RS256', key => 'rsa2.key',  kid => 'rsa1',   @claims);
my $es_nokid   = $t->mint(alg => 'ES256', key => 'ec256.key', @claims);
my $rsa2_nokid = $t->mint(alg => 'RS256', key => 'rsa2.key',  @claims);

# --- cold cache, then one fetch for many requests -------------------------------------------

is(fetches($t, 'main'), 0, 'A: nothing fetched before the first request');
my $r = $t->get(1, '/api/1', bearer($rsa1));
expect_ok($r, 'A: first request, empty cache, kid rsa1', qr{^user= .*uri=/api/1$}m);
is(h($r, 'x-status'), 'ok', 'A: first request: $jwt_status ok');
is(fetches($t, 'main'), 1, 'A: the first request fetched the JWKS once');
for my $i (2 .. 6) {
    expect_status($t->get(1, "/api/$i", bearer($i % 2 ? $rsa1 : $ec1)), 200, "A: request $i (cached keys)");
}
is(fetches($t, 'main'), 1, 'A: five more requests: still exactly one fetch');

expect_missing($t->get(1, '/api/none'), 'jwks', 'A: no token');
expect_invalid($t->get(1, '/api/forged', bearer($forged)), 'jwks', 'bad_signature',
    'A: kid rsa1 signed by another key');
is(fetches($t, 'main'), 1, 'A: a missing token or a bad signature with a known kid fetches nothing');

# --- rotation: new key with a new kid, accepted without reload --------------------------------

$t->write_file('jwks/main', jwks($RSA2));
$r = $t->get(1, '/api/rotated', bearer($rsa2));
expect_ok($r, 'A: token of the rotated-in key (kid rsa2), no reload', qr{uri=/api/rotated$}m);
is(fetches($t, 'main'), 2, 'A: the unknown kid caused exactly one refetch');
expect_status($t->get(1, '/api/rotated2', bearer($rsa2)), 200, 'A: rsa2 again');
is(fetches($t, 'main'), 2, 'A: rsa2 again: no further fetch');

# the old key left the JWKS: its tokens now fail, and (within 30 s of the refetch) fetch nothing
expect_invalid($t->get(1, '/api/old', bearer($rsa1)), 'jwks', 'unknown_kid',
    'A: kid rsa1 after it was rotated out');
is(h($t->get(1, '/api/old', bearer($rsa1)), 'x-status'), 'invalid', 'A: rotated-out kid: $jwt_status invalid');

# a second new kid within 30 s: published by the JWKS server, but not fetched
$t->write_file('jwks/main', jwks($RSA2, $RSA1_NEW));
$r = $t->get(1, '/api/second', bearer($rsa_new));
expect_invalid($r, 'jwks', 'unknown_kid', 'A: second unknown kid within 30 s');
expect_invalid($t->get(1, '/api/second', bearer($rsa_new)), 'jwks', 'unknown_kid',
    'A: second unknown kid, again');
is(fetches($t, 'main'), 2, 'A: no refetch within 30 s of the previous one');
expect_status($t->get(1, '/api/still', bearer($rsa2)), 200, 'A: rsa2 still accepted');

# --- rotation to a key of another type (RSA -> EC): the new kid is just as unknown ------------

for my $loc (qw(xtype xtype-algs)) {
    expect_status($t->get(1, "/$loc/1", bearer($rsa1)), 200, "A: $loc: RSA key (kid rsa1)");
    $t->write_file("jwks/$loc", jwks($RSA1, $EC_NEW));
    $r = $t->get(1, "/$loc/2", bearer($ec_new));
    expect_ok($r, "A: $loc: token of a rotated-in EC key (kid ec-new), no reload");
    is(fetches($t, $loc), 2, "A: $loc: the unknown kid caused exactly one refetch");
}

# --- inheritance ------------------------------------------------------------------------------

expect_status($t->get(4, '/own/1', bearer($rsa2_nokid)), 200, 'A: own key file: its key works');
expect_status($t->get(4, '/own/2', bearer($rsa1)), 401,
    'A: own key file: a token for the server-level key request is refused');
is(fetches($t, 'inh'), 0, 'A: own key file: the server-level key request is never fetched');
expect_status($t->get(4, '/inh/1', bearer($rsa1)), 200, 'A: inherited key request: kid rsa1');
is(fetches($t, 'inh'), 1, 'A: inherited key request fetched once');
expect_status($t->get(4, '/inh/2', bearer($rsa2_nokid)), 401,
    'A: inherited key request: the inner level\'s key file is not used');

# --- key file + key request in one location; two key requests --------------------------------

expect_status($t->get(1, '/combo/1', bearer($es_nokid)), 200, 'A: combo: token for the key file');
expect_status($t->get(1, '/combo/2', bearer($rsa1)), 200, 'A: combo: token for the JWKS (kid rsa1)');
expect_status($t->get(1, '/combo/3', bearer($rsa2_nokid)), 401, 'A: combo: token for neither');
is(fetches($t, 'combo'), 1, 'A: combo: one fetch');

# the key request of a combo fails: the key file still works, JWKS kids are unknown
expect_status($t->get(1, '/combo404/1', bearer($es_nokid)), 200,
    'A: key file + failing key request: token for the key file');
expect_invalid($t->get(1, '/combo404/2', bearer($rsa1)), 'jwks', undef,
    'A: key file + failing key request: token for a kid of the missing JWKS');
is(fetches($t, 'missing'), 1, 'A: key file + failing key request: one attempt (5 s pause after a failure)');
is(scalar(key_warns($t, '/_jwks/missing')), 1, 'A: the failed key request logged once at warn with its URI');

expect_status($t->get(1, '/two/1', bearer($rsa1)), 200, 'A: two key requests: kid from the first');
expect_status($t->get(1, '/two/2', bearer($ec1)), 200, 'A: two key requests: kid from the second');
expect_invalid($t->get(1, '/two/3', bearer($forged)), 'jwks', 'bad_signature', 'A: two key requests: forged');
is(fetches($t, 'two-a') . '/' . fetches($t, 'two-b'), '1/1', 'A: two key requests: each fetched once');

# --- auth_jwt_rs_verify (auth_request target) with an empty cache -----------------------------

$r = $t->get(1, '/ar/1', bearer($rsa1));
expect_ok($r, 'A: auth_request -> auth_jwt_rs_verify, empty cache', qr{uri=/ar/1$}m);
is(fetches($t, 'verify'), 1, 'A: verify: one fetch');
$r = $t->get(1, '/ar/2', bearer($forged));
expect_invalid($r, 'jwks', undef, 'A: verify: bad signature');
is(h($r, 'x-vreason'), 'bad_signature', 'A: verify: $jwt_reason via auth_request_set');
expect_missing($t->get(1, '/ar/3'), 'jwks', 'A: verify: no token');
expect_status($t->get(1, '/ar/4', bearer($ec1)), 200, 'A: verify: kid ec1');
is(fetches($t, 'verify'), 1, 'A: verify: still one fetch');

# first request through verify with an empty cache is a bad token: 401, not 500
expect_invalid($t->get(1, '/ar2/1', bearer($forged)), 'jwks', undef, 'A: verify2: first request is a bad token');
is(fetches($t, 'verify2'), 1, 'A: verify2: fetched once');
expect_status($t->get(1, '/ar2/2', bearer($rsa1)), 200, 'A: verify2: then a good one');

# verify with a key request that fails and nothing cached: 500 through auth_request, never 2xx
expect_status($t->get(1, '/ar3/1', bearer($rsa1)), 500, 'A: verify, no keys at all');

# --- client credentials and body never reach the JWKS server ---------------------------------

my $body = 'SECRET-BODY-' . ('x' x 3000);
my $t0 = time;
$r = $t->request(port => 1, method => 'POST', path => '/cred/1', body => $body, timeout => 20,
    headers => [bearer($rsa1), Cookie => 'session=SECRETCOOKIE']);
my $took = time - $t0;
expect_status($r, 200, 'A: POST with credentials and a body, empty cache');
cmp_ok($took, '<', 3, 'A: POST with a body: the key fetch did not wait for a body');
my @cred = jwks_log_lines($t, 'cred');
is(scalar @cred, 1, 'A: POST: one fetch');
like($cred[0] // '', qr{ auth=\[-\] cookie=\[-\] }, 'A: POST: no Authorization, no Cookie at the JWKS server');
like($cred[0] // '', qr{ m=GET$}, 'A: POST: the key request is a GET');
like($cred[0] // '', qr{ cl=\[-\] }, 'A: POST: no Content-Length (no body) at the JWKS server');

# the key location's own credentials reach the IdP, the client's never (the log would show them)
expect_status($t->get(1, '/leaky/1', bearer($rsa1), Cookie => 'session=SECRETCOOKIE'), 200, 'A: IdP credential location');
my @leaky = jwks_log_lines($t, 'leaky');
like($leaky[0] // '', qr{ auth=\[Basic aWRwOmtleXM=\] cookie=\[idp=1\] },
    'A: proxy_set_header credentials reach the IdP, the client\'s do not');

$t->finish;

###############################################################################################
# Part B: failing from the start; garbage; buffer size

$t = AuthJwt::Test->new;
my $big_pad = ' ' x 9000;
my %files = (
    notjson   => "<html><body>Service Unavailable</body></html>\n",
    nokeys    => qq({"issuer":"https://idp.example","jwks_uri":"https://idp.example/certs"}\n),
    emptykeys => qq({"keys":[]}\n),
    unusable  => jwks($RSA1_ENC),
    partial   => jwks($RSA1_ENC, $RSA1),
    empty     => '',
    gzhdr     => jwks($RSA1),
    gzreal    => jwks($RSA1),
    big       => '{"keys":[' . $J->encode($RSA1) . "]$big_pad}\n",
    bigok     => '{"keys":[' . $J->encode($RSA1) . "]$big_pad}\n",
);
$t->write_file("jwks/$_", $files{$_}) for keys %files;

my @broken = qw(none f500 notjson nokeys emptykeys unusable empty gzhdr gzreal);
my $locs = join '', map { <<"EOF3" } @broken, qw(partial big bigok);
        location /$_/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/$_;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
EOF3

$t->write_conf(<<"EOF2");
http {
    %%BACKEND%%
$JWKS_SERVER
    server {
        listen 127.0.0.1:%%PORT_1%%;
        add_header X-Status \$jwt_status always;
        add_header X-Reason \$jwt_reason always;

        location /_jwks/ {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_3%%/;
            proxy_pass_request_headers off;
        }
        location = /_jwks/f500 {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_3%%/fail500;
            proxy_pass_request_headers off;
        }
        location = /_jwks/gzreal {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_3%%/gzreal;
            proxy_pass_request_headers off;
            proxy_set_header Accept-Encoding gzip;
        }
        location = /_jwks/bigok {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_3%%/bigok;
            proxy_pass_request_headers off;
            subrequest_output_buffer_size 64k;
        }
$locs
    }
}
EOF2
$t->run;

my %why = (
    none      => qr/failed \(status\): status 404; no keys available, next attempt in 5 s/,
    f500      => qr/failed \(status\): status 500; no keys available/,
    notjson   => qr/failed \(body\): .*JWKS/,
    nokeys    => qr/failed \(body\): .*JWKS/,
    emptykeys => qr/failed \(body\): .*JWKS/,
    unusable  => qr/failed \(body\): .*no usable key/,
    empty     => qr/failed \(body\): .*empty/,
    gzhdr     => qr/failed \(body\): .*compressed/,
    gzreal    => qr/failed \(body\): .*compressed/,
);
for my $name (@broken) {
    $r = $t->get(1, "/$name/1", bearer($rsa1));
    expect_status($r, 500, "B: $name: nothing cached -> 500");
    is(h($r, 'x-status'), 'error', "B: $name: \$jwt_status error");
    is(h($r, 'www-authenticate'), undef, "B: $name: no challenge on 500");
    my @w = key_warns($t, "/_jwks/$name");
    is(scalar @w, 1, "B: $name: one warn line naming the URI");
    like($w[0] // '', $why{$name}, "B: $name: the warn line says why");
    expect_status($t->get(1, "/$name/2", bearer($rsa1)), 500, "B: $name: again, still 500");
    expect_missing($t->get(1, "/$name/3"), undef, "B: $name: no token is still a plain 401");
    is(fetches($t, $name eq 'f500' ? 'fail500' : $name), 1, "B: $name: one attempt only (5 s pause after a failure)");
}
like($t->read_file('logs/jwks.access.log'), qr{^/gzreal 200 }m, 'B: gzreal: the JWKS server did answer 200');

# a JWKS with one unusable key next to a good one: the good one is used, the other is logged
expect_status($t->get(1, '/partial/1', bearer($rsa1)), 200, 'B: partial: usable key works');
my @pw = key_warns($t, '/_jwks/partial');
is(scalar @pw, 1, 'B: partial: one warn line about the unusable key');
like($pw[0] // '', qr/enc1/, 'B: partial: the warn line names the unusable key');
unlike($pw[0] // '', qr/failed/, 'B: partial: not reported as a failed fetch');

# the same large JWKS fits once subrequest_output_buffer_size is raised
# a key set larger than the default subrequest_output_buffer_size loads all the same
expect_status($t->get(1, '/big/1', bearer($rsa1)), 200, 'B: large JWKS, default subrequest_output_buffer_size');
is(scalar(key_warns($t, '/_jwks/big')), 0, 'B: large JWKS, default buffers: no warning');
expect_status($t->get(1, '/bigok/1', bearer($rsa1)), 200, 'B: large JWKS with subrequest_output_buffer_size 64k');
is(scalar(key_warns($t, '/_jwks/bigok')), 0, 'B: large JWKS with a large buffer: no warning');

$t->finish;

###############################################################################################
# Part C: cache expiry; failure after a good fetch; recovery; proxy_cache in the key location

$t = AuthJwt::Test->new;
$t->write_file('jwks/exp', jwks($RSA1));
$t->write_file('jwks/pc',  jwks($RSA1));
$t->write_conf(<<"EOF2");
http {
    %%BACKEND%%
$JWKS_SERVER
    proxy_cache_path %%PREFIX%%/jwks_cache levels=1 keys_zone=jwks:1m;
    log_format keyloc '\$uri \$upstream_cache_status \$status';

    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs_key_cache 2s;
        add_header X-Status \$jwt_status always;

        location /_jwks/ {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_3%%/;
            proxy_pass_request_headers off;
        }
        location = /_jwks/pc {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_3%%/pc;
            proxy_pass_request_headers off;
            proxy_cache jwks;
            proxy_cache_valid 200 10m;
            log_subrequest on;
            access_log logs/keyloc.log keyloc;
        }

        location /exp/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/exp;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /pc/ {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/pc;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2
$t->run;

expect_status($t->get(1, '/exp/1', bearer($rsa1)), 200, 'C: first request');
expect_status($t->get(1, '/pc/1', bearer($rsa1)), 200, 'C: proxy_cache: first request');
expect_status($t->get(1, '/exp/2', bearer($rsa1)), 200, 'C: second request within the cache time');
is(fetches($t, 'exp'), 1, 'C: one fetch within auth_jwt_rs_key_cache 2s');
sleep 3.2;
expect_status($t->get(1, '/exp/3', bearer($rsa1)), 200, 'C: after the cache time');
is(fetches_after_refresh($t, 'exp', 2), 2, 'C: the expired cache was refetched in the background');

# proxy_cache answers the module's refetch: the JWKS server saw one request, the key location two
expect_status($t->get(1, '/pc/2', bearer($rsa1)), 200, 'C: proxy_cache: after the cache time');
for (1 .. 40) { last if ($t->read_file('logs/keyloc.log') =~ tr/\n//) >= 2; sleep 0.05 }
is(fetches($t, 'pc'), 1, 'C: proxy_cache: the JWKS server was asked once');
is(join(',', map { (split / /)[1] } split /\n/, $t->read_file('logs/keyloc.log')), 'MISS,HIT',
    'C: proxy_cache: the module refetched, nginx answered from its cache');

# the JWKS server starts failing: the cached keys stay in use
unlink $t->prefix . '/jwks/exp' or die "unlink: $!";
sleep 3.2;
$r = $t->get(1, '/exp/4', bearer($rsa1));
expect_status($r, 200, 'C: JWKS server failing after a good fetch: cached key still works');
is(h($r, 'x-status'), 'ok', 'C: ... $jwt_status ok');
is(fetches($t, 'exp'), 3, 'C: the failing refetch was attempted');
my @cw = key_warns($t, '/_jwks/exp');
is(scalar @cw, 1, 'C: one warn line with the URI');
like($cw[0] // '', qr{key request "/_jwks/exp" failed \(status\): status 404; keeping the 1 keys fetched \d+ s ago, next attempt in 5 s}, 'C: warn line: failure, keys kept');
expect_status($t->get(1, '/exp/5', bearer($rsa1)), 200, 'C: immediately again');
expect_invalid($t->get(1, '/exp/6', bearer($forged)), undef, undef, 'C: forged token still refused');
is(fetches($t, 'exp'), 3, 'C: no new attempt within 5 s of the failure');

sleep 5.5;
expect_status($t->get(1, '/exp/7', bearer($rsa1)), 200, 'C: 5 s after the failure: still failing, keys kept');
is(fetches_after_refresh($t, 'exp', 4), 4, 'C: 5 s after the failure: a new attempt');
is(scalar(key_warns($t, '/_jwks/exp')), 2, 'C: the second failure logged too');

# the IdP comes back with a rotated key; the pause after a second failure is 10 s
$t->write_file('jwks/exp', jwks($RSA2));
sleep 5.5;
expect_status($t->get(1, '/exp/7b', bearer($rsa1)), 200, 'C: 5 s after the second failure: keys kept');
is(fetches($t, 'exp'), 4, 'C: the pause doubled: no attempt 5 s after the second failure');
sleep 5;
expect_status($t->get(1, '/exp/8', bearer($rsa2)), 200, 'C: recovered JWKS with a rotated key');
is(fetches($t, 'exp'), 5, 'C: recovered: fetched');
expect_status($t->get(1, '/exp/9', bearer($rsa1)), 401, 'C: recovered: the old key is gone');

$t->finish;

###############################################################################################
# Part E: the key location of nginx-conf/idp-jwks.conf, as written (the IdP URL pointed at the
# local JWKS server, TLS lines left out), end to end

$t = AuthJwt::Test->new;
$t->write_file('jwks/certs', jwks($RSA1, $EC1));
my $example = AuthJwt::Test::read_file_bytes("$AuthJwt::Test::ROOT/nginx-conf/idp-jwks.conf");
my ($keyloc) = $example =~ /^( *location = \/_jwks \{\n.*?^ *\}\n)/ms;
my ($cache_path) = $example =~ /^\s*(proxy_cache_path [^;]*;)/m;
ok($keyloc && $cache_path, 'E: the example has a "location = /_jwks" block and a proxy_cache_path');
$keyloc //= '';
$keyloc =~ s{"https://[^"]*"}{"http://127.0.0.1:%%PORT_3%%/certs"} or fail('E: IdP URL not found');
$keyloc =~ s/^\s*proxy_ssl_\w+ .*\n//mg;
$cache_path = ($cache_path // '') =~ s/ jwks_cache / %%PREFIX%%\/jwks_cache /r;
$t->write_conf(<<"EOF2");
http {
    %%BACKEND%%
$JWKS_SERVER
    $cache_path
    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_key_request /_jwks;
        add_header X-Reason \$jwt_reason always;
$keyloc
        location / { proxy_pass http://127.0.0.1:%%PORT_2%%; }
    }
}
EOF2
$t->run;
$t0 = time;
$r = $t->request(port => 1, method => 'POST', path => '/e/1', body => $body, timeout => 20,
    headers => [bearer($rsa1), Cookie => 'session=SECRETCOOKIE']);
expect_status($r, 200, 'E: example key location: POST with credentials and a body, empty cache');
cmp_ok(time - $t0, '<', 3, 'E: answered promptly');
expect_status($t->get(1, '/e/2', bearer($ec1)), 200, 'E: kid ec1');
expect_invalid($t->get(1, '/e/3', bearer($forged)), undef, 'bad_signature', 'E: forged');
my @e = jwks_log_lines($t, 'certs');
is(scalar @e, 1, 'E: one fetch');
is($e[0] // '', '/certs 200 auth=[-] cookie=[-] cl=[-] m=GET', 'E: the IdP saw a bare GET');
$t->finish;

###############################################################################################
# Part D: configuration errors

$t = AuthJwt::Test->new;
my $ok;
my $out;

($ok, $out) = $t->conftest(<<'EOF2');
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_key_request /_jwks;
        auth_jwt_rs_key_request /_jwks2;
        auth_jwt_rs_key_cache 1h;
        auth_jwt_rs_algorithms RS256 ES256;
        location = /_jwks { internal; proxy_pass http://127.0.0.1:1/certs; }
        location = /_jwks2 { internal; proxy_pass http://127.0.0.1:1/certs2; }
        location / { proxy_pass http://127.0.0.1:1; }
        location /cached { auth_jwt_rs_key_cache 30s; proxy_pass http://127.0.0.1:1; }
    }
}
EOF2
ok($ok, 'D: key requests only (keys known at run time), algorithms, key_cache: nginx -t passes') or diag($out);

my $conf = $t->conf_path;
for my $case (
    ['auth_jwt_rs_key_request https://idp.example/certs;', qr/auth_jwt_rs_key_request/, 'absolute URL'],
    ['auth_jwt_rs_key_request jwks;',                      qr/auth_jwt_rs_key_request/, 'relative URI'],
    ['auth_jwt_rs_key_request;',                            qr/invalid number of arguments/, 'no argument'],
    ['auth_jwt_rs_key_request /a /b;',                      qr/"auth_jwt_rs_key_request": unknown parameter "\/b"/, 'two URIs'],
    ['auth_jwt_rs_key_cache 0;',                            qr/auth_jwt_rs_key_cache/, 'key_cache 0'],
    ['auth_jwt_rs_key_cache 0s;',                           qr/auth_jwt_rs_key_cache/, 'key_cache 0s'],
    ['auth_jwt_rs_key_cache soon;',                         qr/auth_jwt_rs_key_cache/, 'key_cache garbage'],
    ['auth_jwt_rs_key_cache -5s;',                          qr/auth_jwt_rs_key_cache/, 'key_cache negative'],
    ["auth_jwt_rs_key_cache 1m;\n        auth_jwt_rs_key_cache 2m;", qr/is duplicate/, 'key_cache twice',
        'auth_jwt_rs_key_cache 2m;'],
) {
    my ($directive, $msg, $name, $at) = @$case;
    ($ok, $out) = $t->conftest(<<"EOF2");
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        $directive
        location / { proxy_pass http://127.0.0.1:1; }
    }
}
EOF2
    ok(!$ok, "D: $name: nginx -t fails");
    my $line = $t->line_of($at // $directive);
    like($out, qr/\[emerg\] .*$msg.* in \Q$conf\E:$line$/m, "D: $name: message names the directive, file and line")
        or diag($out);
}

# a key request alone is a key source; key_cache alone is not
($ok, $out) = $t->conftest(<<'EOF2');
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_key_cache 5m;
        location / { proxy_pass http://127.0.0.1:1; }
    }
}
EOF2
ok(!$ok, 'D: auth_jwt_rs on with only auth_jwt_rs_key_cache: no key source, nginx -t fails');
like($out, qr/no key source/, 'D: ... says there is no key source') or diag($out);

$t->finish;
done_testing;
