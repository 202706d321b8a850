#!/usr/bin/perl
# The documented caps (docs/fuzzing.md "Limits"): token length (16384 bytes), JSON nesting depth
# (32, header and claims set), claims (256 top-level members), header members (32). A token at
# each cap is accepted; one over is a 401 invalid_token with $jwt_reason "too_large", also when
# its signature is wrong (the caps are checked before the signature), and an over-cap header
# never sends the request to the fallback. A 64 KiB Authorization header: nginx's own
# large_client_header_buffers decide first (400), and when they let it through the module
# answers 401 too_large; never 2xx or 500.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;

my $MAX_TOKEN_LEN = 16384;
my $MAX_JSON_DEPTH = 32;
my $MAX_CLAIMS = 256;
my $MAX_HEADER_MEMBERS = 32;

my $t = AuthJwt::Test->new;
$t->write_conf(<<'EOF2');
http {
    %%BACKEND%%

    # the caps, not nginx's header buffers, must decide for tokens up to and past 16 KiB
    large_client_header_buffers 4 128k;

    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_realm "api";
        auth_jwt_rs_secret_file %%KEYS%%/hs.secret;
        add_header X-Status $jwt_status always;
        add_header X-Reason $jwt_reason always;

        location / {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /fb/ {
            auth_jwt_rs_fallback /fallback;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location = /fallback {
            internal;
            proxy_pass http://127.0.0.1:%%PORT_2%%/allow;
        }
    }

    # nginx's default header buffers (4 8k)
    server {
        listen 127.0.0.1:%%PORT_3%%;
        large_client_header_buffers 4 8k;
        auth_jwt_rs on;
        auth_jwt_rs_secret_file %%KEYS%%/hs.secret;
        auth_jwt_rs_token bearer cookie=session;
        add_header X-Reason $jwt_reason always;
        location / {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
    }
}
EOF2
$t->run;

my $secret = $t->secret('hs.secret');
my $exp = time + 600;
my $HEADER = '{"alg":"HS256"}';

sub tok { AuthJwt::Test::hs256_token($secret, @_) }

sub claims_with {    # n top-level members: exp, c1, c2, ...
    my ($n) = @_;
    return '{' . join(',', qq{"exp":$exp}, map { qq{"c$_":$_} } 1 .. $n - 1) . '}';
}

sub claims_deep {    # nesting depth d, the claims set being level 1
    my ($d) = @_;
    return qq|{"exp":$exp,"deep":| . ('[' x ($d - 1)) . '"x"' . (']' x ($d - 1)) . '}';
}

sub header_with {    # n members: alg, h1, h2, ...
    my ($n) = @_;
    return '{' . join(',', '"alg":"HS256"', map { qq{"h$_":$_} } 1 .. $n - 1) . '}';
}

sub header_deep {
    my ($d) = @_;
    return '{"alg":"HS256","x":' . ('[' x ($d - 1)) . '0' . (']' x ($d - 1)) . '}';
}

sub bad_sig {    # same length, wrong signature
    my ($tok) = @_;
    my ($input, $sig) = $tok =~ /^(.*)\.([^.]*)$/;
    substr($sig, 0, 1) = substr($sig, 0, 1) eq 'A' ? 'B' : 'A';
    return $t->track_token("$input.$sig");
}

sub allowed {
    my ($tok, $name) = @_;
    my $r = $t->get(1, '/', Authorization => "Bearer $tok");
    is($r->{status}, 200, "$name: 200");
    is(h($r, 'x-status'), 'ok', "$name: \$jwt_status ok");
}

sub too_large {
    my ($tok, $name) = @_;
    my $r = $t->get(1, '/', Authorization => "Bearer $tok");
    expect_invalid($r, 'api', 'too_large', $name);
    like($r->{raw}, qr/error_description="token too large"/, "$name: description");
    unlike($r->{raw}, qr/user=/, "$name: backend not reached");
}

# --- claim count -------------------------------------------------------------------------------
allowed(tok($HEADER, claims_with($MAX_CLAIMS)), "$MAX_CLAIMS claims");
too_large(tok($HEADER, claims_with($MAX_CLAIMS + 1)), ($MAX_CLAIMS + 1) . ' claims');
too_large(bad_sig(tok($HEADER, claims_with($MAX_CLAIMS + 1))),
    ($MAX_CLAIMS + 1) . ' claims, bad signature');
my $r = $t->get(1, '/', Authorization => 'Bearer ' . bad_sig(tok($HEADER, claims_with($MAX_CLAIMS))));
expect_invalid($r, 'api', 'bad_signature', "$MAX_CLAIMS claims, bad signature");

# --- nesting depth -----------------------------------------------------------------------------
allowed(tok($HEADER, claims_deep($MAX_JSON_DEPTH)), "claims depth $MAX_JSON_DEPTH");
too_large(tok($HEADER, claims_deep($MAX_JSON_DEPTH + 1)), 'claims depth ' . ($MAX_JSON_DEPTH + 1));
too_large(bad_sig(tok($HEADER, claims_deep($MAX_JSON_DEPTH + 1))),
    'claims depth ' . ($MAX_JSON_DEPTH + 1) . ', bad signature');
allowed(tok(header_deep($MAX_JSON_DEPTH), claims_with(1)), "header depth $MAX_JSON_DEPTH");
too_large(tok(header_deep($MAX_JSON_DEPTH + 1), claims_with(1)),
    'header depth ' . ($MAX_JSON_DEPTH + 1));

# --- header members ----------------------------------------------------------------------------
allowed(tok(header_with($MAX_HEADER_MEMBERS), claims_with(1)), "$MAX_HEADER_MEMBERS header members");
my $wide = tok(header_with($MAX_HEADER_MEMBERS + 1), claims_with(1));
too_large($wide, ($MAX_HEADER_MEMBERS + 1) . ' header members');

# an over-cap header is still JWT-shaped: a 401, never the fallback
$r = $t->get(1, '/fb/', Authorization => "Bearer $wide");
expect_invalid($r, 'api', 'too_large', 'over-cap header with a fallback');
$r = $t->get(1, '/fb/', Authorization => 'Bearer opaque-session-value');
is($r->{status}, 200, 'fallback location: opaque token goes to the fallback');

# --- token length ------------------------------------------------------------------------------
# pad a claim (and the header: base64url lengths are never 1 mod 4) to land exactly on the cap
my $at;
FIND: for my $extra (0 .. 3) {
    my $header = '{"alg":"HS256","p":"' . ('y' x $extra) . '"}';
    for my $pad (int($MAX_TOKEN_LEN * 3 / 4) - 100 .. int($MAX_TOKEN_LEN * 3 / 4)) {
        my $payload = qq|{"exp":$exp,"pad":"| . ('x' x $pad) . '"}';
        my $input = AuthJwt::Test::b64url($header) . '.' . AuthJwt::Test::b64url($payload);
        next unless length($input) + 1 + 43 == $MAX_TOKEN_LEN;
        $at = tok($header, $payload);
        last FIND;
    }
}
is(length($at), $MAX_TOKEN_LEN, "a token of exactly $MAX_TOKEN_LEN bytes");
allowed($at, "$MAX_TOKEN_LEN-byte token");
too_large($t->track_token("${at}A"), ($MAX_TOKEN_LEN + 1) . '-byte token');

# --- 64 KiB Authorization header ---------------------------------------------------------------
my $huge = $t->track_token(AuthJwt::Test::b64url($HEADER) . '.' . ('A' x 65536) . '.'
    . AuthJwt::Test::b64url('a 32-byte signature of limits.t!'));
# buffers of 128k let it through: the module refuses it
too_large($huge, '64 KiB token, 128k header buffers');
# nginx's default 8k buffers refuse the header line before any module runs
$r = $t->get(3, '/', Authorization => "Bearer $huge");
is($r->{status}, 400, '64 KiB Authorization, 8k header buffers: nginx answers 400');
$r = $t->get(3, '/', Cookie => "session=$huge");
is($r->{status}, 400, '64 KiB Cookie, 8k header buffers: nginx answers 400');
# not a JWT at all, 64 KiB of it
$r = $t->get(1, '/', Authorization => 'Bearer ' . ('x' x 65536));
expect_invalid($r, 'api', 'too_large', '64 KiB opaque token');
for my $port (1, 3) {
    for my $v ('Bearer ' . ('A' x 65536), ('B' x 65536), 'Bearer ' . ('.' x 65536)) {
        $r = $t->get($port, '/', Authorization => $v);
        ok($r->{status} && $r->{status} !~ /^(?:2\d\d|500)$/,
            "64 KiB Authorization on port $port: neither 2xx nor 500 ($r->{status})");
    }
}

# a normal token still works after all that
allowed(tok($HEADER, claims_with(3)), 'small token');

$t->finish;
done_testing;
