package AuthJwt::Node;

# The Node.js parts of the end-to-end tests (t/node): installs the npm packages from
# t/node/package-lock.json when needed, and starts and stops the test's node processes (the
# OpenID provider t/node/provider.mjs, the relying party t/node/rp.mjs) on 127.0.0.1.
#
#   use AuthJwt::Node;
#   AuthJwt::Node::require_node();            # fails the test file clearly without node/npm
#   my $idp = AuthJwt::Node->provider($t, name => 'a', resource => 'https://orders.api.test',
#                                     keys => [[RS256 => 'a-rs'], [ES256 => 'a-es']]);
#   my $tok = $idp->cc(client => 'svc', scope => 'orders:read')->{access_token};
#   $idp->restart(keys => [[RS256 => 'a-rs2']]);   # key rotation: same port and issuer
#
# Every process runs in its own process group and is stopped (SIGTERM, then SIGKILL) by
# stop(), when its object goes away, and at exit, also when the test dies or is interrupted.

use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use Fcntl qw(:flock);
use File::Path qw(make_path);
use File::Temp ();
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use POSIX qw(:sys_wait_h);
use Scalar::Util ();
use Test::More;
use Time::HiRes qw(sleep time);

use AuthJwt::Test ();

our $DIR = "$AuthJwt::Test::ROOT/t/node";
our $NODE_MIN = 20;

my @LIVE;
my $J = JSON::PP->new->canonical;

# So that END (which stops every process, and the harness's nginx) also runs on ^C or a kill.
my %SIGNO = (HUP => 1, INT => 2, PIPE => 13, TERM => 15);
for my $sig (sort keys %SIGNO) {
    $SIG{$sig} = sub { exit 128 + $SIGNO{$sig} } if !$SIG{$sig} || $SIG{$sig} eq 'DEFAULT';
}

###############################################################################################
# node and the npm packages

sub _slurp { AuthJwt::Test::read_file_bytes($_[0]) }

sub _capture { AuthJwt::Test::_cmd_output(@_) }

# node_problem(): undef when node (>= 20) and the npm packages are ready, else the reason.
# Installs the packages with `npm ci` from the lock file when node_modules does not match it
# (a stamp holds the lock file's SHA-256), under a lock so that parallel test files install
# once. With a matching node_modules nothing touches the network.
sub node_problem {
    my ($rc, $v) = _capture('node', '--version');
    return "node not found (Node.js >= $NODE_MIN is needed; run scripts/install-deps.sh)"
        if $rc != 0 || $v !~ /^v(\d+)\./;
    return "node $v is too old (Node.js >= $NODE_MIN is needed)" if $1 < $NODE_MIN;

    my $want = sha256_hex(_slurp("$DIR/package-lock.json"));
    my $stamp = "$DIR/node_modules/.auth-jwt-rs-lock-sha256";
    return undef if _slurp($stamp) eq $want;

    open my $lock, '>', "$DIR/.install.lock" or return "cannot open $DIR/.install.lock: $!";
    flock $lock, LOCK_EX or return "flock $DIR/.install.lock: $!";
    return undef if _slurp($stamp) eq $want;    # another test file installed meanwhile
    my $t0 = time;
    ($rc, my $out) = _capture('npm', 'ci', '--prefix', $DIR, '--no-audit', '--no-fund',
        '--ignore-scripts', '--prefer-offline', '--loglevel=error');
    return "npm ci in t/node failed (exit $rc; is npm installed? scripts/install-deps.sh):\n$out"
        if $rc != 0;
    open my $fh, '>', $stamp or return "cannot write $stamp: $!";
    print $fh $want;
    close $fh;
    diag(sprintf 'installed the npm packages of t/node (npm ci, %.1f s)', time - $t0);
    return undef;
}

# require_node(): node_problem() as a failing test that ends the test file.
sub require_node {
    my $err = node_problem() // return 1;
    fail('Node.js parts of the tests are usable');
    diag($err);
    done_testing();
    exit 1;
}

###############################################################################################
# Processes

# start(name => NAME, logdir => DIR, script => FILE (in t/node), args => [...]): runs
# `node FILE ARGS` and waits until it prints "ready" (its stdout and stderr go to DIR/NAME.log).
sub start {
    my ($class, %a) = @_;
    my $self = bless { %a, log => "$a{logdir}/$a{name}.log" }, ref $class || $class;
    $self->_spawn;
    push @LIVE, $self;
    Scalar::Util::weaken($LIVE[-1]);
    return $self;
}

sub _spawn {
    my ($self) = @_;
    make_path($self->{logdir});
    my $from = -s $self->{log} // 0;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        POSIX::setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $self->{log} or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        chdir $DIR or POSIX::_exit(126);
        exec 'node', $self->{script}, @{ $self->{args} } or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    my $deadline = time + 20;
    while (time < $deadline) {
        my $out = substr(_slurp($self->{log}), $from);
        return $self if $out =~ /^ready\b/m;
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pid};
            die "$self->{name} ($self->{script}) exited (status $?) before it was ready:\n$out\n";
        }
        sleep 0.05;
    }
    $self->stop;
    die "$self->{name} ($self->{script}) not ready after 20 s:\n" . substr(_slurp($self->{log}), $from) . "\n";
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return $self;
    kill 'TERM', -$pid;
    my $deadline = time + 5;
    while (time < $deadline) {
        return $self if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'KILL', -$pid;
    waitpid($pid, 0);
    return $self;
}

sub log_text { _slurp($_[0]{log}) }

sub DESTROY {
    local ($?, $!, $@);
    $_[0]->stop;
}

END {
    local ($?, $!, $@);
    $_->stop for grep { defined } @LIVE;
}

# run(script => FILE, args => [...], timeout => SECS): runs `node FILE ARGS` to completion
# (killing its process group after the timeout) -> (exit code or -1 on timeout, stdout, stderr).
sub run {
    my ($class, %a) = @_;
    my $tmp = File::Temp->newdir('auth-jwt-rs-node-XXXXXX', TMPDIR => 1);
    my ($out, $err) = ("$tmp/out", "$tmp/err");
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        POSIX::setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>', $err or POSIX::_exit(126);
        chdir $DIR or POSIX::_exit(126);
        exec 'node', $a{script}, @{ $a{args} // [] } or POSIX::_exit(127);
    }
    my $deadline = time + ($a{timeout} // 30);
    my $rc;
    while (1) {
        if (waitpid($pid, WNOHANG) == $pid) { $rc = $? >> 8; last }
        if (time > $deadline) {
            kill 'KILL', -$pid;
            waitpid($pid, 0);
            $rc = -1;
            last;
        }
        sleep 0.02;
    }
    kill 'KILL', -$pid;    # whatever it left behind in its group (e.g. a browser)
    return ($rc, _slurp($out), _slurp($err));
}

###############################################################################################
# The OpenID provider

# openssl_key($t, TYPE, NAME): a fresh private key (TYPE rsa, ec or ed25519) in the test's
# keys dir; returns its path.
sub openssl_key {
    my ($t, $type, $name) = @_;
    my $path = $t->keys_dir . "/$name.key";
    my @opt = $type eq 'rsa' ? ('-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048')
        : $type eq 'ec' ? ('-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256')
        : ('-algorithm', 'ed25519');
    my ($rc, $out) = _capture('openssl', 'genpkey', @opt, '-out', $path);
    die "openssl genpkey $type failed: $out" if $rc != 0;
    return $path;
}

# free_port($t): a loopback port for a process of the test (not one of nginx's %%PORT_N%%).
my $next_port = 100;
sub free_port { $_[0]->port($next_port++) }

my %KEYTYPE = (RS256 => 'rsa', PS256 => 'rsa', ES256 => 'ec', EdDSA => 'ed25519');

# provider($t, name => NAME, resource => URL, keys => [[ALG, KID], ...],
#          redirect_uris => [...], port => N): t/node/provider.mjs on 127.0.0.1 with a fresh key
# per [ALG, KID]; issuer http://127.0.0.1:PORT. ->{issuer}, ->{port}, ->{key}{KID} (key path).
sub provider {
    my ($class, $t, %a) = @_;
    my $port = $a{port} // free_port($t);
    my $self = bless {
        name     => $a{name},
        logdir   => $t->prefix . '/logs',
        script   => 'provider.mjs',
        port     => $port,
        issuer   => "http://127.0.0.1:$port",
        resource => $a{resource},
        redirect_uris => $a{redirect_uris} // [],
        requests => $t->prefix . "/logs/$a{name}.requests.log",
        t        => $t,
    }, $class;
    $self->{log} = "$self->{logdir}/$self->{name}.log";
    $self->_set_keys($a{keys});
    $self->_spawn;
    push @LIVE, $self;
    Scalar::Util::weaken($LIVE[-1]);
    return $self;
}

sub _set_keys {
    my ($self, $keys) = @_;
    my @args = ('--port', $self->{port}, '--issuer', $self->{issuer}, '--resource', $self->{resource},
        '--log', $self->{requests});
    push @args, map { ('--redirect-uri', $_) } @{ $self->{redirect_uris} };
    $self->{kids} = [];
    for my $k (@$keys) {
        my ($alg, $kid) = @$k;
        my $path = $self->{key}{$kid} //= openssl_key($self->{t}, $KEYTYPE{$alg} // die("alg $alg"), "$self->{name}-$kid");
        push @args, '--key', "$alg:$kid:$path";
        push @{ $self->{kids} }, $kid;
    }
    $self->{args} = \@args;
}

# restart(keys => [[ALG, KID], ...]): the same provider (port, issuer) with other signing keys.
sub restart {
    my ($self, %a) = @_;
    $self->stop;
    $self->_set_keys($a{keys}) if $a{keys};
    $self->_spawn;
}

# requests(REGEX): how many requests the provider answered whose "METHOD path status" matches.
sub requests {
    my ($self, $re) = @_;
    return scalar grep { $_ =~ $re } split /\n/, _slurp($self->{requests});
}

# discovery(): the provider's /.well-known/openid-configuration, fetched with curl.
sub discovery {
    my ($self) = @_;
    my ($rc, $out) = _capture('curl', '-sSf', '--max-time', '10',
        "$self->{issuer}/.well-known/openid-configuration");
    die "discovery of $self->{issuer} failed: $out\n" if $rc != 0;
    return $J->decode($out);
}

sub jwks_fetches { $_[0]->requests(qr{^GET /jwks 200$}) }

sub _tokens {
    my ($self, @args) = @_;
    my ($rc, $out, $err) = AuthJwt::Node->run(script => 'client.mjs', args => \@args, timeout => 20);
    die "client.mjs @args[0 .. 4] failed ($rc): $err$out\n" if $rc != 0;
    my $res = $J->decode($out);
    AuthJwt::Test::track_token($res->{$_}) for grep { defined $res->{$_} } qw(access_token id_token);
    return $res;
}

# cc(client => ID, scope => S, resource => URL): the token endpoint's reply to a
# client-credentials request (a hashref with access_token, ...), asked with curl as a service
# would (client.mjs can do the same, but a node start costs ~0.3 s per token).
sub cc {
    my ($self, %a) = @_;
    my $client = $a{client} // 'svc';
    $self->{token_endpoint} //= $self->discovery->{token_endpoint};
    my ($rc, $out) = _capture('curl', '-sS', '--max-time', '10', '-w', '\n%{http_code}',
        '-u', "$client:$client-secret", '-d', 'grant_type=client_credentials',
        (defined $a{scope} ? ('--data-urlencode', "scope=$a{scope}") : ()),
        '--data-urlencode', 'resource=' . ($a{resource} // $self->{resource}),
        $self->{token_endpoint});
    die "token request of $client failed (curl exit $rc): $out\n"
        if $rc != 0 || $out !~ s/\n200\z//;
    my $res = $J->decode($out);
    AuthJwt::Test::track_token($res->{access_token});
    return $res;
}

# code(user => U, scope => S): an authorization-code login of the "web" client (the provider
# must have been given a redirect URI): the reply with access_token and id_token.
sub code {
    my ($self, %a) = @_;
    return $self->_tokens('code', '--issuer', $self->{issuer}, '--client', 'web',
        '--redirect-uri', $self->{redirect_uris}[0], '--user', $a{user} // 'alice',
        '--password', $a{password} // 'wonderland', '--scope', $a{scope} // 'openid email orders:read',
        '--resource', $a{resource} // $self->{resource});
}

# jwt_parts(TOKEN) -> (header hashref, claims hashref): decoded without any verification, to
# look at what the provider put in its tokens.
sub jwt_parts {
    my ($tok) = @_;
    my @p = split /\./, $tok // '';
    return map {
        (my $s = $_ // '') =~ tr{-_}{+/};
        $s .= '=' x ((4 - length($s) % 4) % 4);
        my $d = eval { $J->decode(decode_base64($s)) };
        $d // {};
    } @p[0, 1];
}

1;
