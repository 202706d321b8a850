#!/usr/bin/env bash
# auth_jwt_rs benchmark: one command, one run, one table.
#
#   bench/run.sh                 # full run (~6-8 min with the default 10 s per scenario)
#   DURATION=5 bench/run.sh      # shorter runs
#   ONLY='noauth|rs256' bench/run.sh   # only scenarios whose id matches this regex (+ noauth)
#   MICRO=1 bench/run.sh         # also run the criterion micro-benchmark (bench/micro/run.sh)
#   ROUNDS=3 DURATION=5 bench/run.sh   # noisy machine: 3 interleaved rounds, medians reported
#
# Steps: installs wrk if missing, builds the module (release) with scripts/build.sh --release,
# builds the external validator (bench/validator), mints tokens, starts nginx 1.28 in a
# temporary prefix with ONE worker pinned to CPU0 (worker_cpu_affinity 01) and the validator
# pinned to the same CPU0, then runs `taskset -c 1 wrk -t1 -c32 -d${DURATION}s --latency`
# against 127.0.0.1 for every scenario, and prints a Markdown table (req/s, ratio to the no-auth
# baseline of the same run, p99, non-2xx count, worker RSS), also saved to
# bench/results/<date>.md. At the end build/ is restored to the debug build (scripts/build.sh),
# which the tests use; RESTORE_DEBUG=0 skips that.
#
# Environment: DURATION (10), WARMUP (2), ROUNDS (1), CONNECTIONS (32), PORT (18480, and PORT+1 for the
# validator), CACHE_FILL (default: the module's DEFAULT_CAPACITY), BUILD=0 (no builds: use the
# release artefacts already in target/release and bench/target; build/ is not touched), RESTORE_DEBUG (1), ONLY (regex), MICRO (0), KEEP=1 (keep the temp
# prefix for inspection).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18480}
VPORT=$((PORT + 1))
BUILD=${BUILD:-1}
RESTORE_DEBUG=${RESTORE_DEBUG:-1}
ONLY=${ONLY:-}
MICRO=${MICRO:-0}
KEEP=${KEEP:-0}
ROUNDS=${ROUNDS:-1}
keys="$root/t/keys"
ISS="https://issuer.example.com/realms/bench"
AUD="bench-api"

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- tools ----------------------------------------------------------------------------------
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v curl >/dev/null || need_apt+=(curl)
command -v taskset >/dev/null || need_apt+=(util-linux)
command -v jq >/dev/null || need_apt+=(jq)
if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing ${need_apt[*]}"
    if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi
    "${SUDO[@]}" apt-get install -y "${need_apt[@]}" >&2 ||
        { "${SUDO[@]}" apt-get update >&2 && "${SUDO[@]}" apt-get install -y "${need_apt[@]}" >&2; }
fi

ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then
    PIN_SERVER=(taskset -c 0); PIN_CLIENT=(taskset -c 1); AFFINITY="worker_cpu_affinity 01;"
else
    log "WARNING: only $ncpu CPU: no pinning, client and server share the core"
    PIN_SERVER=(); PIN_CLIENT=(); AFFINITY=""
fi

# --- state and cleanup ----------------------------------------------------------------------
prefix=$(mktemp -d "${TMPDIR:-/tmp}/auth-jwt-bench.XXXXXX")
validator_pid=""
built_release=0
nginx_stop() {
    if [ -s "$prefix/logs/nginx.pid" ]; then
        "$prefix/sbin/nginx" -p "$prefix" -c conf/nginx.conf -s stop 2>/dev/null || true
        for _ in $(seq 50); do [ -s "$prefix/logs/nginx.pid" ] || break; sleep 0.1; done
        if [ -s "$prefix/logs/nginx.pid" ]; then
            kill -9 "$(cat "$prefix/logs/nginx.pid")" 2>/dev/null || true
            rm -f "$prefix/logs/nginx.pid"
        fi
    fi
}
cleanup() {
    local rc=$?
    nginx_stop
    if [ -n "$validator_pid" ]; then kill "$validator_pid" 2>/dev/null || true; wait "$validator_pid" 2>/dev/null || true; fi
    if [ "$built_release" = 1 ] && [ "$RESTORE_DEBUG" = 1 ]; then
        log "restoring build/ to the debug build (scripts/build.sh)"
        (cd "$root" && ./scripts/build.sh >&2) || log "WARNING: scripts/build.sh failed; build/ may hold the release build"
    fi
    if [ "$KEEP" = 1 ]; then log "kept $prefix"; else rm -rf "$prefix"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ----------------------------------------------------------------------------------
export CARGO_TARGET_DIR_BENCH="$root/bench/target"
if [ "$BUILD" = 1 ]; then
    log "building the module (release): scripts/build.sh --release"
    built_release=1
    ./scripts/build.sh --release >&2
    log "building the validator (bench/validator, release)"
    (cd bench/validator && CARGO_TARGET_DIR="$CARGO_TARGET_DIR_BENCH" cargo build --release >&2)
fi
# The release artefacts (what scripts/build.sh --release put into build/), taken straight from
# target/release and copied into the prefix: build/ is switched back to debug at the end.
rel=target/release
[ -s "$rel/nginx-build-dir" ] && [ -f "$rel/libngx_http_auth_jwt_rs_module.so" ] && [ -x "$rel/jwt-mint" ] ||
    die "no release build in $rel (run without BUILD=0)"
[ -x bench/target/release/jwt-validator ] || die "bench/target/release/jwt-validator missing (run without BUILD=0)"
mkdir -p "$prefix"/{sbin,modules,conf,logs,tokens,bin}
cp -L "$(cat "$rel/nginx-build-dir")/nginx" "$prefix/sbin/nginx"
cp -L "$rel/libngx_http_auth_jwt_rs_module.so" "$prefix/modules/ngx_http_auth_jwt_rs_module.so"
cp -L "$rel/jwt-mint" bench/target/release/jwt-validator bench/target/release/jwt-many "$prefix/bin/"
NGINX="$prefix/sbin/nginx"
if [ "$built_release" = 1 ]; then profile=release; else profile="release (BUILD=0: as found in $rel)"; fi

# --- tokens ---------------------------------------------------------------------------------
log "minting tokens"
claims=$(jq -cn --arg iss "$ISS" --arg aud "$AUD" '{iss:$iss, aud:$aud,
    sub:"8b0c3d0e-5f6a-4b1c-9d2e-3f4a5b6c7d8e", jti:"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    email:"alice@example.com", name:"Alice Example",
    scope:"openid profile email api:read api:write", roles:["user","editor"]}')
mint() { # name alg keyopt keyfile exp_in
    "$prefix/bin/jwt-mint" --alg "$2" "$3" "$4" --claims "$claims" --exp-in "$5" --iat-now \
        > "$prefix/tokens/$1" || die "jwt-mint $1"
}
mint hs256 HS256 --secret-file "$keys/hs.secret" 86400
mint rs256 RS256 --key "$keys/rsa.key" 86400
mint ps256 PS256 --key "$keys/rsa.key" 86400
mint es256 ES256 --key "$keys/ec256.key" 86400
mint eddsa EdDSA --key "$keys/ed25519.key" 86400
mint badsig RS256 --key "$keys/rsa2.key" 86400        # signed by an unrelated key
mint expired RS256 --key "$keys/rsa.key" -60          # exp a minute ago
printf 'abc.def.ghi' > "$prefix/tokens/malformed"     # JWT-shaped, header is not JSON
tok() { cat "$prefix/tokens/$1"; }

CACHE_N=${CACHE_FILL:-$(sed -n 's/.*DEFAULT_CAPACITY: *usize *= *\([0-9_]*\).*/\1/p' core/src/cache.rs 2>/dev/null | tr -d _ | head -1)}
CACHE_N=${CACHE_N:-2048}
log "minting $CACHE_N distinct RS256 tokens for the cache fill"
"$prefix/bin/jwt-many" --alg RS256 --key "$keys/rsa.key" --count "$CACHE_N" \
    --issuer "$ISS" --audience "$AUD" > "$prefix/tokens/fill" || die "jwt-many"

# --- nginx configuration --------------------------------------------------------------------
cat > "$prefix/conf/probe.conf" <<EOF
load_module $prefix/modules/ngx_http_auth_jwt_rs_module.so;
error_log stderr;
events {}
http { server { listen 127.0.0.1:$PORT; location / { auth_jwt_rs on; auth_jwt_rs_secret_file $keys/hs.secret; auth_jwt_rs_cache off; empty_gif; } } }
EOF
if "$NGINX" -p "$prefix" -c conf/probe.conf -t >/dev/null 2>&1; then
    HAVE_CACHE=1; CACHE_OFF="auth_jwt_rs_cache off;"
    log "auth_jwt_rs_cache supported: measuring with and without the cache (default size $CACHE_N)"
else
    HAVE_CACHE=0; CACHE_OFF=""
    log "auth_jwt_rs_cache NOT supported by this build: gate rows are without a cache"
fi

key_of() { # alg -> key directive
    case $1 in
        hs256) echo "auth_jwt_rs_secret_file $keys/hs.secret;" ;;
        rs256|ps256) echo "auth_jwt_rs_key_file $keys/rsa.pub.pem;" ;;
        es256) echo "auth_jwt_rs_key_file $keys/ec256.pub.pem;" ;;
        eddsa) echo "auth_jwt_rs_key_file $keys/ed25519.pub.pem;" ;;
    esac
}
upper() { case $1 in eddsa) echo EdDSA ;; *) echo "$1" | tr a-z A-Z ;; esac; }

user_line=""
[ "$(id -u)" = 0 ] && user_line="user root root;"
{
cat <<EOF
# generated by bench/run.sh
$user_line
worker_processes 1;
$AFFINITY
daemon on;
master_process on;
pid logs/nginx.pid;
error_log logs/error.log warn;
load_module $prefix/modules/ngx_http_auth_jwt_rs_module.so;
events { worker_connections 4096; multi_accept on; }
http {
    access_log off;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    upstream validator {
        server 127.0.0.1:$VPORT;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        # realistic gate settings, inherited by every location below
        auth_jwt_rs_realm "bench";
        auth_jwt_rs_issuer "$ISS";
        auth_jwt_rs_audience "$AUD";

        location = /noauth { empty_gif; }
EOF
for a in hs256 rs256 ps256 es256 eddsa; do
    cat <<EOF
        location = /gate/$a { auth_jwt_rs on; $(key_of $a) empty_gif; }
        location = /gate-nocache/$a { auth_jwt_rs on; $(key_of $a) $CACHE_OFF empty_gif; }
EOF
done
cat <<EOF
        location = /cookie/rs256 { auth_jwt_rs on; auth_jwt_rs_token cookie=session; $(key_of rs256) empty_gif; }
        location = /cookie-nocache/rs256 { auth_jwt_rs on; auth_jwt_rs_token cookie=session; $(key_of rs256) $CACHE_OFF empty_gif; }
EOF
for a in hs256 rs256 es256; do
    cat <<EOF
        # auth_request -> this module's verify endpoint (in-process subrequest)
        location = /areq-verify/$a { auth_request /_verify/$a; empty_gif; }
        location = /_verify/$a { internal; $(key_of $a) auth_jwt_rs_verify; }
        location = /areq-verify-nocache/$a { auth_request /_verify-nocache/$a; empty_gif; }
        location = /_verify-nocache/$a { internal; $(key_of $a) $CACHE_OFF auth_jwt_rs_verify; }
        # auth_request -> external validator service (forward auth as usually deployed)
        location = /areq-ext/$a { auth_request /_ext; empty_gif; }
EOF
done
cat <<EOF
        location = /_ext {
            internal;
            proxy_pass http://validator/verify;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI \$request_uri;
        }
    }
}
EOF
} > "$prefix/conf/nginx.conf"

"$NGINX" -p "$prefix" -c conf/nginx.conf -t 2> "$prefix/logs/t.log" || { cat "$prefix/logs/t.log" >&2; die "nginx -t failed"; }

# --- processes ------------------------------------------------------------------------------
nginx_start() {
    "${PIN_SERVER[@]}" "$NGINX" -p "$prefix" -c conf/nginx.conf || die "nginx did not start"
    for _ in $(seq 50); do [ -s "$prefix/logs/nginx.pid" ] && worker_pid >/dev/null && return 0; sleep 0.1; done
    die "nginx worker did not come up"
}
worker_pid() {
    local m; m=$(cat "$prefix/logs/nginx.pid" 2>/dev/null) || return 1
    pgrep -P "$m" | head -1 | grep .
}
clk_tck=$(getconf CLK_TCK)
cpu_ticks() { # utime+stime of the nginx worker plus the validator, in clock ticks
    local w t=0 p; w=$(worker_pid) || { echo 0; return; }
    for p in "$w" $validator_pid; do
        t=$((t + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
rss_mb() { # worker VmRSS in MB
    local w; w=$(worker_pid) || { echo "?"; return; }
    awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$w/status"
}
start_validator() {
    "${PIN_SERVER[@]}" "$prefix/bin/jwt-validator" --listen "127.0.0.1:$VPORT" \
        --issuer "$ISS" --audience "$AUD" \
        --key "HS256=$keys/hs.secret" --key "RS256=$keys/rsa.pub.pem" --key "ES256=$keys/ec256.pub.pem" \
        2> "$prefix/logs/validator.log" &
    validator_pid=$!
    for _ in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$VPORT/" && return 0
        kill -0 "$validator_pid" 2>/dev/null || { cat "$prefix/logs/validator.log" >&2; die "validator exited"; }
        sleep 0.1
    done
    die "validator did not come up"
}

log "starting nginx (1 worker on CPU0) and the validator (CPU0) on 127.0.0.1:$PORT/$VPORT"
nginx_start
start_validator

# --- measuring ------------------------------------------------------------------------------
# wrk output -> "rps p99ms non2xx errors requests"
parse_wrk() {
    awk '
        /Requests\/sec:/ { rps = $2 }
        /requests in/ { reqs = $1 }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Socket errors:/ { gsub(",", ""); err = $4 + $6 + $8 + $10 }
        $1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
            p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : (u == "m") ? v * 60000 : v }
        END { printf "%s %s %s %s %s\n", rps + 0, p99 + 0, non2xx + 0, err + 0, reqs + 0 }'
}

results="$prefix/results.tsv"
: > "$results"
round=1
# run_scenario ID "description" PATH EXPECTED_STATUS [header args for curl/wrk]
run_scenario() {
    local id=$1 desc=$2 path=$3 expect=$4; shift 4
    if [ -n "$ONLY" ] && [ "$id" != noauth ] && ! [[ $id =~ $ONLY ]]; then return 0; fi
    local url="http://127.0.0.1:$PORT$path" hdr=() h code
    for h in "$@"; do hdr+=(-H "$h"); done
    code=$(curl -s -o /dev/null -w '%{http_code}' "${hdr[@]}" "$url" || echo 000)
    local note=""
    [ "$code" = "$expect" ] || note="UNEXPECTED status $code (expected $expect)"
    if [ "$WARMUP" != 0 ]; then
        "${PIN_CLIENT[@]}" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "${hdr[@]}" "$url" >/dev/null 2>&1 || true
    fi
    local out t0 t1
    t0=$(cpu_ticks)
    out=$("${PIN_CLIENT[@]}" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${hdr[@]}" "$url" 2>&1) ||
        { log "wrk failed for $id: $out"; note="wrk failed"; }
    t1=$(cpu_ticks)
    echo "$out" > "$prefix/logs/wrk-$id-r$round.txt"
    local rps p99 non2xx errs reqs rss cpu_us
    read -r rps p99 non2xx errs reqs <<< "$(echo "$out" | parse_wrk)"
    rss=$(rss_mb)
    # server CPU time per request (worker + validator), insensitive to other load on CPU0
    cpu_us=$(awk -v d=$((t1 - t0)) -v hz="$clk_tck" -v n="$reqs" 'BEGIN { printf "%.1f", n ? d / hz * 1e6 / n : 0 }')
    [ "$errs" != 0 ] && note="${note:+$note; }$errs socket errors"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$id" "$desc" "$code" "$rps" "$p99" "$non2xx" "$reqs" "$rss" "$note" "$cpu_us" >> "$results"
    log "$(printf 'r%s %-26s %s %9.0f req/s  p99 %6.2f ms  cpu %5.1f us/req  non-2xx %s  RSS %s MB %s' "$round" "$id" "$code" "$rps" "$p99" "$cpu_us" "$non2xx" "$rss" "$note")"
}

cached_scenario() { [ "$HAVE_CACHE" = 1 ] || return 0; run_scenario "$@"; }
bearer() { echo "Authorization: Bearer $(tok "$1")"; }
cache_label() { if [ "$HAVE_CACHE" = 1 ]; then echo "$1"; else echo "no cache support"; fi; }

rss_start=$(rss_mb)
all_scenarios() {
    run_scenario noauth "no auth (empty_gif), baseline" /noauth 200
    for a in hs256 rs256 ps256 es256 eddsa; do
        A=$(upper $a)
        cached_scenario "gate-$a" "gate $A, cache on (default)" "/gate/$a" 200 "$(bearer $a)"
        run_scenario "gate-nocache-$a" "gate $A, $(cache_label "cache off")" "/gate-nocache/$a" 200 "$(bearer $a)"
    done
    cached_scenario cookie-rs256 "gate RS256, token from cookie, cache on" /cookie/rs256 200 "Cookie: theme=dark; session=$(tok rs256); lang=en"
    run_scenario cookie-nocache-rs256 "gate RS256, token from cookie, $(cache_label "cache off")" /cookie-nocache/rs256 200 "Cookie: theme=dark; session=$(tok rs256); lang=en"
    run_scenario reject-badsig "reject: bad signature (RS256, other key), 401" /gate/rs256 401 "$(bearer badsig)"
    run_scenario reject-expired "reject: expired (RS256), 401" /gate/rs256 401 "$(bearer expired)"
    run_scenario reject-malformed "reject: malformed token, 401" /gate/rs256 401 "Authorization: Bearer $(tok malformed)"
    run_scenario reject-missing "reject: no token, 401" /gate/rs256 401
    for a in hs256 rs256 es256; do
        A=$(upper $a)
        cached_scenario "areq-verify-$a" "auth_request → auth_jwt_rs_verify $A, cache on" "/areq-verify/$a" 200 "$(bearer $a)"
        run_scenario "areq-verify-nocache-$a" "auth_request → auth_jwt_rs_verify $A, $(cache_label "cache off")" "/areq-verify-nocache/$a" 200 "$(bearer $a)"
        run_scenario "areq-ext-$a" "auth_request → external validator $A" "/areq-ext/$a" 200 "$(bearer $a)"
    done
    run_scenario noauth-end "no auth again (drift check)" /noauth 200
}
for round in $(seq "$ROUNDS"); do
    [ "$ROUNDS" = 1 ] || log "round $round of $ROUNDS"
    all_scenarios
done
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v id="$1" -v c="$2" '$2 == id { print $c }' "$results"; }
base_rps=$(col noauth 5 | median)
base_cpu=$(col noauth 11 | median)
[ -n "$base_rps" ] && [ "$base_rps" != 0 ] || die "no baseline"

# --- cache fill: worker RSS with the default cache full of distinct tokens ------------------
cat > "$prefix/fill.lua" <<'EOF'
-- Sends each token of $TOKENS once (in order, over all connections), then stops and creates
-- $DONE_FILE (wrk's main thread sleeps for -d regardless; run.sh then interrupts it).
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local path = os.getenv("FILL_PATH")
local i, sent = 0, 0
request = function()
    i = i + 1
    if i > #tokens then i = 1 end
    return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tokens[i] })
end
response = function(status)
    sent = sent + 1
    if sent == #tokens then
        local f = io.open(os.getenv("DONE_FILE"), "w")
        if f then f:close() end
        wrk.thread:stop()
    end
end
EOF
fill() { # path -> "rss_before rss_after non2xx"
    nginx_stop; nginx_start
    "${PIN_CLIENT[@]}" wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$PORT/noauth" >/dev/null 2>&1 || true
    local before out after wpid done="$prefix/fill.done" f="$prefix/logs/wrk-fill-${1//\//_}.txt"
    before=$(rss_mb)
    rm -f "$done"
    TOKENS="$prefix/tokens/fill" FILL_PATH="$1" DONE_FILE="$done" "${PIN_CLIENT[@]}" \
        wrk -t1 -c"$CONNECTIONS" -d120s -s "$prefix/fill.lua" "http://127.0.0.1:$PORT$1" > "$f" 2>&1 &
    wpid=$!
    for _ in $(seq 1200); do [ -e "$done" ] && break; kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
    kill -INT "$wpid" 2>/dev/null || true
    wait "$wpid" || true
    out=$(cat "$f")
    after=$(rss_mb)
    echo "$before $after $(echo "$out" | parse_wrk | awk '{print $3, $5}')"
}
fill_rows=()
log "cache fill: $CACHE_N distinct RS256 tokens, fresh worker each time"
read -r nb na nn nr <<< "$(fill /gate-nocache/rs256)"
fill_rows+=("| $(cache_label "cache off") | $CACHE_N | $nr | $nn | $nb | $na | $(awk -v a="$na" -v b="$nb" 'BEGIN{printf "%+.1f", a-b}') |")
if [ "$HAVE_CACHE" = 1 ]; then
    read -r cb ca cn cr <<< "$(fill /gate/rs256)"
    fill_rows+=("| cache on, default size | $CACHE_N | $cr | $cn | $cb | $ca | $(awk -v a="$ca" -v b="$cb" 'BEGIN{printf "%+.1f", a-b}') |")
fi

# --- report ---------------------------------------------------------------------------------
mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
report="bench/results/$stamp.md"
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo "?")
{
    echo "## auth_jwt_rs benchmark, $(date -u '+%F %H:%M UTC')"
    echo
    echo "nginx $("$NGINX" -v 2>&1 | sed 's|.*nginx/||'), module $profile build ($rev); $cpu, $ncpu CPUs;"
    echo "1 nginx worker pinned to CPU0 (validator also on CPU0), \`wrk -t1 -c$CONNECTIONS -d${DURATION}s\` on CPU1,"
    echo "keep-alive, \`empty_gif\` behind the gate, ratios to the no-auth row of this run."
    echo "Server CPU µs/req: user+system CPU time of the worker (plus the validator in its rows) per request;"
    echo "unlike req/s it hardly moves when other processes compete for CPU0. CPU ratio = no-auth CPU/req ÷ this row's"
    echo "(the ratio to expect when the worker's core is the bottleneck; compare with the req/s ratio on a quiet machine)."
    [ "$ROUNDS" = 1 ] || echo "$ROUNDS interleaved rounds: medians of req/s, p99 and non-2xx; RSS after the last round."
    [ "$HAVE_CACHE" = 1 ] || echo "This build has no \`auth_jwt_rs_cache\`: every gate row verifies the signature on each request."
    echo
    echo "| scenario | status | req/s | ratio | p99 ms | server CPU µs/req | CPU ratio | non-2xx | worker RSS MB | note |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for id in $(awk -F'\t' '!seen[$2]++ { print $2 }' "$results"); do
        desc=$(col "$id" 3 | head -1)
        code=$(col "$id" 4 | sort -u | paste -sd/)
        rps=$(col "$id" 5 | median); p99=$(col "$id" 6 | median); non2xx=$(col "$id" 7 | median)
        rss=$(col "$id" 9 | tail -1); note=$(col "$id" 10 | sort -u | paste -sd' ')
        cpu=$(col "$id" 11 | median)
        ratio=$(awk -v r="$rps" -v b="$base_rps" 'BEGIN { printf "%.2f", r / b }')
        cratio=$(awk -v c="$cpu" -v b="$base_cpu" 'BEGIN { if (c > 0) printf "%.2f", b / c; else print "-" }')
        printf '| %s | %s | %.0f | %s | %.2f | %.1f | %s | %.0f | %s | %s |\n' "$desc" "$code" "$rps" "$ratio" "$p99" "$cpu" "$cratio" "$non2xx" "$rss" "$note"
    done
    echo
    echo "Worker RSS at start: $rss_start MB. Cache fill (fresh worker, RSS after 2 s of no-auth traffic, then each distinct token sent once):"
    echo
    echo "| gate RS256 | distinct tokens | requests | non-2xx | RSS before MB | RSS after MB | delta MB |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${fill_rows[@]}"
} > "$report"
echo
cat "$report"
log "saved $report (wrk outputs: KEEP=1 keeps $prefix/logs)"

if [ "$MICRO" = 1 ]; then
    log "micro-benchmark (bench/micro/run.sh)"
    nginx_stop
    bench/micro/run.sh
fi
