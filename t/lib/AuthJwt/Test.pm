package AuthJwt::Test;

# End-to-end test harness for ngx_http_auth_jwt_rs_module.
#
# Written for this project in the spirit of nginx-tests' Test::Nginx (temp prefix per test file,
# generated nginx.conf with load_module, free loopback ports, raw-socket HTTP, automatic log
# checks), using core Perl modules only.
#
#   use FindBin; use lib "$FindBin::Bin/lib"; use AuthJwt::Test;
#   my $t = AuthJwt::Test->new;
#   $t->write_conf(<<'EOF');
#   http { server { listen 127.0.0.1:%%PORT_1%%; ... } }
#   EOF
#   $t->run;
#   my $r = $t->get(1, '/', Authorization => 'Bearer ' . $t->mint(alg => 'RS256', key => 'rsa.key',
#                                                                 claims => {sub => 'alice'}, exp_in => 60));
#   is($r->{status}, 200);
#   $t->finish;            # stops nginx, runs the automatic error.log checks (as tests)
#   done_testing;
#
# Environment: AUTH_JWT_NGINX, AUTH_JWT_MODULE, AUTH_JWT_MINT (paths of the nginx binary, the
# module and jwt-mint; default build/{sbin/nginx,modules/...,bin/jwt-mint} under the repository,
# falling back to the cargo target/debug outputs), TEST_KEEP=1 keeps the temp prefix.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Spec;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Digest::SHA qw(hmac_sha256 hmac_sha384 hmac_sha512);
use POSIX qw(:sys_wait_h);
use Scalar::Util ();
use Socket qw(SOL_SOCKET SO_REUSEADDR);
use Test::More;
use Time::HiRes qw(sleep time);

use Exporter qw(import);
our @EXPORT = qw(b64url hs256_token hs_token h challenge_params read_file_bytes
    expect_ok expect_missing expect_invalid expect_status);

our $ROOT = abs_path(dirname(__FILE__) . '/../../..');

# Every token minted or sent by this process; finish() asserts none of them reaches error.log.
our %TOKENS;

my @LIVE;    # objects whose nginx may be running, stopped at END

###############################################################################################
# Paths

sub _newest {
    my @f = grep { -e } @_;
    return undef unless @f;
    my ($newest) = sort { (stat $b)[9] <=> (stat $a)[9] } @f;
    return $newest;
}

sub nginx_binary {
    return $ENV{AUTH_JWT_NGINX} if defined $ENV{AUTH_JWT_NGINX};
    my $p = "$ROOT/build/sbin/nginx";
    return $p if -x $p;
    return _newest(glob("$ROOT/target/debug/build/nginx-sys-*/out/objs/nginx")) // $p;
}

sub module_path {
    return $ENV{AUTH_JWT_MODULE} if defined $ENV{AUTH_JWT_MODULE};
    my $p = "$ROOT/build/modules/ngx_http_auth_jwt_rs_module.so";
    return $p if -e $p;
    my $d = "$ROOT/target/debug/libngx_http_auth_jwt_rs_module.so";
    return -e $d ? $d : $p;
}

sub mint_binary {
    return $ENV{AUTH_JWT_MINT} if defined $ENV{AUTH_JWT_MINT};
    my $p = "$ROOT/build/bin/jwt-mint";
    return $p if -x $p;
    my $d = "$ROOT/target/debug/jwt-mint";
    return -x $d ? $d : $p;
}

sub keys_src { "$ROOT/t/keys" }

# example_fixture(NAME): the t/keys fixture used for a key file an nginx-conf/ example
# references under jwt/ (exact name first, then by kind), for t/examples.t and t/deb.t.
sub example_fixture {
    my ($name) = @_;
    my $src = keys_src();
    my $base = File::Basename::basename($name);
    return "$src/$base" if -f "$src/$base";
    return "$src/jwks.json"      if $base =~ /jwks/i;
    return "$src/hs.secret"      if $base =~ /secret|hmac|\.key$|\.txt$/i;
    return "$src/hmac.jwk.json"  if $base =~ /oct/i;
    return "$src/rsa.crt"        if $base =~ /\.(crt|cer)$/i;
    return "$src/ec256.pub.pem"  if $base =~ /ec|es256|p256/i && $base =~ /\.pem$/i;
    return "$src/ed25519.pub.pem" if $base =~ /ed25519|eddsa/i;
    return "$src/rsa.jwk.json"   if $base =~ /\.json$/i;
    return "$src/rsa.pub.pem";
}

###############################################################################################
# Construction

sub new {
    my ($class, %opt) = @_;

    my $nginx  = nginx_binary();
    my $module = module_path();
    my $mint   = mint_binary();
    BAIL_OUT("nginx binary not found at $nginx (run scripts/build.sh or cargo build, "
        . "or set AUTH_JWT_NGINX)") unless -x $nginx;
    BAIL_OUT("module not found at $module (run scripts/build.sh or cargo build, "
        . "or set AUTH_JWT_MODULE)") unless -e $module;
    BAIL_OUT("jwt-mint not found at $mint (run scripts/build.sh or cargo build -p jwt-mint, "
        . "or set AUTH_JWT_MINT)") unless -x $mint;

    my $dir = tempdir('auth-jwt-rs-test-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{TEST_KEEP});
    $dir = abs_path($dir);
    diag("test prefix kept: $dir") if $ENV{TEST_KEEP};
    make_path("$dir/conf/keys", "$dir/logs");

    opendir(my $dh, keys_src()) or die "cannot open " . keys_src() . ": $!";
    for my $f (readdir $dh) {
        next if $f =~ /^\./ or !-f keys_src() . "/$f";
        copy(keys_src() . "/$f", "$dir/conf/keys/$f") or die "copy $f: $!";
    }
    closedir $dh;

    my $self = bless {
        prefix  => $dir,
        nginx   => abs_path($nginx),
        module  => abs_path($module),
        mint    => abs_path($mint),
        ports   => {},
        used    => {},
        running => 0,
        %opt,
    }, $class;
    push @LIVE, $self;
    Scalar::Util::weaken($LIVE[-1]);
    return $self;
}

sub prefix    { $_[0]{prefix} }
sub keys_dir  { "$_[0]{prefix}/conf/keys" }
sub conf_path { "$_[0]{prefix}/conf/nginx.conf" }
sub module    { $_[0]{module} }
sub nginx     { $_[0]{nginx} }

###############################################################################################
# Ports and configuration

my %TAKEN;

sub _free_port {
    for (1 .. 50) {
        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp', Listen => 1,
        ) or die "cannot bind 127.0.0.1:0: $!";
        my $p = $s->sockport;
        close $s;
        next if $TAKEN{$p}++;
        return $p;
    }
    die "no free port found";
}

# port(N): the loopback port behind %%PORT_N%%.
sub port {
    my ($self, $n) = @_;
    return $self->{ports}{$n} //= _free_port();
}

sub _expand {
    my ($self, $text) = @_;
    $text =~ s/%%BACKEND%%/$self->backend_server/ge;
    $text =~ s/%%PORT_(\d+)%%/$self->{used}{$1} = 1; $self->port($1)/ge;
    my $keys = $self->keys_dir;
    $text =~ s/%%KEYS%%/$keys/g;
    $text =~ s/%%PREFIX%%/$self->{prefix}/g;
    $text =~ s/%%MODULE%%/$self->{module}/g;
    return $text;
}

# %%BACKEND%%: an echo server on %%PORT_2%% that reports the identity headers it received.
sub backend_server {
    return <<'CONF';
server {
        listen 127.0.0.1:%%PORT_2%%;
        location / {
            return 200 "user=$http_x_user email=$http_x_email authz=$http_authorization injected=$http_x_injected uri=$request_uri\n";
        }
    }
CONF
}

sub _wrap {
    my ($self, $text, $log) = @_;
    return $text if $text =~ s/%%NO_WRAP%%\n?//g;
    my $user = $> == 0 ? "user root;\n" : '';
    return "load_module $self->{module};\n"
        . $user
        . "daemon on;\n"
        . "pid logs/nginx.pid;\n"
        . "error_log $log debug;\n"
        . "worker_processes 1;\n"
        . "events { worker_connections 256; }\n"
        . "\n"
        . $text;
}

sub _write_file {
    my ($path, $content) = @_;
    open my $fh, '>', $path or die "cannot write $path: $!";
    binmode $fh;
    print $fh $content;
    close $fh or die "cannot write $path: $!";
}

# write_conf(TEXT): the http { ... } part; see _wrap for the rest.
sub write_conf {
    my ($self, $text, $log) = @_;
    $self->{used} = {};
    my $conf = $self->_wrap($self->_expand($text), $log // 'logs/error.log');
    _write_file($self->conf_path, $conf);
    $self->{conf_text} = $conf;
    return $self;
}

# write_file(REL, CONTENT): a file under the prefix (e.g. conf/keys/custom.pem); returns abs path.
sub write_file {
    my ($self, $rel, $content) = @_;
    my $path = "$self->{prefix}/$rel";
    make_path(dirname($path));
    _write_file($path, $content);
    return $path;
}

sub read_file {
    my ($self, $rel) = @_;
    my $path = $rel =~ m{^/} ? $rel : "$self->{prefix}/$rel";
    return read_file_bytes($path);
}

sub read_file_bytes {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    binmode $fh;
    local $/;
    my $c = <$fh>;
    close $fh;
    return $c // '';
}

sub error_log { $_[0]->read_file('logs/error.log') }

# line_of(REGEX or STRING): 1-based line number of the first match in the written nginx.conf.
sub line_of {
    my ($self, $what) = @_;
    my @lines = split /\n/, $self->{conf_text} // '';
    for my $i (0 .. $#lines) {
        my $hit = ref $what ? $lines[$i] =~ $what : index($lines[$i], $what) >= 0;
        return $i + 1 if $hit;
    }
    die "line_of: no line matches $what in nginx.conf";
}

###############################################################################################
# Running nginx

sub _cmd_output {
    my (@cmd) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        exec @cmd or do { print "exec $cmd[0]: $!\n"; POSIX::_exit(127) };
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

sub _tail {
    my ($text, $n) = @_;
    my @l = split /\n/, $text;
    @l = @l[-$n .. -1] if @l > $n;
    return join("\n", @l);
}

sub run {
    my ($self) = @_;
    die "nginx already running" if $self->{running};
    my ($rc, $out) = _cmd_output($self->{nginx}, '-p', "$self->{prefix}/", '-c', 'conf/nginx.conf');
    if ($rc != 0) {
        my $log = _tail($self->error_log, 30);
        die "nginx failed to start (exit $rc):\n$out\n--- error.log (tail) ---\n$log\n";
    }
    $self->{running} = 1;
    $self->_wait_pid;
    $self->_wait_ports;
    return $self;
}

sub _master_pid {
    my ($self) = @_;
    my $pid = $self->read_file('logs/nginx.pid');
    return $pid =~ /^(\d+)/ ? $1 : undef;
}

sub _wait_pid {
    my ($self) = @_;
    for (1 .. 100) {
        return if $self->_master_pid;
        sleep 0.05;
    }
    die "nginx did not write logs/nginx.pid:\n" . _tail($self->error_log, 30) . "\n";
}

sub _wait_ports {
    my ($self) = @_;
    for my $n (sort keys %{ $self->{used} }) {
        my $port = $self->port($n);
        my $ok;
        for (1 .. 200) {
            my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Proto => 'tcp');
            if ($s) { close $s; $ok = 1; last }
            sleep 0.05;
        }
        die "nginx does not accept on 127.0.0.1:$port:\n" . _tail($self->error_log, 30) . "\n"
            unless $ok;
    }
}

sub _workers {
    my ($master) = @_;
    my @w;
    opendir(my $dh, '/proc') or return ();
    for my $p (grep { /^\d+$/ } readdir $dh) {
        my $stat = read_file_bytes("/proc/$p/stat") or next;
        # pid (comm) state ppid ...
        push @w, $p if $stat =~ /\)\s+\S+\s+(\d+)/ && $1 == $master;
    }
    closedir $dh;
    return @w;
}

# reload: call after write_conf; waits until the old workers are gone and new ones run.
sub reload {
    my ($self) = @_;
    my $master = $self->_master_pid or die "reload: nginx not running";
    my @old = _workers($master);
    kill 'HUP', $master or die "reload: kill HUP $master: $!";
    my $deadline = time + 10;
    while (time < $deadline) {
        my %now = map { $_ => 1 } _workers($master);
        my $old_alive = grep { $now{$_} } @old;
        my $new = grep { my $p = $_; !grep { $_ == $p } @old } keys %now;
        if (!$old_alive && $new) {
            $self->_wait_ports;
            return $self;
        }
        sleep 0.05;
    }
    die "reload did not complete:\n" . _tail($self->error_log, 30) . "\n";
}

sub stop {
    my ($self) = @_;
    return $self unless $self->{running};
    $self->{running} = 0;
    my $pid = $self->_master_pid or return $self;
    kill 'QUIT', $pid;
    my $deadline = time + 10;
    while (time < $deadline) {
        return $self unless kill 0, $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    return $self;
}

# conftest(TEXT): writes conf/nginx.conf (errors going to logs/conftest.log, not error.log) and
# runs `nginx -t`. Returns ($ok, $output).
sub conftest {
    my ($self, $text) = @_;
    $self->write_conf($text, 'logs/conftest.log');
    my ($rc, $out) = _cmd_output($self->{nginx}, '-p', "$self->{prefix}/", '-e', 'logs/conftest.log',
        '-c', 'conf/nginx.conf', '-t');
    return ($rc == 0, $out);
}

# raw_server(PORT, HANDLER): a misbehaving-on-purpose TCP server on 127.0.0.1:PORT for tests
# (an identity provider, say). It runs in its own process group and forks one process per
# connection, which calls HANDLER(socket) and exits; so a handler may sleep or hang without
# holding up the others. Everything it started is killed at END (or by stop_raw_servers).
my @RAW;

sub raw_server {
    my ($port, $handler) = @_;
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'tcp',
        Listen => 128, ReuseAddr => 1) or die "raw_server: cannot listen on $port: $!";
    my $pid = fork // die "fork: $!";
    if ($pid) {
        close $srv;
        push @RAW, $pid;
        return $pid;
    }
    POSIX::setpgid(0, 0);
    $SIG{CHLD} = 'IGNORE';
    $SIG{TERM} = sub { kill 'TERM', -$$; POSIX::_exit(0) };
    while (1) {
        my $c = $srv->accept or next;
        my $k = fork;
        if (defined $k && $k == 0) {
            close $srv;
            $SIG{TERM} = 'DEFAULT';
            binmode $c;
            $handler->($c);
            close $c;
            POSIX::_exit(0);
        }
        close $c;
    }
}

sub stop_raw_servers {
    for my $pid (@RAW) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
    @RAW = ();
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $!, $@);
    $self->stop if $self->{running};
}

END {
    local ($?, $!, $@);
    for my $t (grep { defined } @LIVE) {
        $t->stop if $t->{running};
    }
    stop_raw_servers();
}

###############################################################################################
# Automatic checks

# nginx core itself echoes request data in debug lines (request line, every request header, the
# proxied request, script/map variable values, "uri?args" in filter traces) and appends the
# request line to every non-debug line of a request ("..., client: X, server: Y, request: "GET
# /?access_token=..."" etc.). That is nginx's behaviour, not the module's, so those parts are
# left out of the "no token in error.log" check; everything else (every line the module writes,
# at any level) must be free of tokens and signatures.
my @CORE_ECHO = (
    qr/^http request line: /,
    qr/^http uri: /,
    qr/^http args: /,
    qr/^http exten: /,
    qr/^http header: /,
    qr/^http2 (?:header|table add|request line): /,
    qr/^http script /,
    qr/^http proxy header:/,
    qr/^http upstream request: /,
    qr/^http map: /,
    qr/^http special response/,
    qr/^http [a-z _]+[:,]?(?: -?\d+,?)? "\//,
    qr/^parse header: /,
    qr/^http (?:arg|cookie|variable)/,
    qr/^http (?:output|copy|postpone|writer|write|chunked|range|gzip|image|ssi|sub|addition) ?(?:output )?filter/,
    qr/^http (?:finalize|run|posted|terminate|close|wake parent|subrequest|request count|cleanup)/,
    qr/^http (?:set discard body|read discarded body|lingering close)/,
    qr/^http upstream /,
    qr/^http proxy status/,
    qr/^http log handler/,
    qr/^http auth request/,
    qr/^(?:rewrite|post rewrite|generic|access|post access|try files|content|find config|test location|using configuration)\b/,
);

# Splits error.log into entries (continuation lines joined) and returns the parts subject to the
# token check.
sub _log_entries_for_token_check {
    my ($text) = @_;
    my @entries;
    for my $line (split /\n/, $text) {
        if ($line =~ m{^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[} || !@entries) {
            push @entries, $line;
        } else {
            $entries[-1] .= "\n$line";
        }
    }
    my @checked;
    for my $e (@entries) {
        my ($level, $msg) = $e =~ m{^\S+ \S+ \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)\z}s
            or do { push @checked, $e; next };
        next if $level eq 'debug' && grep { $msg =~ $_ } @CORE_ECHO;
        $msg =~ s/, client: .*\z//s;    # nginx's request context
        push @checked, $msg;
    }
    return @checked;
}

sub finish {
    my ($self) = @_;
    $self->stop;
    my $log = $self->error_log;
    my @lines = split /\n/, $log;

    my @bad = grep { /\[(?:alert|crit|emerg)\]/ } @lines;
    ok(!@bad, 'error.log: no [alert], [crit] or [emerg]')
        or diag(join "\n", @bad[0 .. ($#bad > 9 ? 9 : $#bad)]);

    my @panic = grep { /panicked/ } @lines;
    ok(!@panic, 'error.log: no panics') or diag(join "\n", @panic[0 .. ($#panic > 9 ? 9 : $#panic)]);

    my @checked = _log_entries_for_token_check($log);
    my @leaks;
    for my $tok (sort keys %TOKENS) {
        my @parts = split /\./, $tok, -1;
        my @needles = ($tok);
        push @needles, $parts[2] if @parts == 3 && length($parts[2]) >= 16;
        for my $needle (@needles) {
            for my $e (@checked) {
                if (index($e, $needle) >= 0) {
                    push @leaks, "token " . substr($tok, 0, 20) . "... in: " . substr($e, 0, 300);
                    last;
                }
            }
        }
    }
    ok(!@leaks, 'error.log: no token or signature logged (' . scalar(keys %TOKENS) . ' tokens)')
        or diag(join "\n", @leaks[0 .. ($#leaks > 9 ? 9 : $#leaks)]);
    return $self;
}

###############################################################################################
# HTTP

sub track_token {
    my ($self_or_tok, $tok) = @_;
    $tok = $self_or_tok unless ref $self_or_tok;
    $TOKENS{$tok} = 1 if defined $tok && length $tok >= 16;
    return $tok;
}

sub _track_in {
    my ($s) = @_;
    return unless defined $s;
    while ($s =~ /([A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-+\/=]*\.[A-Za-z0-9_\-+\/=]*)/g) {
        $TOKENS{$1} = 1 if length $1 >= 40;
    }
}

# request(port => N (index of %%PORT_N%%), method, path, headers => [name => value, ...], body,
#         http => '1.0' | '1.1', timeout) -> { status, headers => { lc name => [values] }, body, raw }
sub request {
    my ($self, %a) = @_;
    my $port   = $self->port($a{port} // 1);
    my $method = $a{method} // 'GET';
    my $path   = $a{path} // '/';
    my $ver    = $a{http} // '1.0';
    my @h      = @{ $a{headers} // [] };

    my ($hdrs, %have) = ('');
    for (my $i = 0; $i < @h; $i += 2) {
        $have{ lc $h[$i] } = 1;
        $hdrs .= "$h[$i]: $h[$i + 1]\r\n";
        _track_in($h[$i + 1]);
    }
    _track_in($path);
    my $req = "$method $path HTTP/$ver\r\n" . ($have{host} ? '' : "Host: localhost\r\n") . $hdrs;
    $req .= "Connection: close\r\n" unless $have{connection};
    if (defined $a{body}) {
        $req .= "Content-Length: " . length($a{body}) . "\r\n" unless $have{'content-length'};
        $req .= "\r\n$a{body}";
    } else {
        $req .= "\r\n";
    }

    my $timeout = $a{timeout} // 10;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Proto => 'tcp', Timeout => $timeout)
        or die "connect 127.0.0.1:$port: $!";
    binmode $s;
    $s->autoflush(1);
    print $s $req;

    my $raw = '';
    my $sel = IO::Select->new($s);
    my $deadline = time + $timeout;
    while (1) {
        my $left = $deadline - time;
        die "request $method $path: timeout after ${timeout}s, got: $raw\n" if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread($s, my $buf, 65536);
        die "read: $!" unless defined $n;
        last if $n == 0;
        $raw .= $buf;
    }
    close $s;
    return parse_response($raw);
}

sub parse_response {
    my ($raw) = @_;
    my %res = (raw => $raw, headers => {}, status => undef, body => undef);
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    return \%res unless defined $head;
    my @lines = split /\r\n/, $head;
    my $sl = shift @lines // '';
    ($res{status}) = $sl =~ m{^HTTP/\d\.\d (\d{3})};
    for my $l (@lines) {
        my ($n, $v) = $l =~ /^([^:]+):[ \t]*(.*?)[ \t]*$/ or next;
        push @{ $res{headers}{ lc $n } }, $v;
    }
    $body //= '';
    if (grep { lc $_ eq 'chunked' } @{ $res{headers}{'transfer-encoding'} // [] }) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)[^\r]*\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $out .= substr($body, 0, $len, '');
            $body =~ s/^\r\n//;
        }
        $body = $out;
    }
    $res{body} = $body;
    return \%res;
}

# get(PORT_INDEX, PATH, header => value, ...)
sub get {
    my ($self, $port, $path, @headers) = @_;
    return $self->request(port => $port, path => $path, headers => \@headers);
}

# h($res, NAME): the header's values joined with "\n" (so a duplicate shows), or undef.
sub h {
    my ($res, $name) = @_;
    my $v = $res->{headers}{ lc $name } or return undef;
    return join "\n", @$v;
}

# challenge_params("Bearer realm=\"x\", error=\"y\"") -> ('Bearer', {realm => 'x', error => 'y'})
sub challenge_params {
    my ($v) = @_;
    return () unless defined $v;
    my ($scheme, $rest) = $v =~ /^(\S+)\s*(.*)$/s or return ();
    my %p;
    while ($rest =~ /\G\s*([A-Za-z_]+)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/gc) {
        $p{$1} = $2;
    }
    return ($scheme, \%p);
}

###############################################################################################
# Assertions on responses

# expect_status($res, CODE, NAME)
sub expect_status {
    my ($res, $code, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is($res->{status}, $code, "$name: status $code")
        or diag("response:\n" . substr($res->{raw} // '', 0, 2000));
}

# expect_ok($res, NAME, [BODY_REGEX]): 200 (the backend answered), no challenge.
sub expect_ok {
    my ($res, $name, $body_re) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    expect_status($res, 200, $name);
    is(h($res, 'www-authenticate'), undef, "$name: no WWW-Authenticate");
    like($res->{body}, $body_re, "$name: body") if $body_re;
}

# expect_missing($res, REALM or undef, NAME): 401 with exactly `Bearer realm="REALM"` / `Bearer`.
sub expect_missing {
    my ($res, $realm, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    expect_status($res, 401, $name);
    is(h($res, 'www-authenticate'), defined $realm ? qq{Bearer realm="$realm"} : 'Bearer',
        "$name: challenge without error");
}

# expect_invalid($res, REALM or undef, REASON or undef, NAME): 401 with
# `Bearer realm="REALM", error="invalid_token", error_description="..."` (non-empty description);
# when REASON is given, also the X-Reason response header (add_header X-Reason $jwt_reason always).
sub expect_invalid {
    my ($res, $realm, $reason, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    expect_status($res, 401, $name);
    my $re = defined $realm
        ? qr/^Bearer realm="\Q$realm\E", error="invalid_token", error_description="[^"\\]+"$/
        : qr/^Bearer error="invalid_token", error_description="[^"\\]+"$/;
    like(h($res, 'www-authenticate') // '', $re, "$name: invalid_token challenge");
    is(h($res, 'x-reason'), $reason, "$name: \$jwt_reason = $reason") if defined $reason;
}

###############################################################################################
# Tokens

sub b64url {
    my ($bytes) = @_;
    my $s = encode_base64($bytes, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+\z//;
    return $s;
}

# hs_token(ALG, SECRET_BYTES, HEADER_JSON, PAYLOAD_JSON): raw HS256/384/512 JWS in pure Perl.
sub hs_token {
    my ($alg, $secret, $header, $payload) = @_;
    my %f = (HS256 => \&hmac_sha256, HS384 => \&hmac_sha384, HS512 => \&hmac_sha512);
    my $fn = $f{$alg} or die "hs_token: unknown alg $alg";
    my $input = b64url($header) . '.' . b64url($payload);
    my $tok = $input . '.' . b64url($fn->($input, $secret));
    $TOKENS{$tok} = 1;
    return $tok;
}

sub hs256_token {
    shift if ref $_[0];
    return hs_token('HS256', @_);
}

# secret(NAME): the bytes of a t/keys secret file, one trailing newline stripped.
sub secret {
    my ($self, $name) = @_;
    my $s = read_file_bytes($self->keys_dir . "/$name");
    $s =~ s/\n\z//;
    return $s;
}

my $JSON = JSON::PP->new->canonical;

sub json { $JSON->encode($_[1]) }

# mint(alg =>, key => 'rsa.key' | secret => 'hs.secret', kid =>, typ => TYP (undef: no typ;
#      default "JWT"), header => RAWJSON, claims => RAWJSON | HASHREF, exp_in => SECS, iat_now => 1)
sub mint {
    my ($self, %a) = @_;
    my @cmd = ($self->{mint}, '--alg', $a{alg} // die 'mint: alg required');
    if (defined $a{key}) {
        push @cmd, '--key', $a{key} =~ m{/} ? $a{key} : $self->keys_dir . "/$a{key}";
    } elsif (defined $a{secret}) {
        push @cmd, '--secret-file', $a{secret} =~ m{/} ? $a{secret} : $self->keys_dir . "/$a{secret}";
    } else {
        die 'mint: key or secret required';
    }
    push @cmd, '--kid', $a{kid} if defined $a{kid};
    if (exists $a{typ}) {
        push @cmd, defined $a{typ} ? ('--typ', $a{typ}) : ('--no-typ');
    }
    push @cmd, '--header', $a{header} if defined $a{header};
    my $claims = $a{claims} // {};
    $claims = $JSON->encode($claims) if ref $claims;
    push @cmd, '--claims', $claims;
    push @cmd, '--exp-in', $a{exp_in} if defined $a{exp_in};
    push @cmd, '--iat-now' if $a{iat_now};
    my ($rc, $out) = _cmd_output(@cmd);
    die "jwt-mint failed (exit $rc): $out\n" if $rc != 0;
    chomp $out;
    $TOKENS{$out} = 1;
    return $out;
}

1;
