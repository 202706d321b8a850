#!/usr/bin/perl
# README "Examples": every example in nginx-conf/*.conf is a complete nginx.conf that passes
# `nginx -t` with the module loaded as modules/ngx_http_auth_jwt_rs_module.so and key files
# under conf/jwt/.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Basename qw(basename dirname);

my $t = AuthJwt::Test->new;    # checks nginx/module presence; its prefix hosts the example prefixes
my $dir = "$AuthJwt::Test::ROOT/nginx-conf";
my @examples = sort glob("$dir/*.conf");
ok(@examples > 0, "nginx-conf/ holds example configs") or diag("no $dir/*.conf found");


my $n = 0;
for my $ex (@examples) {
    my $name = basename($ex, '.conf');
    my $prefix = $t->prefix . "/ex-" . ++$n;
    make_path("$prefix/modules", "$prefix/conf/jwt", "$prefix/logs");
    symlink($t->module, "$prefix/modules/ngx_http_auth_jwt_rs_module.so") or die "symlink: $!";

    my $text = AuthJwt::Test::read_file_bytes($ex);
    like($text, qr{^\s*load_module\s+modules/ngx_http_auth_jwt_rs_module\.so\s*;}m,
        "$name: load_module modules/ngx_http_auth_jwt_rs_module.so");

    # every jwt/... path the example mentions gets a fixture
    my %refs = map { $_ => 1 } $text =~ m{(?:^|[\s"'])(?:conf/)?(jwt/[A-Za-z0-9._/-]+)}g;
    for my $ref (sort keys %refs) {
        $ref =~ s/[;"']+$//;
        my $dst = "$prefix/conf/$ref";
        make_path(dirname($dst));
        copy(AuthJwt::Test::example_fixture($ref), $dst) or die "copy for $ref: $!";
    }
    # other files commonly included next to nginx.conf
    my $nginx_conf_dir = dirname(dirname($t->nginx)) . '/conf';
    for my $inc ($text =~ m{^\s*include\s+([^;\s*]+)\s*;}mg) {
        next if $inc =~ m{^/};
        my $src = -f "$dir/$inc" ? "$dir/$inc" : -f "$nginx_conf_dir/$inc" ? "$nginx_conf_dir/$inc" : undef;
        if ($src) { make_path(dirname("$prefix/conf/$inc")); copy($src, "$prefix/conf/$inc"); }
    }
    copy($ex, "$prefix/conf/nginx.conf") or die "copy $ex: $!";

    my ($rc, $out) = AuthJwt::Test::_cmd_output($t->nginx, '-p', "$prefix/", '-e', 'logs/error.log',
        '-c', 'conf/nginx.conf', '-t');
    is($rc, 0, "$name: nginx -t passes") or diag($out);
    like($out, qr/test is successful/, "$name: test is successful") or diag($out);
    unlike($out, qr/\[(?:warn|alert|crit|emerg)\]/, "$name: no warnings") or diag($out);
}

$t->finish;
done_testing;
