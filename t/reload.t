#!/usr/bin/perl
# Reload and crash under load (issue "reload under load"): while forked clients hammer nginx
# (2 workers) over keep-alive with valid tokens, never-valid tokens and no token,
#   (a) `nginx -s reload` several times,
#   (b) the key file is swapped (PEM of rsa -> JWKS {k1: rsa, k2: rsa2} -> JWKS {k2: rsa2}), each
#       followed by `nginx -s reload`: tokens of the new key are accepted once the reload is done,
#       those of the removed key rejected,
#   (c) one worker is killed with SIGSEGV: the master starts a new one and nginx keeps answering.
# Assertions: no request with a never-valid or missing token is ever answered 2xx; every answer
# to a valid-token request is one that a key set in force during that request gives (200 or
# 401 while a swap is in progress, never 5xx); requests cut off without an answer (a keep-alive
# connection closed by an old worker, the in-flight requests of the killed worker) happen only
# inside a reload or crash window; they are counted and retried.
#
# The master logs the crash as "[alert] ... worker process N exited on signal 11". That line is
# expected, so the crash phase runs with its own error log (logs/crash.log, switched to by a
# reload just before the kill), which this test checks itself: exactly that alert, nothing else
# at alert/crit/emerg, no panic, no token. logs/error.log (phases a and b) gets the harness's
# automatic checks unchanged.
#
# Bounded: the load stops after about 15 s of scenario, at the latest after 60 s.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use AuthJwt::Test;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

my $t = AuthJwt::Test->new;
my $HARD_DEADLINE = time + 60;

###############################################################################################
# Key sets and tokens

my $mixed = decode_json($t->read_file('conf/keys/jwks-mixed-use.json'));
my ($rsa)  = grep { $_->{kid} eq 'rsa1' } @{ $mixed->{keys} };    # rsa.pub
my ($rsa2) = grep { $_->{kid} eq 'enc1' } @{ $mixed->{keys} };    # rsa2.pub
sub jwk { my ($k, $kid) = @_; return { kty => 'RSA', n => $k->{n}, e => $k->{e}, kid => $kid,
        use => 'sig', alg => 'RS256' } }

my %KEYSET = (
    pem  => $t->read_file('conf/keys/rsa.pub.pem'),
    both => encode_json({ keys => [jwk($rsa, 'k1'), jwk($rsa2, 'k2')] }),
    k2   => encode_json({ keys => [jwk($rsa2, 'k2')] }),
);
# Which valid-token classes each key set accepts. `pem` has no kid, so it verifies k1's tokens
# (kid "k1", no key with that kid) and rejects k2's (signed by rsa2).
my %ACCEPTS = (pem => { k1 => 1 }, both => { k1 => 1, k2 => 1 }, k2 => { k2 => 1 });

my %TOK = (
    k1 => [map { $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'k1',
        claims => { sub => "k1-$_" }, exp_in => 600) } 1 .. 3],
    k2 => [map { $t->mint(alg => 'RS256', key => 'rsa2.key', kid => 'k2',
        claims => { sub => "k2-$_" }, exp_in => 600) } 1 .. 3],
    # never accepted by any key set this test configures
    bad => [
        $t->mint(alg => 'RS256', key => 'rsa2.key', kid => 'k1', claims => { sub => 'forged-kid' },
            exp_in => 600),                                                   # kid k1, rsa2's signature
        $t->mint(alg => 'ES256', key => 'ec256.key', claims => { sub => 'ec' }, exp_in => 600),
        $t->mint(alg => 'RS256', key => 'rsa.key', kid => 'k1', claims => { sub => 'old' },
            exp_in => -60),                                                   # expired
        hs_token('HS256', $KEYSET{pem}, '{"alg":"HS256","typ":"JWT"}',
            '{"sub":"confused","exp":' . (time + 600) . '}'),                # HS256 keyed with the public key
        b64url('{"alg":"none"}') . '.' . b64url('{"sub":"none"}') . '.',
        'not-a-jwt',
    ],
);
$t->track_token($_) for @{ $TOK{bad} };
my @CLASSES = (('k1') x 3, ('k2') x 3, ('bad') x 3, 'none');    # rotation per client

###############################################################################################
# nginx

sub conf {
    my ($errlog) = @_;
    my $user = $> == 0 ? 'user root;' : '';
    return <<"EOF";
%%NO_WRAP%%
load_module %%MODULE%%;
$user
daemon on;
pid logs/nginx.pid;
error_log $errlog info;
worker_processes 2;
worker_rlimit_core 0;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        auth_jwt_rs on;
        auth_jwt_rs_realm "reload";
        auth_jwt_rs_key_file %%KEYS%%/current.keys;
        location / {
            empty_gif;
        }
    }
}
EOF
}

sub set_keys {    # atomic swap of the key file
    my ($name) = @_;
    $t->write_file('conf/keys/current.keys.tmp', $KEYSET{$name});
    rename($t->keys_dir . '/current.keys.tmp', $t->keys_dir . '/current.keys') or die "rename: $!";
}

sub master_pid {
    my $p = $t->read_file('logs/nginx.pid');
    return $p =~ /^(\d+)/ ? $1 : undef;
}

sub workers {
    my $master = master_pid() or return ();
    my @w;
    opendir(my $dh, '/proc') or return ();
    for my $p (grep { /^\d+$/ } readdir $dh) {
        my $stat = read_file_bytes("/proc/$p/stat") or next;
        next unless $stat =~ /\)\s+\S+\s+(\d+)/ && $1 == $master;
        push @w, $p if read_file_bytes("/proc/$p/cmdline") =~ /worker process/;
    }
    closedir $dh;
    return sort { $a <=> $b } @w;
}

# Waits until none of @old runs any more and two other workers do; returns the new pids.
sub wait_workers_replaced {
    my (@old) = @_;
    my %old = map { $_ => 1 } @old;
    my $deadline = time + 10;
    while (time < $deadline) {
        my @now = workers();
        my @new = grep { !$old{$_} } @now;
        return @new if @new == 2 && @now == 2;
        sleep 0.02;
    }
    return ();
}

# `nginx -s reload`; returns once the old workers are gone (graceful shutdown done).
sub nginx_reload {
    my @old = workers();
    my $out = `$t->{nginx} -p ${\ $t->prefix}/ -c conf/nginx.conf -s reload 2>&1`;
    is($?, 0, 'nginx -s reload') or diag($out);
    my @new = wait_workers_replaced(@old);
    ok(scalar @new, "reload: old workers (@old) replaced by new ones (@new)");
    return @new;
}

my $port = $t->port(1);
set_keys('pem');
$t->write_conf(conf('logs/error.log'));
$t->run;

# Direct check, on fresh connections (so both workers are likely to answer some).
sub check_direct {
    my ($name, %want) = @_;
    for my $class (sort keys %want) {
        my @st;
        for my $i (0 .. 5) {
            my $tok = $TOK{$class}[$i % @{ $TOK{$class} }];
            push @st, $t->get(1, '/', Authorization => "Bearer $tok")->{status} // 'none';
        }
        is(join(',', @st), join(',', ($want{$class}) x 6), "$name: $class tokens -> $want{$class}");
    }
}

###############################################################################################
# Load: forked clients over keep-alive; each writes "class t_start t_end status" lines, status
# being the HTTP status or "cut" (connection closed/reset before a complete answer; then the
# same request is retried on a new connection, and the line ends with the time that connection
# had been opened) or "connect" (connection refused: never expected).

my $RUN_DIR = $t->prefix . '/load';
mkdir $RUN_DIR;
my $STOP = "$RUN_DIR/stop";

sub client {
    my ($n) = @_;
    open my $out, '>', "$RUN_DIR/client$n.txt" or die;
    my ($s, $opened);
    my $i = $n * 3;
    my $cap = 200_000;
    while ($cap-- > 0 && !-e $STOP && time < $HARD_DEADLINE) {
        my $class = $CLASSES[$i % @CLASSES];
        my $tok = $class eq 'none' ? undef : $TOK{$class}[int($i / @CLASSES) % @{ $TOK{$class} }];
        $i++;
        my $req = "GET /r$i HTTP/1.1\r\nHost: localhost\r\n"
            . (defined $tok ? "Authorization: Bearer $tok\r\n" : '') . "\r\n";
        for my $try (1 .. 5) {
            my $t0 = time;
            if (!$s) {
                $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Proto => 'tcp', Timeout => 5);
                $opened = time;
            }
            if (!$s) { printf $out "%s %.6f %.6f connect %.6f\n", $class, $t0, time, $t0; sleep 0.01; next }
            my ($status, $close) = exchange($s, $req);
            my $t1 = time;
            if (!defined $status) {
                printf $out "%s %.6f %.6f cut %.6f\n", $class, $t0, $t1, $opened;
                close $s; undef $s;
                next;
            }
            printf $out "%s %.6f %.6f %s\n", $class, $t0, $t1, $status;
            if ($close) { close $s; undef $s }
            last;
        }
    }
    close $out;
}

# One request/response on a keep-alive connection: (status, connection-closes) or () when the
# connection was closed or reset before a complete response.
sub exchange {
    my ($s, $req) = @_;
    local $SIG{PIPE} = 'IGNORE';
    defined(syswrite($s, $req)) or return ();
    my $buf = '';
    my $sel = IO::Select->new($s);
    my $deadline = time + 5;
    my ($head, $len);
    while (1) {
        if (!defined $head && $buf =~ /\r\n\r\n/) {
            ($head) = $buf =~ /\A(.*?\r\n)\r\n/s;
            return ('badresp', 1) unless $head =~ m{^HTTP/1\.1 (\d{3})};
            ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
            return ('nolength', 1) unless defined $len;
        }
        if (defined $head && length($buf) >= length($head) + 2 + $len) {
            my ($status) = $head =~ m{^HTTP/1\.1 (\d{3})};
            return ($status, $head =~ /^Connection:\s*close/mi ? 1 : 0);
        }
        my $left = $deadline - time;
        return ('timeout', 1) if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread($s, $buf, 65536, length $buf);
        return () unless $n;    # EOF or ECONNRESET
    }
}

my @kids;
for my $n (0 .. 2) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $ok = eval { client($n); 1 };
        POSIX::_exit($ok ? 0 : 1);
    }
    push @kids, $pid;
}

###############################################################################################
# The scenario. @EPOCHS: key sets with the interval in which each may be in force; @WINDOWS:
# intervals in which a cut connection is expected.

my @EPOCHS  = ({ keys => 'pem', from => 0 });
my @WINDOWS;

sub swap_and_reload {
    my ($keys) = @_;
    my $a = time;
    set_keys($keys);
    my @new = nginx_reload();
    my $b = time;
    $EPOCHS[-1]{to} = $b;
    push @EPOCHS, { keys => $keys, from => $a };
    push @WINDOWS, [$a, $b, "reload to $keys"];
    return @new;
}

sleep 1.5;

# (a) plain reloads
for my $i (1 .. 3) {
    my $a = time;
    nginx_reload();
    push @WINDOWS, [$a, time, "reload $i"];
    sleep 0.8;
}
check_direct('after 3 reloads', k1 => 200, k2 => 401, bad => 401);

# (b) key rotation through the key file
swap_and_reload('both');
check_direct('JWKS {k1, k2}', k1 => 200, k2 => 200, bad => 401);
sleep 1.5;
swap_and_reload('k2');
check_direct('JWKS {k2}', k1 => 401, k2 => 200, bad => 401);
sleep 1.5;

# (c) SIGSEGV of a worker, with the crash phase logging to logs/crash.log (see the top)
$t->write_conf(conf('logs/crash.log'));
{
    my $a = time;
    nginx_reload();
    push @WINDOWS, [$a, time, 'reload to crash.log'];
}
sleep 1;
my @before = workers();
is(scalar @before, 2, 'two workers before the crash');
my $victim = $before[0];
my $ka = time;
ok(kill('SEGV', $victim), "kill -SEGV worker $victim");
my @respawned = wait_workers_replaced($victim);
my @after = workers();
push @WINDOWS, [$ka, time, 'SIGSEGV'];
ok(!grep({ $_ == $victim } @after), 'killed worker is gone');
is(scalar @after, 2, 'two workers again after the crash (' . join(' ', @after) . ')');
ok(scalar(grep { my $p = $_; !grep { $_ == $p } @before } @after), 'the master started a new worker');
check_direct('after the crash', k1 => 401, k2 => 200, bad => 401);
sleep 1.5;

# stop the load
$t->write_file('load/stop', '');
for my $pid (@kids) {
    waitpid($pid, 0);
    is($? >> 8, 0, "load client $pid exited cleanly");
}
$EPOCHS[-1]{to} = 9**9**9;

###############################################################################################
# Verdicts

my (%n, %cut_by_window, @wrong, @stray_cuts);
for my $n (0 .. 2) {
    open my $in, '<', "$RUN_DIR/client$n.txt" or die "client$n.txt: $!";
    while (my $line = <$in>) {
        my ($class, $s, $e, $status, $opened) = split ' ', $line;
        if ($status eq 'cut' || $status eq 'connect') {
            # A connection closed by an old or killed worker was opened before that worker was
            # gone, and its end is seen after the reload or the kill began.
            $n{$status}++;
            my ($w) = $status eq 'cut' && grep { $opened <= $_->[1] + 0.5 && $e >= $_->[0] } @WINDOWS;
            if ($w) { $cut_by_window{ $w->[2] }++ } else { push @stray_cuts, $line }
            next;
        }
        $n{total}++;
        $n{"$class $status"}++;
        my %allowed;
        if ($class eq 'bad' || $class eq 'none') {
            %allowed = (401 => 1);
        } else {
            for my $ep (@EPOCHS) {
                next if $e < $ep->{from} || $s > $ep->{to};
                $allowed{ $ACCEPTS{ $ep->{keys} }{$class} ? 200 : 401 } = 1;
            }
        }
        push @wrong, $line unless $allowed{$status};
    }
}
note(join ', ', map { "$_: $n{$_}" } sort keys %n);
note('cut (retried) per window: ' . join(', ', map { "$_: $cut_by_window{$_}" } sort keys %cut_by_window));

cmp_ok($n{total} // 0, '>', 2000, 'load: enough answered requests');
for my $c (qw(k1 k2 bad none)) {
    ok(grep({ /^$c / } keys %n), "load: class $c answered");
}
is(($n{'bad 200'} // 0) + ($n{'none 200'} // 0), 0, 'never-valid or missing token: never 2xx');
my @fives = grep { /^\S+ \S+ \S+ 5\d\d$/ } @wrong;
is(scalar @fives, 0, 'no 5xx') or diag(join '', @fives[0 .. ($#fives > 9 ? 9 : $#fives)]);
is(scalar @wrong, 0, 'every answer is one a key set in force at the time gives')
    or diag(join '', @wrong[0 .. ($#wrong > 19 ? 19 : $#wrong)]);
is(scalar @stray_cuts, 0, 'connections cut only during a reload or the crash, never refused')
    or diag(join '', @stray_cuts[0 .. ($#stray_cuts > 9 ? 9 : $#stray_cuts)]);
cmp_ok($n{'k2 200'} // 0, '>', 0, 'k2 tokens accepted under load after the swap');
cmp_ok($n{'k1 401'} // 0, '>', 0, 'k1 tokens rejected under load after their removal');

###############################################################################################
# logs/crash.log, checked here (the harness checks logs/error.log in finish())

$t->stop;
my $crash = $t->read_file('logs/crash.log');
my @alerts = grep { /\[(?:alert|crit|emerg)\]/ } split /\n/, $crash;
my @expected = grep { /\[alert\] \d+#\d+: worker process $victim exited on signal 11\b/ } @alerts;
is(scalar @expected, 1, "crash.log: the master reports worker $victim exited on signal 11")
    or diag(join "\n", @alerts);
my @other = grep { !/worker process $victim exited on signal 11\b/ } @alerts;
is(scalar @other, 0, 'crash.log: no other [alert], [crit] or [emerg]') or diag(join "\n", @other[0 .. ($#other > 9 ? 9 : $#other)]);
unlike($crash, qr/panicked/, 'crash.log: no panics');
my @leak = grep { index($crash, $_) >= 0 || index($crash, (split /\./, $_, -1)[2] || "\0") >= 0 }
    map { @$_ } values %TOK;
is(scalar @leak, 0, 'crash.log: no token or signature logged');

$t->finish;
done_testing;
