#!/usr/bin/perl
# The gate over HTTP/2, with curl (nghttp2): TLS with ALPN (`listen ... ssl` + `http2 on`, and
# the older `listen ... ssl http2`) and h2c with prior knowledge (`http2 on` on a plain
# listener). Valid tokens reach the backend with the claim variables; a missing, invalid or
# forbidden token gets its challenge; a browser navigation its login redirect with
# $jwt_return_url built from :authority; and the session cookie is found when the client
# splits its cookies across several HTTP/2 `cookie` fields (RFC 9113, 8.2.3), which nginx
# joins with "; " for the module and the backend.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use File::Temp ();

my $t = AuthJwt::Test->new;

# a self-signed certificate for 127.0.0.1
my $crt = $t->prefix . '/conf/h2.crt';
my $key = $t->prefix . '/conf/h2.key';
my $ssl = `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout '$key' -out '$crt' -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 2 2>&1`;
die "openssl req failed: $ssl" if $?;

my $GATE = <<'EOF2';
        auth_jwt_rs on;
        auth_jwt_rs_realm "h2";
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;
        auth_jwt_rs_token bearer cookie=session;
        add_header X-Status $jwt_status always;
        add_header X-Reason $jwt_reason always;
        add_header X-Sub $jwt_claim_sub always;
        add_header X-Protocol $server_protocol always;
        proxy_set_header X-User $user;
        proxy_set_header X-Email $email;
        proxy_set_header X-Roles $jwt_claim_roles;

        location / {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /admin/ {
            auth_jwt_rs_require_claim roles has admin;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /page/ {
            auth_jwt_rs_login_url "https://login.example.com/?rd=$jwt_return_url";
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /cookie/ {
            auth_jwt_rs_token cookie=session;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
EOF2

$t->write_conf(<<"EOF2");
http {
    auth_jwt_rs_claim_set \$user  sub;
    auth_jwt_rs_claim_set \$email email;

    # the backend, over HTTP/1.0 from nginx: what arrived
    server {
        listen 127.0.0.1:%%PORT_2%%;
        location / {
            return 200 "user=\$http_x_user email=\$http_x_email roles=\$http_x_roles cookie=[\$http_cookie] uri=\$request_uri\\n";
        }
    }

    # TLS, ALPN h2
    server {
        listen 127.0.0.1:%%PORT_1%% ssl;
        http2 on;
        ssl_certificate $crt;
        ssl_certificate_key $key;
$GATE
    }

    # h2c: HTTP/2 with prior knowledge (HTTP/1.x still served on the same port)
    server {
        listen 127.0.0.1:%%PORT_3%%;
        http2 on;
$GATE
    }

    # the older form, deprecated since nginx 1.25.1 but still common
    server {
        listen 127.0.0.1:%%PORT_4%% ssl http2;
        ssl_certificate $crt;
        ssl_certificate_key $key;
$GATE
    }
}
EOF2
$t->run;

my $tmp = File::Temp->newdir;
my $n = 0;

# h2($mode, PATH, HEADER_LINE, ...): curl over HTTP/2; $mode tls (port 1), h2c (port 3) or
# old (port 4). -> { version, status, headers => { lc name => [values] }, body }
sub h2 {
    my ($mode, $path, @hdr) = @_;
    my %port = (tls => 1, h2c => 3, old => 4);
    my $scheme = $mode eq 'h2c' ? 'http' : 'https';
    my $url = "$scheme://127.0.0.1:" . $t->port($port{$mode}) . $path;
    $n++;
    my ($hf, $bf) = ("$tmp/h$n", "$tmp/b$n");
    my @cmd = ('curl', '-sS', '--max-time', '10', '-D', $hf, '-o', $bf, '-w', '%{http_version}',
        $mode eq 'h2c' ? '--http2-prior-knowledge' : ('--http2', '--cacert', $crt),
        map({ ('-H', $_) } @hdr), $url);
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) { open STDERR, '>&', \*STDOUT; exec @cmd or POSIX::_exit(127) }
    my $version = do { local $/; <$fh> } // '';
    close $fh;
    die "curl $url: exit $? $version\n" if $?;
    my %res = (version => $version, headers => {}, body => AuthJwt::Test::read_file_bytes($bf));
    for my $l (split /\r\n/, AuthJwt::Test::read_file_bytes($hf)) {
        if ($l =~ m{^HTTP/(\S+) (\d{3})}) { $res{status} = $2; $res{headers} = {}; next }
        push @{ $res{headers}{ lc $1 } }, $2 if $l =~ /^([^:]+):\s*(.*)$/;
    }
    $res{raw} = "HTTP/$version $res{status}\n" . AuthJwt::Test::read_file_bytes($hf) . $res{body};
    return \%res;
}

my $good = $t->mint(alg => 'RS256', key => 'rsa.key', exp_in => 300,
    claims => { sub => 'alice', email => 'alice@example.test', roles => ['user'] });
my $admin = $t->mint(alg => 'RS256', key => 'rsa.key', exp_in => 300,
    claims => { sub => 'root', email => 'root@example.test', roles => ['user', 'admin'] });
my $expired = $t->mint(alg => 'RS256', key => 'rsa.key', claims => { sub => 'alice', exp => time - 60 });
my $forged = $t->mint(alg => 'RS256', key => 'rsa2.key', claims => { sub => 'alice' }, exp_in => 300);

my %PORTS = (tls => $t->port(1), h2c => $t->port(3), old => $t->port(4));
my $HTML = 'accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

for my $mode (qw(tls h2c old)) {
    my $r;
    my $p = $PORTS{$mode};
    my $scheme = $mode eq 'h2c' ? 'http' : 'https';

    $r = h2($mode, '/a?x=1', "authorization: Bearer $good");
    is($r->{version}, '2', "$mode: HTTP/2");
    expect_ok($r, "$mode: valid token",
        qr{^user=alice email=alice\@example\.test roles=user cookie=\[\] uri=/a\?x=1$});
    is(h($r, 'x-protocol'), 'HTTP/2.0', "$mode: \$server_protocol HTTP/2.0");
    is(h($r, 'x-sub'), 'alice', "$mode: \$jwt_claim_sub in add_header");

    $r = h2($mode, '/a');
    expect_missing($r, 'h2', "$mode: no token");
    $r = h2($mode, '/a', "authorization: Bearer $expired");
    expect_invalid($r, 'h2', 'expired', "$mode: expired token");
    $r = h2($mode, '/a', "authorization: Bearer $forged");
    expect_invalid($r, 'h2', 'bad_signature', "$mode: forged token");
    $r = h2($mode, '/a', 'authorization: Bearer a.b');
    expect_invalid($r, 'h2', 'malformed', "$mode: malformed token");

    $r = h2($mode, '/admin/', "authorization: Bearer $good");
    expect_status($r, 403, "$mode: rule fails");
    like(h($r, 'www-authenticate') // '', qr/^Bearer realm="h2", error="insufficient_scope"/,
        "$mode: rule fails: insufficient_scope challenge");
    $r = h2($mode, '/admin/', "authorization: Bearer $admin");
    expect_ok($r, "$mode: rule passes", qr{^user=root .*roles=user,admin });

    # :authority stands for Host: the port is kept in $jwt_return_url
    $r = h2($mode, '/page/p?q=%20', $HTML);
    expect_status($r, 302, "$mode: browser navigation without a token");
    is(h($r, 'location'), "https://login.example.com/?rd=$scheme%3A%2F%2F127.0.0.1%3A$p%2Fpage%2Fp%3Fq%3D%2520",
        "$mode: login redirect, rd= from :authority");
    $r = h2($mode, '/page/p', 'accept: application/json');
    expect_missing($r, 'h2', "$mode: fetch-like request keeps the 401");

    # cookies: one field, and split across several HTTP/2 cookie fields
    $r = h2($mode, '/cookie/1', "cookie: session=$good");
    expect_ok($r, "$mode: session cookie", qr{^user=alice .*cookie=\[session=\Q$good\E\]});
    $r = h2($mode, '/cookie/2', 'cookie: a=1', "cookie: session=$good", 'cookie: z=9');
    expect_ok($r, "$mode: session cookie in the middle of three cookie fields (joined for the backend)",
        qr{^user=alice .*cookie=\[a=1; session=\Q$good\E; z=9\] uri=/cookie/2$});
    $r = h2($mode, '/cookie/3', 'cookie: xsession=1; sessionx=2', 'cookie: theme=dark', "cookie: session=$good");
    expect_ok($r, "$mode: session cookie in the last field, look-alike names before it", qr{^user=alice });
    $r = h2($mode, '/cookie/4', 'cookie: a=1', "cookie: session=$expired", 'cookie: z=9');
    expect_invalid($r, 'h2', 'expired', "$mode: split cookies, expired session");
    $r = h2($mode, '/cookie/5', 'cookie: a=1', 'cookie: xsession=2', 'cookie: z=9');
    expect_missing($r, 'h2', "$mode: split cookies without a session cookie");
    $r = h2($mode, '/cookie/6', 'cookie: a=1', "cookie: session=$good");
    expect_ok($r, "$mode: two cookie fields", qr{^user=alice });
}

# the h2c port still speaks HTTP/1.1 to clients without prior knowledge
expect_ok($t->request(port => 3, path => '/h1', http => '1.1', headers => [Authorization => "Bearer $good"]),
    'h2c port: HTTP/1.1 request', qr{^user=alice .*uri=/h1$});

# What crossed the wire: nginx's debug log shows each HTTP/2 header field it decoded, so the
# split requests above really sent separate cookie fields, not one joined by curl.
$t->stop;
my @fields = grep { /http2 header: "cookie: (?:a=1|z=9)"/ } split /\n/, $t->error_log;
is(scalar(grep { /"cookie: z=9"/ } @fields), 3 * 3, 'nginx decoded the cookie fields separately (z=9: 3 requests per mode)');
is(scalar(grep { /"cookie: a=1"/ } @fields), 3 * 4, 'nginx decoded the cookie fields separately (a=1: 4 requests per mode)');
like($t->error_log, qr/\[warn\] .*the "listen \.\.\. http2" directive is deprecated/, 'the old listen form: nginx warns');

$t->finish;
done_testing;
