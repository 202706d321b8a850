#!/usr/bin/env bash
# Soak and leak check of the JWT gate (issue: "soak and leak check").
#
# Usage: scripts/soak.sh [REQUESTS]        (default 1000000 per round)
#
# Builds the module in release mode (cargo --release; the debug build in build/ that the tests
# use is left untouched), starts nginx with ONE worker and `empty_gif` behind the gate
# (`auth_jwt_rs_cache` at its default, 2048 entries), and drives it with wrk over keep-alive:
#
#   warm-up  (REQUESTS/5, at least 40k, at most 200k)  -> worker RSS "baseline"
#   round 1  (REQUESTS)                                -> worker RSS "after round 1"
#   round 2  (REQUESTS)                                -> worker RSS "after round 2"
#
# Every round cycles through the same 20,000-request plan:
#   60%  /valid/    valid tokens: 10,000 distinct cold ones (HS256, RS256, ES256; five times the
#                   cache's capacity, so the verified-token cache evicts all the time) and 20 hot
#                   ones (cache hits)                                              -> 200
#   10%  /badsig/   well-formed tokens signed by a key/secret that is not configured -> 401
#   10%  /expired/  correctly signed, expired                                        -> 401
#   10%  /garbage/  malformed: not JWT-shaped, bad base64, bad JSON, alg none, truncated,
#                   huge, ...                                                        -> 401
#   10%  /missing/  no Authorization, or another scheme (Basic)                      -> 401
# Each class has its own location, and the access log (`$uri $status`, one file per round) is
# counted per class: any unexpected status fails the run. wrk's own non-2xx count is checked
# against the plan's invalid share.
#
# Pass/fail: exit 1 when worker RSS grows by more than SOAK_MAX_GROWTH_KB (default 2048) between
# the end of round 1 and the end of round 2, on any unexpected status, socket error, or an
# [alert]/[crit]/[emerg]/panic line in error.log. Rejections are logged at `info` to /dev/null
# (the logging path is exercised without filling the disk); error.log gets `warn` and above.
#
# Environment: SOAK_MAX_GROWTH_KB (2048), SOAK_CONNECTIONS (32), SOAK_ROUND_TIMEOUT (seconds per
# round, default 900: the run is bounded even on a slow machine; a round that times out before
# REQUESTS fails), SOAK_CACHE=N|off sets auth_jwt_rs_cache (default: the directive is absent),
# SOAK_KEEP=1 keeps the temp directory, SOAK_NO_BUILD=1 skips the cargo build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

REQUESTS=${1:-1000000}
[[ $REQUESTS =~ ^[0-9]+$ ]] && [ "$REQUESTS" -ge 1000 ] || { echo "usage: $0 [REQUESTS>=1000]" >&2; exit 2; }
MAX_GROWTH_KB=${SOAK_MAX_GROWTH_KB:-2048}
CONNS=${SOAK_CONNECTIONS:-32}
ROUND_TIMEOUT=${SOAK_ROUND_TIMEOUT:-900}
WARMUP=$((REQUESTS / 5))
[ $WARMUP -lt 40000 ] && WARMUP=40000
[ $WARMUP -gt 200000 ] && WARMUP=200000

log() { printf '== %s\n' "$*"; }

# --- wrk (Debian's wrk is linked against LuaJIT, which the request plan needs) ----------------
if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq wrk || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk; }
fi

# --- release build (target/release; build/ is not touched) ------------------------------------
if [ -z "${SOAK_NO_BUILD:-}" ]; then
  log "building (release)"
  ./scripts/install-deps.sh
  cargo build --workspace --release
fi
OUT=$ROOT/target/release
NGINX=$(cat "$OUT/nginx-build-dir")/nginx
MODULE=$OUT/libngx_http_auth_jwt_rs_module.so
MINT=$OUT/jwt-mint
for f in "$NGINX" "$MODULE" "$MINT"; do [ -e "$f" ] || { echo "missing $f (build failed?)" >&2; exit 1; }; done

# --- prefix, keys, tokens ----------------------------------------------------------------------
DIR=$(mktemp -d /tmp/auth-jwt-rs-soak-XXXXXX)
MASTER=
cleanup() {
  if [ -n "$MASTER" ] && kill -0 "$MASTER" 2>/dev/null; then
    kill -QUIT "$MASTER" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$MASTER" 2>/dev/null || true
  fi
  if [ -n "${SOAK_KEEP:-}" ]; then echo "kept: $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
mkdir -p "$DIR/conf/keys" "$DIR/logs" "$DIR/tok"
cp t/keys/* "$DIR/conf/keys/"
K=$DIR/conf/keys

log "minting tokens in $DIR/tok"
# RS256/ES256 through jwt-mint (one process per token, so only a few hundred); the bulk of the
# distinct tokens are HS256, minted in Perl below.
mint_many() {   # ALG KEY PREFIX COUNT EXTRA-ARGS... > file
  local alg=$1 key=$2 prefix=$3 count=$4; shift 4
  seq 1 "$count" | xargs -P 2 -I{} "$MINT" --alg "$alg" --key "$key" \
    --claims "{\"sub\":\"$prefix-{}\"}" "$@"
}
mint_many RS256 "$K/rsa.key"   rs   400 --exp-in 86400 >"$DIR/tok/valid-rs"
mint_many ES256 "$K/ec256.key" es   100 --exp-in 86400 >"$DIR/tok/valid-es"
mint_many RS256 "$K/rsa2.key"  bad  100 --exp-in 86400 >"$DIR/tok/badsig-rs"
mint_many RS256 "$K/rsa.key"   old  100 --exp-in -60   >"$DIR/tok/expired-rs"

perl - "$DIR" "$K" <<'PERL'
use strict; use warnings;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64);
my ($dir, $k) = @ARGV;
srand(20240601);                       # the same plan on every run
sub b64u { my $s = encode_base64($_[0], ''); $s =~ tr{+/}{-_}; $s =~ s/=+\z//; $s }
sub secret { open my $f, '<', $_[0] or die "$_[0]: $!"; local $/; my $s = <$f>; $s =~ s/\n\z//; $s }
sub lines { open my $f, '<', $_[0] or die "$_[0]: $!"; my @l = grep { length } map { chomp; $_ } <$f>; @l }
my $hs  = secret("$k/hs.secret");
my $hs2 = secret("$k/hs2.secret");
my $now = time;
sub hs { my ($secret, $claims) = @_;
    my $in = b64u('{"alg":"HS256","typ":"JWT"}') . '.' . b64u($claims);
    return $in . '.' . b64u(hmac_sha256($in, $secret)) }

my @valid = (lines("$dir/tok/valid-rs"), lines("$dir/tok/valid-es"));
push @valid, hs($hs, qq({"sub":"hs-$_","exp":@{[$now + 86400]},"iat":$now})) for 1 .. 10000 - @valid;
my @hot   = map { hs($hs, qq({"sub":"hot-$_","exp":@{[$now + 86400]}})) } 1 .. 20;
my @bad   = (lines("$dir/tok/badsig-rs"),
             map { hs($hs2, qq({"sub":"bad-$_","exp":@{[$now + 86400]}})) } 1 .. 900);
my @exp   = (lines("$dir/tok/expired-rs"),
             map { hs($hs, qq({"sub":"exp-$_","exp":@{[$now - 10 - $_]}})) } 1 .. 900);
my @garbage;
for my $i (1 .. 1000) {
    my $v = $valid[$i];
    my $m = $i % 10;
    push @garbage,
          $m == 0 ? "not-a-jwt-$i"
        : $m == 1 ? b64u("x$i") . '.' . b64u('y') . '.' . b64u('z')              # header not JSON
        : $m == 2 ? b64u(qq({"alg":"none","typ":"JWT"})) . '.' . b64u(qq({"sub":"n$i"})) . '.'
        : $m == 3 ? substr($v, 0, length($v) - 7)                                 # truncated signature
        : $m == 4 ? join('.', (split /\./, $v)[0, 1])                             # two segments
        : $m == 5 ? "$v.extra"                                                    # four segments
        : $m == 6 ? "!!!.\$\$\$.%%%$i"                                             # not base64url
        : $m == 7 ? b64u('{"alg":"RS256"') . ".e30.$i"                            # truncated JSON
        : $m == 8 ? join('.', map { 'A' x 2000 } 1 .. 3) . $i                     # ~6 KB
        :           b64u(qq({"alg":"HS256","crit":["x"]})) . '.' . b64u('{}') . '.' . b64u("sig$i");
}
# The plan: 20,000 lines "PATH<TAB>Authorization value or -", shuffled.
my @plan;
push @plan, map { "/valid/\tBearer $_" } @valid;                                   # 10,000
push @plan, map { "/valid/\tBearer $hot[$_ % 20]" } 1 .. 2000;                      #  2,000
push @plan, map { "/badsig/\tBearer $bad[$_ % @bad]" } 1 .. 2000;
push @plan, map { "/expired/\tBearer $exp[$_ % @exp]" } 1 .. 2000;
push @plan, map { "/garbage/\tBearer $garbage[$_ % @garbage]" } 1 .. 2000;
push @plan, map { $_ % 4 ? "/missing/\t-" : "/missing/\tBasic dXNlcjpwYXNz" } 1 .. 2000;
for (my $i = @plan - 1; $i > 0; $i--) { my $j = int rand($i + 1); @plan[$i, $j] = @plan[$j, $i] }
open my $out, '>', "$dir/plan.tsv" or die; print $out "$_\n" for @plan; close $out;
PERL
PLAN_LINES=$(wc -l <"$DIR/plan.tsv")
PLAN_INVALID=$(grep -vc '^/valid/' "$DIR/plan.tsv")

cat >"$DIR/soak.lua" <<'LUA'
-- wrk script: cycles through the plan; stops after QUOTA responses (then SIGINTs wrk itself,
-- so that wrk reports the real duration instead of sleeping until -d).
local ffi = require("ffi")
ffi.cdef[[ int kill(int pid, int sig); int getpid(void); ]]
local reqs, n, i, quota, seen = {}, 0, 0, 0, 0
function init(args)
  quota = tonumber(args[2])
  for line in io.lines(args[1]) do
    local path, auth = line:match("^(%S+)\t(.*)$")
    local h = {}
    if auth ~= "-" then h["Authorization"] = auth end
    reqs[#reqs + 1] = wrk.format("GET", path, h)
  end
  n = #reqs
end
function request()
  i = i % n + 1
  return reqs[i]
end
function response(status, headers, body)
  seen = seen + 1
  if seen == quota then
    wrk.thread:stop()
    ffi.C.kill(ffi.C.getpid(), 2)
  end
end
LUA

PORT=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr=>"127.0.0.1",LocalPort=>0,Listen=>1)->sockport')
USER_LINE=; [ "$(id -u)" -eq 0 ] && USER_LINE="user root;"
CACHE_LINE=; [ -n "${SOAK_CACHE:-}" ] && CACHE_LINE="auth_jwt_rs_cache $SOAK_CACHE;"
cat >"$DIR/conf/nginx.conf" <<EOF
load_module $MODULE;
$USER_LINE
daemon on;
pid logs/nginx.pid;
worker_processes 1;
# warn and above to the file that is checked; info (one line per rejection) formatted but discarded
error_log logs/error.log warn;
error_log /dev/null info;
events { worker_connections 1024; }
http {
    access_log off;
    log_format soak '\$uri \$status';
    server {
        listen 127.0.0.1:$PORT backlog=1024;
        auth_jwt_rs on;
        auth_jwt_rs_realm "soak";
        auth_jwt_rs_key_file $K/rsa.pub.pem;
        auth_jwt_rs_key_file $K/ec256.pub.pem;
        auth_jwt_rs_secret_file $K/hs.secret;
        $CACHE_LINE
        location ~ ^/(valid|badsig|expired|garbage|missing)/ {
            access_log logs/soak.log soak buffer=256k flush=1s;
            empty_gif;
        }
        location = /metrics {
            auth_jwt_rs off;
            auth_jwt_rs_status;
        }
    }
}
EOF

"$NGINX" -p "$DIR/" -c conf/nginx.conf -t -q
"$NGINX" -p "$DIR/" -c conf/nginx.conf
for _ in $(seq 100); do [ -s "$DIR/logs/nginx.pid" ] && break; sleep 0.05; done
MASTER=$(cat "$DIR/logs/nginx.pid")

worker_pid() {
  local p
  for p in $(pgrep -P "$MASTER"); do
    grep -q 'worker process' "/proc/$p/cmdline" 2>/dev/null && { echo "$p"; return; }
  done
}
WORKER=
for _ in $(seq 100); do WORKER=$(worker_pid); [ -n "$WORKER" ] && break; sleep 0.05; done
[ -n "$WORKER" ] || { echo "no worker process" >&2; exit 1; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$WORKER/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$WORKER/status"; }

# Rotates the access log (USR1 makes nginx flush its buffer and reopen) and prints the counts.
rotate_log() {   # NAME
  sleep 1.2   # flush=1s: the buffer is on disk
  mv "$DIR/logs/soak.log" "$DIR/logs/$1.log" 2>/dev/null || : >"$DIR/logs/$1.log"
  kill -USR1 "$MASTER"
  for _ in $(seq 100); do [ -e "$DIR/logs/soak.log" ] && break; sleep 0.05; done
  sleep 0.2
}

FAIL=0
declare -A R_REQ R_DUR R_RPS R_NON2XX R_ERR
run_round() {   # NAME COUNT
  local name=$1 count=$2 out
  rotate_log "before-$name"
  out=$(wrk -t1 -c"$CONNS" -d"${ROUND_TIMEOUT}s" --timeout 10s --latency -s "$DIR/soak.lua" \
    "http://127.0.0.1:$PORT" -- "$DIR/plan.tsv" "$count" 2>&1) || true
  echo "$out" >"$DIR/logs/wrk-$name.txt"
  rotate_log "$name"
  local req dur non2xx err
  req=$(echo "$out" | awk '/requests in/ {print $1}')
  dur=$(echo "$out" | awk '/requests in/ {sub(/,$/, "", $4); print $4}')
  non2xx=$(echo "$out" | awk '/Non-2xx or 3xx responses:/ {print $NF}')
  err=$(echo "$out" | awk '/Socket errors:/ {print}')
  R_REQ[$name]=${req:-0}; R_DUR[$name]=${dur:-?}; R_NON2XX[$name]=${non2xx:-0}; R_ERR[$name]=${err:-none}
  R_RPS[$name]=$(echo "$out" | awk '/Requests\/sec:/ {print $2}')
  if [ "${R_REQ[$name]}" -lt "$count" ]; then
    echo "FAIL: $name: wrk completed ${R_REQ[$name]} of $count requests (timeout ${ROUND_TIMEOUT}s?)"
    echo "$out"; FAIL=1
  fi
  if [ -n "$err" ]; then echo "FAIL: $name: $err"; FAIL=1; fi
  # Per class (access log of this round): every /valid/ answer must be 200, every other 401.
  local bad
  bad=$(awk '{ split($1, p, "/"); c = p[2]; n[c " " $2]++ }
             END { for (k in n) { split(k, a, " ");
                     if ((a[1] == "valid" && a[2] != 200) || (a[1] != "valid" && a[2] != 401))
                       printf "%s %s x%d; ", a[1], a[2], n[k] } }' "$DIR/logs/$name.log")
  awk '{ split($1, p, "/"); n[p[2] " " $2]++ } END { for (k in n) printf "   %-10s %s\n", k, n[k] }' \
    "$DIR/logs/$name.log" | sort >"$DIR/logs/classes-$name.txt"
  if [ -n "$bad" ]; then echo "FAIL: $name: unexpected statuses: $bad"; FAIL=1; fi
  # wrk's non-2xx must be the plan's invalid share (to within the requests in flight at the stop)
  local expect=$(( ${R_REQ[$name]} / PLAN_LINES * PLAN_INVALID ))
  local rest=$(( ${R_REQ[$name]} % PLAN_LINES ))
  local lo=$(( expect + $(head -n "$rest" "$DIR/plan.tsv" | grep -vc '^/valid/' || true) - CONNS ))
  local hi=$(( lo + 2 * CONNS ))
  if [ "${R_NON2XX[$name]}" -lt "$lo" ] || [ "${R_NON2XX[$name]}" -gt "$hi" ]; then
    echo "FAIL: $name: wrk saw ${R_NON2XX[$name]} non-2xx, the plan says $((lo + CONNS)) (+-$CONNS)"; FAIL=1
  fi
}

RSS_START=$(rss_kb)
log "warm-up: $WARMUP requests (worker $WORKER, RSS ${RSS_START} kB)"
run_round warmup "$WARMUP"
RSS_BASE=$(rss_kb)
log "round 1: $REQUESTS requests (RSS ${RSS_BASE} kB)"
run_round round1 "$REQUESTS"
RSS_R1=$(rss_kb)
log "round 2: $REQUESTS requests (RSS ${RSS_R1} kB)"
run_round round2 "$REQUESTS"
RSS_R2=$(rss_kb)
HWM=$(hwm_kb)
METRICS=$(curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^auth_jwt_rs_(cache|decisions)' || true)

if [ "$(worker_pid)" != "$WORKER" ]; then echo "FAIL: the worker was replaced (crash?)"; FAIL=1; fi
ALERTS=$(grep -E '\[(alert|crit|emerg)\]|panicked' "$DIR/logs/error.log" || true)
if [ -n "$ALERTS" ]; then echo "FAIL: error.log:"; echo "$ALERTS" | head -20; FAIL=1; fi

GROWTH=$((RSS_R2 - RSS_R1))
if [ "$GROWTH" -gt "$MAX_GROWTH_KB" ]; then
  echo "FAIL: worker RSS grew by $GROWTH kB between round 1 and round 2 (limit $MAX_GROWTH_KB kB)"
  FAIL=1
fi

cat <<EOF

==================== auth_jwt_rs soak summary ====================
nginx:        $NGINX (release module, 1 worker, auth_jwt_rs_cache ${SOAK_CACHE:-default})
plan:         $PLAN_LINES requests per cycle, $PLAN_INVALID invalid ($((100 * PLAN_INVALID / PLAN_LINES))%),
              10,000 distinct cold valid tokens + 20 hot ones; wrk -t1 -c$CONNS, keep-alive
round         requests    duration   req/s       non-2xx    socket errors
warm-up       ${R_REQ[warmup]}$(printf '%*s' $((12 - ${#R_REQ[warmup]})) '')${R_DUR[warmup]}$(printf '%*s' $((11 - ${#R_DUR[warmup]})) '')${R_RPS[warmup]}$(printf '%*s' $((12 - ${#R_RPS[warmup]})) '')${R_NON2XX[warmup]}$(printf '%*s' $((11 - ${#R_NON2XX[warmup]})) '')${R_ERR[warmup]}
round 1       ${R_REQ[round1]}$(printf '%*s' $((12 - ${#R_REQ[round1]})) '')${R_DUR[round1]}$(printf '%*s' $((11 - ${#R_DUR[round1]})) '')${R_RPS[round1]}$(printf '%*s' $((12 - ${#R_RPS[round1]})) '')${R_NON2XX[round1]}$(printf '%*s' $((11 - ${#R_NON2XX[round1]})) '')${R_ERR[round1]}
round 2       ${R_REQ[round2]}$(printf '%*s' $((12 - ${#R_REQ[round2]})) '')${R_DUR[round2]}$(printf '%*s' $((11 - ${#R_DUR[round2]})) '')${R_RPS[round2]}$(printf '%*s' $((12 - ${#R_RPS[round2]})) '')${R_NON2XX[round2]}$(printf '%*s' $((11 - ${#R_NON2XX[round2]})) '')${R_ERR[round2]}
statuses per class, round 1 (access log):
$(cat "$DIR/logs/classes-round1.txt")
statuses per class, round 2 (access log):
$(cat "$DIR/logs/classes-round2.txt")
worker RSS (VmRSS, pid $WORKER):
   at start            ${RSS_START} kB
   after warm-up       ${RSS_BASE} kB
   after round 1       ${RSS_R1} kB   (+$((RSS_R1 - RSS_BASE)) kB over warm-up)
   after round 2       ${RSS_R2} kB   (+$GROWTH kB over round 1; limit $MAX_GROWTH_KB kB)
   peak (VmHWM)        ${HWM} kB
module counters (auth_jwt_rs_status):
$(echo "$METRICS" | sed 's/^/   /')
result:       $([ $FAIL -eq 0 ] && echo PASS || echo FAIL)
==================================================================
EOF
exit $FAIL
