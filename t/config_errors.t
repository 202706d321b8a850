#!/usr/bin/perl
# README "Keys and algorithms", docs/troubleshooting.md: configuration errors make `nginx -t` fail
# with nginx's own message form, ending "in <conf file>:<line>", naming the key file when it is at
# fault.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;

my $t = AuthJwt::Test->new;
my $keys = $t->keys_dir;
$t->write_file('conf/keys/garbage.pem', "-----BEGIN PUBLIC KEY-----\nnot base64 at all!\n-----END PUBLIC KEY-----\n");
$t->write_file('conf/keys/garbage.json', "{\"keys\": [ {\"kty\": \"RSA\", \"n\": 12 } ]\n");
$t->write_file('conf/keys/empty.pem', '');
$t->write_file('conf/keys/random.bin', join '', map { chr(($_ * 37 + 11) % 256) } 1 .. 300);
mkdir "$keys/adir";

# the positive control: every directive of §1-§5 in a valid configuration
my ($ok, $out) = $t->conftest(<<'EOF2');
http {
    auth_jwt_rs_claim_set $user sub;
    auth_jwt_rs_header_set $kid kid;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_realm "api";
        auth_jwt_rs_token bearer cookie=jwt header=X-Token arg=access_token $http_x_jwt;
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        auth_jwt_rs_key_file %%KEYS%%/rsa.pkcs1.pem;
        auth_jwt_rs_key_file %%KEYS%%/rsa.crt;
        auth_jwt_rs_key_file %%KEYS%%/jwks.json;
        auth_jwt_rs_key_file %%KEYS%%/rsa.jwk.json;
        auth_jwt_rs_key_file %%KEYS%%/hmac.jwk.json;
        auth_jwt_rs_key_file %%KEYS%%/ec384.pub.pem;
        auth_jwt_rs_key_file %%KEYS%%/ed25519.pub.pem;
        auth_jwt_rs_secret_file %%KEYS%%/hs.secret;
        auth_jwt_rs_algorithms HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA;
        auth_jwt_rs_leeway 30s;
        auth_jwt_rs_require_exp off;
        auth_jwt_rs_issuer https://a.example https://b.example;
        auth_jwt_rs_audience api other;
        auth_jwt_rs_max_lifetime 1h;
        auth_jwt_rs_type at+jwt application/JWT;
        location / {
            auth_jwt_rs $http_x_gate;
            limit_except GET { auth_jwt_rs on; }
            return 204;
        }
    }
}
EOF2
ok($ok, 'valid configuration passes nginx -t') or diag($out);

# issuer-bound key sources (docs/multiple-issuers.md): every form that is allowed
($ok, $out) = $t->conftest(<<'EOF2');
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_max_lifetime off;
        auth_jwt_rs_type off;
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem issuer=https://a.example audience=api audience=web;
        auth_jwt_rs_key_request /_jwks/a issuer=https://a.example audience=web audience=api;
        auth_jwt_rs_secret_file %%KEYS%%/hs.secret issuer=https://b.example;
        auth_jwt_rs_key_request /_jwks/b issuer=https://b.example;
        auth_jwt_rs_key_file %%KEYS%%/ec256.pub.pem;
        location /_jwks/ { internal; return 404; }
        location / { return 204; }
        # another level may bind the same issuer with other audiences: it replaces the sources
        location /other/ {
            auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem issuer=https://a.example audience=other;
            auth_jwt_rs_max_lifetime 5m;
            return 204;
        }
    }
}
EOF2
ok($ok, 'issuer=/audience= on the three key directives, max_lifetime, type: nginx -t passes') or diag($out);

my $conf = $t->conf_path;

# fails(NAME, HTTP_TEXT (faulty line marked "# HERE"), MESSAGE_REGEX, FILE_NAME_OR_UNDEF, LINE_ANY)
sub fails {
    my ($name, $text, $msg_re, $file, $any_line) = @_;
    my ($ok, $out) = $t->conftest($text);
    ok(!$ok, "$name: nginx -t fails") or return;
    my $line = $any_line ? '\d+' : $t->line_of('# HERE');
    like($out, qr/\[emerg\] [^\n]* in \Q$conf\E:$line\n/, "$name: [emerg] ... in nginx.conf:" . ($any_line ? 'N' : $line))
        or diag($out);
    like($out, $msg_re, "$name: message") or diag($out) if $msg_re;
    if (defined $file) {
        like($out, qr/\[emerg\] [^\n]*\Q$file\E[^\n]* in \Q$conf\E:/, "$name: message names $file") or diag($out);
    }
    unlike($out, qr/panicked|\[alert\]/, "$name: no panic");
}

sub key_conf {
    my ($directive) = @_;
    return <<"EOF2";
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location / {
            auth_jwt_rs on;
            $directive # HERE
            return 204;
        }
    }
}
EOF2
}

fails('auth_jwt_rs on without any key source', <<'EOF2', undef, undef, 1);
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location / {
            auth_jwt_rs on; # HERE
            return 204;
        }
    }
}
EOF2

fails('missing key file', key_conf("auth_jwt_rs_key_file $keys/does-not-exist.pem;"), undef, 'does-not-exist.pem');
fails('key file is a directory', key_conf("auth_jwt_rs_key_file $keys/adir;"), undef, 'adir');
fails('missing secret file', key_conf("auth_jwt_rs_secret_file $keys/nope.secret;"), undef, 'nope.secret');
fails('garbage PEM', key_conf("auth_jwt_rs_key_file $keys/garbage.pem;"), undef, 'garbage.pem');
fails('garbage JWKS', key_conf("auth_jwt_rs_key_file $keys/garbage.json;"), undef, 'garbage.json');
fails('empty key file', key_conf("auth_jwt_rs_key_file $keys/empty.pem;"), undef, 'empty.pem');
fails('binary key file', key_conf("auth_jwt_rs_key_file $keys/random.bin;"), undef, 'random.bin');
fails('HMAC secret given as key file', key_conf("auth_jwt_rs_key_file $keys/hs.secret;"), undef, 'hs.secret');
fails('RSA 1024 key', key_conf("auth_jwt_rs_key_file $keys/rsa1024.pub.pem;"), undef, 'rsa1024.pub.pem');
fails('P-521 key', key_conf("auth_jwt_rs_key_file $keys/ec521.pub.pem;"), undef, 'ec521.pub.pem');
fails('secret shorter than 32 bytes', key_conf("auth_jwt_rs_secret_file $keys/short.secret;"), undef, 'short.secret');
fails('unknown algorithm', key_conf("auth_jwt_rs_key_file $keys/rsa.pub.pem; auth_jwt_rs_algorithms RS256 XS999;"), qr/XS999/);
fails('algorithms none', key_conf("auth_jwt_rs_key_file $keys/rsa.pub.pem; auth_jwt_rs_algorithms none;"), qr/none/);
fails('algorithms RS256 none', key_conf("auth_jwt_rs_key_file $keys/rsa.pub.pem; auth_jwt_rs_algorithms RS256 none;"), qr/none/);

# issuer-bound key sources
for my $d ("auth_jwt_rs_key_file $keys/rsa.pub.pem", "auth_jwt_rs_secret_file $keys/hs.secret",
           'auth_jwt_rs_key_request /_jwks') {
    my ($dn) = $d =~ /^(\S+)/;
    fails("$dn: audience= without issuer=", key_conf("$d audience=api;"),
        qr/"$dn": "audience=" needs "issuer="/);
    fails("$dn: empty issuer=", key_conf("$d issuer= audience=api;"), qr/"$dn": empty "issuer="/);
    fails("$dn: empty audience=", key_conf("$d issuer=https://a audience=;"), qr/"$dn": empty "audience="/);
    fails("$dn: two issuer=", key_conf("$d issuer=https://a issuer=https://b;"), qr/"$dn": duplicate "issuer="/);
    fails("$dn: unknown parameter", key_conf("$d issuer=https://a aud=api;"),
        qr/"$dn": unknown parameter "aud=api"/);
    fails("$dn: a second file or URI", key_conf("$d $keys/rsa2.pub.pem;"),
        qr/"$dn": unknown parameter "\Q$keys\E\/rsa2.pub.pem"/);
}
fails('same issuer, different audiences, two sources of one location', <<"EOF2",
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location / {
            auth_jwt_rs on;
            auth_jwt_rs_key_request /_jwks/a issuer=https://a.example audience=api;
            auth_jwt_rs_key_file $keys/rsa.pub.pem issuer=https://a.example audience=web; # HERE
            return 204;
        }
    }
}
EOF2
    qr{"auth_jwt_rs_key_file": issuer "https://a.example" is bound with different audiences});
fails('same issuer, audiences on one source only', <<"EOF2",
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location / {
            auth_jwt_rs on;
            auth_jwt_rs_secret_file $keys/hs.secret issuer=https://a.example;
            auth_jwt_rs_key_request /_jwks/a issuer=https://a.example audience=api; # HERE
            return 204;
        }
    }
}
EOF2
    qr{"auth_jwt_rs_key_request": issuer "https://a.example" is bound with different audiences});

# auth_jwt_rs_max_lifetime and auth_jwt_rs_type
for my $v ('abc', '0', '0s', '-5m', '10q') {
    fails("bad max_lifetime '$v'", key_conf("auth_jwt_rs_key_file $keys/rsa.pub.pem; auth_jwt_rs_max_lifetime $v;"),
        qr/invalid value "\Q$v\E" in "auth_jwt_rs_max_lifetime"/);
}
fails('max_lifetime twice', key_conf("auth_jwt_rs_key_file $keys/rsa.pub.pem; auth_jwt_rs_max_lifetime 1h; auth_jwt_rs_max_lifetime 2h;"),
    qr/"auth_jwt_rs_max_lifetime" directive is duplicate/);
for my $v ('off at+jwt', 'at+jwt off', 'application/', '""') {
    fails("bad type '$v'", key_conf("auth_jwt_rs_key_file $keys/rsa.pub.pem; auth_jwt_rs_type $v;"),
        qr/invalid value "[^"]*" in "auth_jwt_rs_type"/);
}
fails('type twice', key_conf("auth_jwt_rs_key_file $keys/rsa.pub.pem; auth_jwt_rs_type jwt; auth_jwt_rs_type at+jwt;"),
    qr/"auth_jwt_rs_type" directive is duplicate/);

fails('duplicate realm', <<'EOF2', qr/"auth_jwt_rs_realm" directive is duplicate/);
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs_realm "a";
        auth_jwt_rs_realm "b"; # HERE
        location / { return 204; }
    }
}
EOF2

for my $d ('auth_jwt_rs;', 'auth_jwt_rs on off;', 'auth_jwt_rs_realm;', 'auth_jwt_rs_realm a b;',
           'auth_jwt_rs_key_file;', 'auth_jwt_rs_secret_file;', 'auth_jwt_rs_key_request;',
           'auth_jwt_rs_max_lifetime;', 'auth_jwt_rs_max_lifetime 1h 2h;', 'auth_jwt_rs_type;',
           'auth_jwt_rs_leeway;', 'auth_jwt_rs_require_exp;', 'auth_jwt_rs_token;', 'auth_jwt_rs_algorithms;',
           'auth_jwt_rs_issuer;', 'auth_jwt_rs_audience;') {
    my ($name) = $d =~ /^(\S+?);?(?:\s|$)/;
    fails("wrong argument count: $d", <<"EOF2", qr/invalid number of arguments in "$name" directive/);
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        $d # HERE
        location / { return 204; }
    }
}
EOF2
}

for my $src ('cookie=', 'foo', 'header=', 'arg=', 'bearer cookie=', 'cookie', 'Bearer2') {
    fails("bad token source '$src'", key_conf("auth_jwt_rs_key_file $keys/rsa.pub.pem; auth_jwt_rs_token $src;"), undef);
}
for my $l ('abc', '-5s', '10q') {
    fails("bad leeway '$l'", key_conf("auth_jwt_rs_key_file $keys/rsa.pub.pem; auth_jwt_rs_leeway $l;"), undef);
}
fails('bad require_exp flag', key_conf("auth_jwt_rs_key_file $keys/rsa.pub.pem; auth_jwt_rs_require_exp maybe;"),
    qr/it must be "on" or "off"/);

fails('auth_jwt_rs_claim_set outside http', <<'EOF2', qr/"auth_jwt_rs_claim_set" directive is not allowed here/);
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs_claim_set $user sub; # HERE
        location / { return 204; }
    }
}
EOF2

$t->finish;
done_testing;
