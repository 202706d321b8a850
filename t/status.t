#!/usr/bin/perl
# README "auth_jwt_rs_status", docs/operations.md "Metrics": Prometheus counters summed over all
# workers, moving as expected after a scripted sequence of requests; kept across a reload.

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
        auth_jwt_rs_key_file %%KEYS%%/rsa.pub.pem;

        location / {
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /rule/ {
            auth_jwt_rs_require_claim role eq admin;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location /nocache/ {
            auth_jwt_rs_cache off;
            proxy_pass http://127.0.0.1:%%PORT_2%%;
        }
        location = /metrics {
            auth_jwt_rs off;
            allow 127.0.0.1;
            deny all;
            auth_jwt_rs_status;
        }
    }
}
EOF2
$t->run;

sub metrics {
    my $r = $t->get(1, '/metrics');
    is($r->{status}, 200, 'metrics: 200');
    my %m;
    for (split /\n/, $r->{body}) {
        next if /^#/ or !/\S/;
        my ($k, $v) = /^(\S+)\s+(\d+)$/ or next;
        $m{$k} = $v;
    }
    return (\%m, $r);
}

my ($m0, $r0) = metrics();
like(h($r0, 'content-type'), qr{^text/plain; version=0\.0\.4}, 'Prometheus content type');
like($r0->{body}, qr/^# HELP auth_jwt_rs_decisions_total /m, 'HELP line');
like($r0->{body}, qr/^# TYPE auth_jwt_rs_decisions_total counter$/m, 'TYPE line');
like($r0->{body}, qr/^auth_jwt_rs_info\{version="\d+\.\d+\.\d+"\} 1$/m, 'version');
is($m0->{'auth_jwt_rs_decisions_total{status="ok",reason=""}'}, 0, 'ok starts at 0');
for my $line (split /\n/, $r0->{body}) {
    next if $line =~ /^#/;
    like($line, qr/^auth_jwt_rs_[a-z_]+(\{[a-z_]+="[a-z_.0-9]*"(,[a-z_]+="[a-z_]*")*\})? \d+$/,
        "well-formed sample: $line");
}

my $good = $t->mint(alg => 'RS256', key => 'rsa.key', claims => {sub => 'a', role => 'admin'},
    exp_in => 600);
my $user = $t->mint(alg => 'RS256', key => 'rsa.key', claims => {sub => 'b', role => 'user'},
    exp_in => 600);
my $expired = $t->mint(alg => 'RS256', key => 'rsa.key', claims => {sub => 'c'}, exp_in => -60);
my $forged = $t->mint(alg => 'RS256', key => 'rsa2.key', claims => {sub => 'd'}, exp_in => 600);

my @seq = (
    [ '/x', $good, 200 ], [ '/x', $good, 200 ], [ '/x', $good, 200 ],
    [ '/x', undef, 401 ], [ '/x', undef, 401 ],
    [ '/x', $expired, 401 ],
    [ '/x', $forged, 401 ], [ '/x', $forged, 401 ],
    [ '/x', 'not-a-jwt', 401 ],
    [ '/rule/x', $user, 403 ],
    [ '/nocache/x', $good, 200 ],
);
for my $s (@seq) {
    my ($path, $tok, $want) = @$s;
    my @h = defined $tok ? (Authorization => "Bearer $tok") : ();
    is($t->get(1, $path, @h)->{status}, $want, "$path -> $want");
}

my ($m1) = metrics();
my %delta = (
    'auth_jwt_rs_decisions_total{status="ok",reason=""}'                 => 4,
    'auth_jwt_rs_decisions_total{status="missing",reason="missing"}'     => 2,
    'auth_jwt_rs_decisions_total{status="invalid",reason="expired"}'     => 1,
    'auth_jwt_rs_decisions_total{status="invalid",reason="bad_signature"}' => 2,
    'auth_jwt_rs_decisions_total{status="invalid",reason="malformed"}'   => 1,
    'auth_jwt_rs_decisions_total{status="forbidden",reason="rule"}'      => 1,
    # Cache: the first $good is a miss, the next two hit, then $expired (miss, signature ok,
    # cached), 2 x forged (miss), malformed (miss), $user (miss); /nocache/ does no lookup.
    'auth_jwt_rs_cache_lookups_total{result="hit"}'                      => 2,
    'auth_jwt_rs_cache_lookups_total{result="miss"}'                     => 6,
    'auth_jwt_rs_key_fetches_total{result="ok"}'                         => 0,
);
for my $k (sort keys %delta) {
    is(($m1->{$k} // 0) - ($m0->{$k} // 0), $delta{$k}, "delta $k");
}

# Counters are in shared memory: a reload keeps them.
$t->reload;
my ($m2) = metrics();
is($m2->{'auth_jwt_rs_decisions_total{status="ok",reason=""}'},
    $m1->{'auth_jwt_rs_decisions_total{status="ok",reason=""}'}, 'kept across reload');

# Only GET/HEAD.
is($t->request(port => 1, method => 'POST', path => '/metrics', body => 'x')->{status}, 405,
    'POST -> 405');

$t->finish;
done_testing;
