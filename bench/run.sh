#!/usr/bin/env bash
# auth_jwt_rs benchmark: one command, one run, every figure.
#
#   bench/run.sh                 # full run: ~7 min of measuring with the default 10 s per
#                                # scenario (32 scenarios x (WARMUP + DURATION) + ~40 s for the
#                                # crypto floor, minting and the cache fill), plus the builds
#   DURATION=5 bench/run.sh      # shorter runs (~4.5 min)
#   ONLY='noauth|rs256' bench/run.sh   # only scenarios whose id matches this regex (+ noauth)
#   MICRO=1 bench/run.sh         # also run the criterion micro-benchmark (bench/micro/run.sh)
#   PERF=1 bench/run.sh          # also the module's own CPU per request (perf sampling)
#   ROUNDS=3 DURATION=5 bench/run.sh   # noisy machine: 3 interleaved rounds, medians reported
#
# Steps: installs wrk if missing, builds the module (release) with scripts/build.sh --release,
# builds the external validator (bench/validator) and the crypto-floor tool (jwt-floor in
# bench/micro), mints tokens, starts nginx 1.28 in a temporary prefix with ONE worker pinned to
# CPU0 (worker_cpu_affinity 01) and the validator pinned to the same CPU0, measures the aws-lc
# floor of each algorithm pinned to CPU0 too (jwt-floor: a key parsed once, the run's own
# tokens, thread CPU time), then runs `taskset -c 1 wrk -t1 -c32 -d${DURATION}s --latency`
# against 127.0.0.1 for every scenario. It prints Markdown tables, also saved to
# bench/results/<date>.md:
#   - every scenario: req/s, ratio to the no-auth baseline of the same run, p99, server CPU
#     us/req and its difference to no-auth, CPU ratio, cache hit rate (auth_jwt_rs_status
#     counters around the measured run), non-2xx count, worker RSS;
#   - many users: USERS distinct tokens requested in a Zipf(ZIPF_S) order, default cache;
#   - rejection floods (expired, wrong iss, wrong aud, bad signature): CPU x no-auth, and over
#     nginx alone answering the same request with the same 401 (the module's own work);
#   - every cache-off row against the crypto floor: t_noauth / (t_noauth + t_floor);
#   - the cached path: CPU us/req over no-auth, with $user/$email in add_header, and over nginx
#     alone sending the same two headers for the same request;
#   - cache memory: CACHE_FILL distinct tokens into a cache that holds them, bytes per entry;
#   - the issue-14 targets, met or missed.
# At the end build/ is restored to the debug build (scripts/build.sh), which the tests use;
# RESTORE_DEBUG=0 skips that.
#
# Environment: DURATION (10), WARMUP (2), ROUNDS (1), CONNECTIONS (32), PORT (18480, and PORT+1
# for the validator), USERS (10000: distinct tokens of the many-users scenario), ZIPF_S (1.0),
# CACHE_FILL (10000: distinct tokens of the cache fill), FLOOR_MS (400: CPU ms per algorithm for
# the floor), BUILD=0 (no builds: use the release artefacts already in target/release and
# bench/target; build/ is not touched), RESTORE_DEBUG (1), ONLY (regex), MICRO (0), KEEP=1 (keep
# the temp prefix for inspection), PERF=1 (sample the worker with `perf record -e cpu-clock`
# during the cached gate rows and the floods: the module's own share of the worker's CPU, which
# the whole-worker CPU column cannot resolve on a noisy machine).
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
PERF=${PERF:-0}
KEEP=${KEEP:-0}
ROUNDS=${ROUNDS:-1}
USERS=${USERS:-10000}
ZIPF_S=${ZIPF_S:-1.0}
CACHE_FILL=${CACHE_FILL:-10000}
FLOOR_MS=${FLOOR_MS:-400}
keys="$root/t/keys"
ISS="https://issuer.example.com/realms/bench"
AUD="bench-api"
ALGS="hs256 rs256 ps256 es256 eddsa"

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- tools ----------------------------------------------------------------------------------
need_apt=()
if [ "$PERF" = 1 ] && ! command -v perf >/dev/null; then
    [ "$(id -u)" = 0 ] && apt-get install -y linux-perf >/dev/null 2>&1 || true
    command -v perf >/dev/null || { echo "bench: PERF=1 needs perf (apt-get install linux-perf); measuring without it" >&2; PERF=0; }
fi
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
    log "building the crypto-floor tool (bench/micro: jwt-floor, release)"
    (cd bench/micro && CARGO_TARGET_DIR="$CARGO_TARGET_DIR_BENCH" cargo build --release --bin jwt-floor >&2)
fi
# The release artefacts (what scripts/build.sh --release put into build/), taken straight from
# target/release and copied into the prefix: build/ is switched back to debug at the end.
rel=target/release
[ -s "$rel/nginx-build-dir" ] && [ -f "$rel/libngx_http_auth_jwt_rs_module.so" ] && [ -x "$rel/jwt-mint" ] ||
    die "no release build in $rel (run without BUILD=0)"
for b in jwt-validator jwt-many jwt-floor; do
    [ -x "bench/target/release/$b" ] || die "bench/target/release/$b missing (run without BUILD=0)"
done
mkdir -p "$prefix"/{sbin,modules,conf,logs,tokens,bin}
cp -L "$(cat "$rel/nginx-build-dir")/nginx" "$prefix/sbin/nginx"
cp -L "$rel/libngx_http_auth_jwt_rs_module.so" "$prefix/modules/ngx_http_auth_jwt_rs_module.so"
cp -L "$rel/jwt-mint" bench/target/release/{jwt-validator,jwt-many,jwt-floor} "$prefix/bin/"
NGINX="$prefix/sbin/nginx"
if [ "$built_release" = 1 ]; then profile=release; else profile="release (BUILD=0: as found in $rel)"; fi

# --- tokens ---------------------------------------------------------------------------------
log "minting tokens"
claims=$(jq -cn --arg iss "$ISS" --arg aud "$AUD" '{iss:$iss, aud:$aud,
    sub:"8b0c3d0e-5f6a-4b1c-9d2e-3f4a5b6c7d8e", jti:"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    email:"alice@example.com", name:"Alice Example",
    scope:"openid profile email api:read api:write", roles:["user","editor"]}')
mint() { # name alg keyopt keyfile exp_in [claims]
    "$prefix/bin/jwt-mint" --alg "$2" "$3" "$4" --claims "${6:-$claims}" --exp-in "$5" --iat-now \
        > "$prefix/tokens/$1" || die "jwt-mint $1"
}
mint hs256 HS256 --secret-file "$keys/hs.secret" 86400
mint rs256 RS256 --key "$keys/rsa.key" 86400
mint ps256 PS256 --key "$keys/rsa.key" 86400
mint es256 ES256 --key "$keys/ec256.key" 86400
mint eddsa EdDSA --key "$keys/ed25519.key" 86400
mint badsig RS256 --key "$keys/rsa2.key" 86400        # signed by an unrelated key
mint expired RS256 --key "$keys/rsa.key" -60          # exp a minute ago
mint wrongiss RS256 --key "$keys/rsa.key" 86400 "$(jq -c '.iss = "https://other.example.com/realms/bench"' <<< "$claims")"
mint wrongaud RS256 --key "$keys/rsa.key" 86400 "$(jq -c '.aud = "other-api"' <<< "$claims")"
printf 'abc.def.ghi' > "$prefix/tokens/malformed"     # JWT-shaped, header is not JSON
tok() { cat "$prefix/tokens/$1"; }
claims_bytes() { # token file -> bytes of its claims JSON
    local p; p=$(head -n 1 "$1" | cut -d. -f2 | tr '_-' '/+')
    while [ $((${#p} % 4)) != 0 ]; do p="$p="; done
    printf '%s' "$p" | base64 -d | wc -c
}

CACHE_DEFAULT=$(sed -n 's/.*DEFAULT_CAPACITY: *usize *= *\([0-9_]*\).*/\1/p' core/src/cache.rs 2>/dev/null | tr -d _ | head -1)
CACHE_DEFAULT=${CACHE_DEFAULT:-2048}
ntok=$((USERS > CACHE_FILL ? USERS : CACHE_FILL))
log "minting $ntok distinct RS256 tokens (many users: $USERS, cache fill: $CACHE_FILL)"
"$prefix/bin/jwt-many" --alg RS256 --key "$keys/rsa.key" --count "$ntok" \
    --issuer "$ISS" --audience "$AUD" > "$prefix/tokens/many" || die "jwt-many"
head -n "$USERS" "$prefix/tokens/many" > "$prefix/tokens/users"
head -n "$CACHE_FILL" "$prefix/tokens/many" > "$prefix/tokens/fill"
claims_typ=$(claims_bytes "$prefix/tokens/rs256")
claims_many=$(claims_bytes "$prefix/tokens/many")
log "claims: $claims_typ bytes (typical token), $claims_many bytes (many-users/fill tokens)"

# --- nginx configuration --------------------------------------------------------------------
cat > "$prefix/conf/probe.conf" <<EOF
load_module $prefix/modules/ngx_http_auth_jwt_rs_module.so;
error_log stderr;
events {}
http { server { listen 127.0.0.1:$PORT; location / { auth_jwt_rs on; auth_jwt_rs_secret_file $keys/hs.secret; auth_jwt_rs_cache off; empty_gif; } } }
EOF
if "$NGINX" -p "$prefix" -c conf/probe.conf -t >/dev/null 2>&1; then
    HAVE_CACHE=1; CACHE_OFF="auth_jwt_rs_cache off;"
    log "auth_jwt_rs_cache supported: measuring with and without the cache (default size $CACHE_DEFAULT)"
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
pubkey_of() { # alg -> the key file the floor verifies with
    case $1 in
        hs256) echo "$keys/hs.secret" ;;
        rs256|ps256) echo "$keys/rsa.pub.pem" ;;
        es256) echo "$keys/ec256.pub.pem" ;;
        eddsa) echo "$keys/ed25519.pub.pem" ;;
    esac
}
upper() { case $1 in eddsa) echo EdDSA ;; *) echo "$1" | tr a-z A-Z ;; esac; }

user_line=""
[ "$(id -u)" = 0 ] && user_line="user root root;"
# The identity headers a deployment adds from the token, on every gate location.
ident='add_header X-User $user; add_header X-Email $email;'
conf_head() { # nginx.conf and fill.conf up to the server's own locations
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
    auth_jwt_rs_claim_set \$user sub;
    auth_jwt_rs_claim_set \$email email;
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
        # nginx alone answering like the gate, without the module: the cached gate's two
        # response headers, and the 401 of an expired token with its challenge
        location = /floor/ok { add_header X-User "8b0c3d0e-5f6a-4b1c-9d2e-3f4a5b6c7d8e"; add_header X-Email "alice@example.com"; empty_gif; }
        location = /floor/401 { add_header WWW-Authenticate 'Bearer realm="bench", error="invalid_token", error_description="token expired"' always; return 401; }
        location = /jwt-metrics { auth_jwt_rs_status; }
EOF
}
{
conf_head
for a in $ALGS; do
    cat <<EOF
        location = /gate/$a { auth_jwt_rs on; $(key_of $a) $ident empty_gif; }
        location = /gate-nocache/$a { auth_jwt_rs on; $(key_of $a) $CACHE_OFF $ident empty_gif; }
EOF
done
cat <<EOF
        location = /cookie/rs256 { auth_jwt_rs on; auth_jwt_rs_token cookie=session; $(key_of rs256) $ident empty_gif; }
        location = /cookie-nocache/rs256 { auth_jwt_rs on; auth_jwt_rs_token cookie=session; $(key_of rs256) $CACHE_OFF $ident empty_gif; }
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
# The cache fill's own configuration: a cache that holds every token of the fill (the cache
# is one per worker, sized by the largest auth_jwt_rs_cache N of the configuration).
{
conf_head
cat <<EOF
        location = /fill-nocache/rs256 { auth_jwt_rs on; $(key_of rs256) $CACHE_OFF $ident empty_gif; }
        location = /fill/rs256 { auth_jwt_rs on; $(key_of rs256) auth_jwt_rs_cache $CACHE_FILL; $ident empty_gif; }
    }
}
EOF
} > "$prefix/conf/fill.conf"

for c in nginx.conf fill.conf; do
    "$NGINX" -p "$prefix" -c "conf/$c" -t 2> "$prefix/logs/t.log" || { cat "$prefix/logs/t.log" >&2; die "nginx -t failed ($c)"; }
done

# --- processes ------------------------------------------------------------------------------
nginx_start() { # [configuration file, default nginx.conf]
    "${PIN_SERVER[@]}" "$NGINX" -p "$prefix" -c "conf/${1:-nginx.conf}" || die "nginx did not start"
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
rss_kb() { # worker VmRSS in kB
    local w; w=$(worker_pid) || { echo 0; return; }
    awk '/^VmRSS:/ { print $2 }' "/proc/$w/status"
}
# The module's counters (auth_jwt_rs_status, README "Operations and metrics").
metrics() { curl -s "http://127.0.0.1:$PORT/jwt-metrics" || true; }
mval() { # metrics text, series -> its value (0 if absent)
    awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' <<< "$1"
}
HIT='auth_jwt_rs_cache_lookups_total{result="hit"}'
MISS='auth_jwt_rs_cache_lookups_total{result="miss"}'
decisions_grown() { # metrics before, after -> "status/reason" of each decision series that grew
    awk 'NR == FNR { if ($1 ~ /^auth_jwt_rs_decisions_total/) b[$1] = $2; next }
        $1 ~ /^auth_jwt_rs_decisions_total/ && $2 > b[$1] + 0 {
            st = $1; sub(/.*status="/, "", st); sub(/".*/, "", st)
            re = $1; sub(/.*reason="/, "", re); sub(/".*/, "", re)
            printf "%s%s/%s", (n++ ? "," : ""), st, re
            if ($2 - b[$1] != 1) printf " x%d", $2 - b[$1]
        }' <(printf '%s\n' "$1") <(printf '%s\n' "$2")
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

# Many users: requests pick a token of $ZIPF_TOKENS by a Zipf distribution over its lines
# (rank = line number, P(k) ~ 1/k^ZIPF_S), its CDF computed once; fixed seed.
cat > "$prefix/zipf.lua" <<'EOF'
local reqs, cdf, n = {}, {}, 0
-- In init: wrk.format takes the Host header from wrk.headers, set only by then.
init = function()
    local path = os.getenv("ZIPF_PATH")
    for line in io.lines(os.getenv("ZIPF_TOKENS")) do
        reqs[#reqs + 1] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. line })
    end
    n = #reqs
    local s, sum = tonumber(os.getenv("ZIPF_S")), 0
    for k = 1, n do sum = sum + k ^ -s; cdf[k] = sum end
    for k = 1, n do cdf[k] = cdf[k] / sum end
    math.randomseed(1)
end
request = function()
    local u, lo, hi = math.random(), 1, n
    while lo < hi do
        local mid = math.floor((lo + hi) / 2)
        if cdf[mid] < u then lo = mid + 1 else hi = mid end
    end
    return reqs[lo]
end
EOF
export ZIPF_TOKENS="$prefix/tokens/users" ZIPF_S

results="$prefix/results.tsv"
floors="$prefix/floors.tsv"
: > "$results"
: > "$floors"
round=1
wrk_script=""   # a wrk Lua script for run_scenario (empty: wrk's static request)
# run_scenario ID "description" PATH EXPECTED [header args for curl/wrk]
# EXPECTED: the status code of the curl check, optionally with the decision the module must
# count for it in auth_jwt_rs_status, as $jwt_status/$jwt_reason: 401:invalid/expired.
run_scenario() {
    local id=$1 desc=$2 path=$3 expect=${4%%:*} decision=""
    case $4 in *:*) decision=${4#*:} ;; esac
    shift 4
    if [ -n "$ONLY" ] && [ "$id" != noauth ] && ! [[ $id =~ $ONLY ]]; then return 0; fi
    local url="http://127.0.0.1:$PORT$path" hdr=() h code m0 m1 got note=""
    for h in "$@"; do hdr+=(-H "$h"); done
    m0=$(metrics)
    code=$(curl -s -D "$prefix/logs/headers" -o /dev/null -w '%{http_code}' "${hdr[@]}" "$url" || echo 000)
    m1=$(metrics)
    got=$(decisions_grown "$m0" "$m1")
    [ "$code" = "$expect" ] || note="UNEXPECTED status $code (expected $expect)"
    if [ -n "$decision" ] && [ "$got" != "$decision" ]; then
        note="${note:+$note; }UNEXPECTED decision ${got:-none} (expected $decision)"
    fi
    if [ "$code" = 200 ] && [[ $path == /gate* || $path == /cookie* ]] &&
        ! { grep -qi '^x-user: 8b0c3d0e-' "$prefix/logs/headers" &&
            grep -qi '^x-email: [^ ]*@example\.com' "$prefix/logs/headers"; }; then
        note="${note:+$note; }no X-User/X-Email header"
    fi
    local script=()
    [ -z "$wrk_script" ] || script=(-s "$wrk_script")
    if [ "$WARMUP" != 0 ]; then
        "${PIN_CLIENT[@]}" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "${script[@]}" "${hdr[@]}" "$url" >/dev/null 2>&1 || true
    fi
    local out t0 t1 perf_pid="" share=-
    m0=$(metrics)
    t0=$(cpu_ticks)
    if [ "$PERF" = 1 ] && [[ $id =~ ^(gate-(hs256|rs256|ps256|es256|eddsa)|reject-(expired|iss|aud))$ ]]; then
        perf record -q -e cpu-clock -F 999 -p "$(worker_pid)" -o "$prefix/logs/perf-$id.data" \
            -- sleep "$((DURATION > 2 ? DURATION - 1 : 1))" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    out=$("${PIN_CLIENT[@]}" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${script[@]}" "${hdr[@]}" "$url" 2>&1) ||
        { log "wrk failed for $id: $out"; note="wrk failed"; }
    t1=$(cpu_ticks)
    if [ -n "$perf_pid" ]; then
        wait "$perf_pid" || true
        share=$(perf report -i "$prefix/logs/perf-$id.data" --stdio --sort dso 2>/dev/null |
            awk '/ngx_http_auth_jwt_rs_module/ { sub("%", "", $1); print $1; found = 1 } END { if (!found) print "-" }')
    fi
    m1=$(metrics)
    echo "$out" > "$prefix/logs/wrk-$id-r$round.txt"
    local rps p99 non2xx errs reqs rss cpu_us hits misses
    read -r rps p99 non2xx errs reqs <<< "$(echo "$out" | parse_wrk)"
    rss=$(rss_mb)
    hits=$(($(mval "$m1" "$HIT") - $(mval "$m0" "$HIT")))
    misses=$(($(mval "$m1" "$MISS") - $(mval "$m0" "$MISS")))
    # server CPU time per request (worker + validator), insensitive to other load on CPU0
    cpu_us=$(awk -v d=$((t1 - t0)) -v hz="$clk_tck" -v n="$reqs" 'BEGIN { printf "%.2f", n ? d / hz * 1e6 / n : 0 }')
    [ "$errs" != 0 ] && note="${note:+$note; }$errs socket errors"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$id" "$desc" "$code" \
        "$rps" "$p99" "$non2xx" "$reqs" "$rss" "$note" "$cpu_us" "$hits" "$misses" "${got:--}" "$share" >> "$results"
    log "$(printf 'r%s %-24s %s %8.0f req/s  p99 %6.2f ms  cpu %6.2f us/req  hit %s miss %s  %s  non-2xx %s  RSS %s MB %s' \
        "$round" "$id" "$code" "$rps" "$p99" "$cpu_us" "$hits" "$misses" "${got:--}" "$non2xx" "$rss" "$note")"
}

cached_scenario() { [ "$HAVE_CACHE" = 1 ] || return 0; run_scenario "$@"; }
bearer() { echo "Authorization: Bearer $(tok "$1")"; }
cache_label() { if [ "$HAVE_CACHE" = 1 ]; then echo "$1"; else echo "no cache support"; fi; }

# The crypto floor of every algorithm, pinned like the worker (which is idle meanwhile).
measure_floor() {
    local specs=() a
    for a in $ALGS; do specs+=("$(upper $a):$(pubkey_of $a):$prefix/tokens/$a"); done
    "${PIN_SERVER[@]}" "$prefix/bin/jwt-floor" --ms "$FLOOR_MS" "${specs[@]}" |
        while read -r alg us; do printf '%s\t%s\t%s\n' "$round" "$alg" "$us"; done >> "$floors" ||
        die "jwt-floor failed"
    log "r$round crypto floor (us/verify): $(awk -F'\t' -v r="$round" '$1 == r { printf "%s %s  ", $2, $3 }' "$floors")"
}

rss_start=$(rss_mb)
all_scenarios() {
    measure_floor
    run_scenario noauth "no auth (empty_gif), baseline" /noauth 200
    # nginx's own cost of receiving a token: parsing a ~1 KB Authorization header
    run_scenario noauth-hdr "no auth, RS256 token sent (header ignored)" /noauth 200 "$(bearer rs256)"
    # nginx's own share of the gate's answers, same request bytes, no module work: what the
    # cached path and the floods add over these rows is the module's
    run_scenario nginx-ok "nginx alone: RS256 token sent, the gate's two headers (static)" /floor/ok 200 "$(bearer rs256)"
    run_scenario nginx-401 "nginx alone: expired token sent, 401 with the gate's challenge" /floor/401 401 "$(bearer expired)"
    for a in $ALGS; do
        A=$(upper $a)
        cached_scenario "gate-$a" "gate $A, cache on (default)" "/gate/$a" 200:ok/ "$(bearer $a)"
        run_scenario "gate-nocache-$a" "gate $A, $(cache_label "cache off")" "/gate-nocache/$a" 200:ok/ "$(bearer $a)"
    done
    cached_scenario cookie-rs256 "gate RS256, token from cookie, cache on" /cookie/rs256 200:ok/ "Cookie: theme=dark; session=$(tok rs256); lang=en"
    run_scenario cookie-nocache-rs256 "gate RS256, token from cookie, $(cache_label "cache off")" /cookie-nocache/rs256 200:ok/ "Cookie: theme=dark; session=$(tok rs256); lang=en"
    wrk_script="$prefix/zipf.lua"
    ZIPF_PATH=/noauth run_scenario noauth-zipf "no auth, many-users client (Zipf Lua script)" /noauth 200
    ZIPF_PATH=/gate/rs256 cached_scenario zipf-rs256 "many users: $USERS RS256 tokens, Zipf s=$ZIPF_S, default cache" /gate/rs256 200:ok/ "Authorization: Bearer $(head -n 1 "$prefix/tokens/users")"
    wrk_script=""
    run_scenario reject-expired "reject: expired (RS256), 401" /gate/rs256 401:invalid/expired "$(bearer expired)"
    run_scenario reject-iss "reject: wrong iss (RS256), 401" /gate/rs256 401:invalid/issuer "$(bearer wrongiss)"
    run_scenario reject-aud "reject: wrong aud (RS256), 401" /gate/rs256 401:invalid/audience "$(bearer wrongaud)"
    run_scenario reject-badsig "reject: bad signature (RS256, other key), 401" /gate/rs256 401:invalid/bad_signature "$(bearer badsig)"
    run_scenario reject-malformed "reject: malformed token, 401" /gate/rs256 401:invalid/malformed "Authorization: Bearer $(tok malformed)"
    run_scenario reject-missing "reject: no token, 401" /gate/rs256 401:missing/missing
    for a in hs256 rs256 es256; do
        A=$(upper $a)
        cached_scenario "areq-verify-$a" "auth_request → auth_jwt_rs_verify $A, cache on" "/areq-verify/$a" 200:ok/ "$(bearer $a)"
        run_scenario "areq-verify-nocache-$a" "auth_request → auth_jwt_rs_verify $A, $(cache_label "cache off")" "/areq-verify-nocache/$a" 200:ok/ "$(bearer $a)"
        run_scenario "areq-ext-$a" "auth_request → external validator $A" "/areq-ext/$a" 200 "$(bearer $a)"
    done
    run_scenario noauth-end "no auth again (drift check)" /noauth 200
}
for round in $(seq "$ROUNDS"); do
    [ "$ROUNDS" = 1 ] || log "round $round of $ROUNDS"
    all_scenarios
done
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
sum() { awk '{ s += $1 } END { print s + 0 }'; }
col() { awk -F'\t' -v id="$1" -v c="$2" '$2 == id { print $c }' "$results"; }
has() { [ -n "$(col "$1" 2)" ]; }
floor_of() { awk -F'\t' -v a="$(upper "$1")" '$2 == a { print $3 }' "$floors" | median; }
base_rps=$(col noauth 5 | median)
base_cpu=$(col noauth 11 | median)
hdr_cpu=$(col noauth-hdr 11 | median)   # no auth, but the token's header parsed by nginx
ok_cpu=$(col nginx-ok 11 | median)      # nginx alone answering like the cached gate
e401_cpu=$(col nginx-401 11 | median)   # nginx alone answering like a flood's 401
[ -n "$base_rps" ] && [ "$base_rps" != 0 ] || die "no baseline"

# --- cache fill: worker RSS with CACHE_FILL distinct tokens ---------------------------------
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
fill_pass() { # path -> "requests non2xx"
    local wpid done="$prefix/fill.done" f="$prefix/logs/wrk-fill-${1//\//_}.txt"
    rm -f "$done"
    TOKENS="$prefix/tokens/fill" FILL_PATH="$1" DONE_FILE="$done" "${PIN_CLIENT[@]}" \
        wrk -t1 -c"$CONNECTIONS" -d120s -s "$prefix/fill.lua" "http://127.0.0.1:$PORT$1" > "$f" 2>&1 &
    wpid=$!
    for _ in $(seq 1200); do [ -e "$done" ] && break; kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
    kill -INT "$wpid" 2>/dev/null || true
    wait "$wpid" || true
    parse_wrk < "$f" | awk '{ print $5, $3 }'
}
fill() { # path -> "rss_before_kB rss_after_kB requests non2xx misses hits_of_a_second_pass"
    nginx_stop; nginx_start fill.conf
    "${PIN_CLIENT[@]}" wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$PORT/noauth" >/dev/null 2>&1 || true
    local before after m0 m1 m2 reqs non2xx
    before=$(rss_kb); m0=$(metrics)
    read -r reqs non2xx <<< "$(fill_pass "$1")"
    after=$(rss_kb); m1=$(metrics)
    fill_pass "$1" >/dev/null   # every token again: all hits if the cache kept them all
    m2=$(metrics)
    echo "$before $after $reqs $non2xx $(($(mval "$m1" "$MISS") - $(mval "$m0" "$MISS"))) $(($(mval "$m2" "$HIT") - $(mval "$m1" "$HIT")))"
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
log "cache fill: $CACHE_FILL distinct RS256 tokens, fresh worker each time (conf/fill.conf)"
read -r nb na nr nn _ _ <<< "$(fill /fill-nocache/rs256)"
fill_rows=("| cache off | $CACHE_FILL | $nr | $nn | - | - | $(mb "$nb") | $(mb "$na") | $(awk -v a="$na" -v b="$nb" 'BEGIN { printf "%+.1f", (a - b) / 1024 }') | $(awk -v a="$na" -v b="$nb" -v n="$CACHE_FILL" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }') | - |")
fill_net=""
if [ "$HAVE_CACHE" = 1 ]; then
    read -r cb ca cr cn cmiss chit <<< "$(fill /fill/rs256)"
    fill_raw=$(awk -v a="$ca" -v b="$cb" -v n="$CACHE_FILL" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
    fill_net=$(awk -v a="$ca" -v b="$cb" -v x="$na" -v y="$nb" -v n="$CACHE_FILL" 'BEGIN { printf "%.0f", ((a - b) - (x - y)) * 1024 / n }')
    fill_rows+=("| auth_jwt_rs_cache $CACHE_FILL | $CACHE_FILL | $cr | $cn | $cmiss | $chit | $(mb "$cb") | $(mb "$ca") | $(awk -v a="$ca" -v b="$cb" 'BEGIN { printf "%+.1f", (a - b) / 1024 }') | $fill_raw | $fill_net |")
fi

# --- report ---------------------------------------------------------------------------------
f2() { awk -v x="$1" 'BEGIN { printf "%.2f", x }'; }
diff_us() { awk -v c="$1" -v b="${2:-$base_cpu}" 'BEGIN { printf "%+.2f", c - b }'; }
diff_hdr() { if [ "$hdr_cpu" != 0 ]; then diff_us "$1" "$hdr_cpu"; else echo -; fi; }
diff_own() { if [ -n "$2" ] && [ "$2" != 0 ]; then diff_us "$1" "$2"; else echo -; fi; }   # over an nginx-alone row
hitrate() { # id -> hit % over all rounds, or -
    local h m; h=$(col "$1" 12 | sum); m=$(col "$1" 13 | sum)
    awk -v h="$h" -v m="$m" 'BEGIN { if (h + m > 0) printf "%.1f", 100 * h / (h + m); else print "-" }'
}
verdict() { # value limit -> met if value <= limit
    if awk -v v="$1" -v l="$2" 'BEGIN { exit !(v + 0 <= l + 0) }'; then echo met; else echo "**missed**"; fi
}
mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
report="bench/results/$stamp.md"
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo "?")
targets=()
{
    echo "## auth_jwt_rs benchmark, $(date -u '+%F %H:%M UTC')"
    echo
    echo "nginx $("$NGINX" -v 2>&1 | sed 's|.*nginx/||'), module $profile build ($rev); $cpu, $ncpu CPUs;"
    echo "1 nginx worker pinned to CPU0 (validator also on CPU0), \`wrk -t1 -c$CONNECTIONS -d${DURATION}s\` on CPU1,"
    echo "keep-alive, \`empty_gif\` behind the gate, ratios to the no-auth row of this run."
    echo "Tokens: $claims_typ bytes of claims (many-users and fill tokens: $claims_many). Gate locations add"
    echo "\`X-User \$user\` and \`X-Email \$email\` (\`auth_jwt_rs_claim_set\`) to the response."
    echo "Server CPU µs/req: user+system CPU time of the worker (plus the validator in its rows) per request;"
    echo "unlike req/s it hardly moves when other processes compete for CPU0. Over no-auth: this row's CPU µs/req"
    echo "minus the no-auth row's. CPU ratio = no-auth CPU/req ÷ this row's (the ratio to expect when the worker's"
    echo "core is the bottleneck; compare with the req/s ratio on a quiet machine). Cache hit %: lookups counted by"
    echo "\`auth_jwt_rs_status\` during the measured run."
    [ "$ROUNDS" = 1 ] || echo "$ROUNDS interleaved rounds: medians of req/s, p99, CPU and non-2xx; hit rates over all rounds; RSS after the last round."
    [ "$HAVE_CACHE" = 1 ] || echo "This build has no \`auth_jwt_rs_cache\`: every gate row verifies the signature on each request."
    echo
    echo "| scenario | status | req/s | ratio | p99 ms | server CPU µs/req | over no-auth µs | CPU ratio | cache hit % | non-2xx | worker RSS MB | note |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for id in $(awk -F'\t' '!seen[$2]++ { print $2 }' "$results"); do
        desc=$(col "$id" 3 | head -1)
        code=$(col "$id" 4 | sort -u | paste -sd/)
        rps=$(col "$id" 5 | median); p99=$(col "$id" 6 | median); non2xx=$(col "$id" 7 | median)
        rss=$(col "$id" 9 | tail -1); note=$(col "$id" 10 | sort -u | paste -sd' ')
        c=$(col "$id" 11 | median)
        ratio=$(awk -v r="$rps" -v b="$base_rps" 'BEGIN { printf "%.2f", r / b }')
        cratio=$(awk -v c="$c" -v b="$base_cpu" 'BEGIN { if (c > 0) printf "%.2f", b / c; else print "-" }')
        printf '| %s | %s | %.0f | %s | %.2f | %.2f | %s | %s | %s | %.0f | %s | %s |\n' "$desc" "$code" "$rps" "$ratio" \
            "$p99" "$c" "$(diff_us "$c")" "$cratio" "$(hitrate "$id")" "$non2xx" "$rss" "$note"
    done
    echo
    echo "Worker RSS at start: $rss_start MB."

    echo
    echo "### Crypto floor and the cache-off rows"
    echo
    echo "Floor: aws-lc-rs with the key parsed once verifying the row's token (\`jwt-floor\`, thread CPU time, median"
    echo "of 5 batches, pinned to CPU0 like the worker). Limit = t_noauth / (t_noauth + t_floor) with t_noauth ="
    echo "$(f2 "$base_cpu") µs, the best CPU ratio a row that verifies once per request can reach; beyond floor ="
    echo "row CPU − t_noauth − t_floor (the module's and nginx's work on top of the signature)."
    echo "Floors of this run, µs per verify: $(for a in $ALGS; do printf '%s %s, ' "$(upper $a)" "$(floor_of $a)"; done | sed 's/, $//')."
    echo
    echo "| row | floor µs/verify | server CPU µs/req | beyond floor µs | limit | CPU ratio | req/s ratio |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for id in $(awk -F'\t' '!seen[$2]++ { print $2 }' "$results"); do
        case $id in
            gate-nocache-*|cookie-nocache-*|areq-verify-nocache-*|areq-ext-*) a=${id##*-} ;;
            reject-badsig) a=rs256 ;;
            *) continue ;;
        esac
        fl=$(floor_of "$a"); c=$(col "$id" 11 | median); rps=$(col "$id" 5 | median)
        awk -v id="$(col "$id" 3 | head -1)" -v f="$fl" -v c="$c" -v b="$base_cpu" -v r="$rps" -v br="$base_rps" 'BEGIN {
            printf "| %s | %.2f | %.2f | %+.2f | %.3f | %.3f | %.3f |\n", id, f, c, c - b - f, b / (b + f), b / c, r / br }'
    done

    if has zipf-rs256; then
        echo
        echo "### Many users"
        echo
        zh=$(col zipf-rs256 12 | sum); zm=$(col zipf-rs256 13 | sum)
        zc=$(col zipf-rs256 11 | median); zr=$(col zipf-rs256 5 | median)
        nzr=$(col noauth-zipf 5 | median); nzc=$(col noauth-zipf 11 | median)
        ideal=$(awk -v n="$USERS" -v c="$CACHE_DEFAULT" -v s="$ZIPF_S" 'BEGIN { for (k = 1; k <= n; k++) { w = k ^ -s; t += w; if (k <= c) h += w }; printf "%.1f", 100 * h / t }')
        echo "$USERS distinct RS256 tokens, each request picks one by Zipf (P(rank k) ∝ 1/k^$ZIPF_S, wrk Lua script, fixed"
        echo "seed), the default cache ($CACHE_DEFAULT entries) after a ${WARMUP} s warm-up with the same client. Hit rate from"
        echo "\`auth_jwt_rs_cache_lookups_total\` before/after the measured run; ideal = the share of requests for the"
        echo "$CACHE_DEFAULT most popular tokens. Limit at this miss rate = t_noauth / (t_noauth + miss rate × t_floor(RS256))."
        echo "The Lua client sends ~1 KB more per request and is slower than wrk's static request: the no-auth row with the"
        echo "same client is its own ceiling."
        echo
        echo "| req/s | ratio to no-auth | ratio to no-auth, same client | server CPU µs/req | CPU ratio | hits | misses | hit rate % | ideal % | limit at this miss rate |"
        echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        awk -v r="$zr" -v br="$base_rps" -v nr="$nzr" -v c="$zc" -v b="$base_cpu" -v h="$zh" -v m="$zm" -v i="$ideal" -v f="$(floor_of rs256)" 'BEGIN {
            mr = (h + m) ? m / (h + m) : 0
            printf "| %.0f | %.2f | %s | %.2f | %.2f | %d | %d | %.1f | %s | %.2f |\n", r, r / br, nr ? sprintf("%.2f", r / nr) : "-", c, b / c, h, m, 100 * (1 - mr), i, b / (b + mr * f) }'
    fi

    echo
    echo "### Rejection floods"
    echo
    echo "Each flood sends one refused token on every request to the RS256 gate. Checked: the status of a curl request"
    echo "and the decision it added to \`auth_jwt_rs_decisions_total\` (\$jwt_status/\$jwt_reason). Target: expired, wrong"
    echo "iss and wrong aud ≤ 1.5 × the no-auth CPU per request (no signature work); a bad signature costs a verify, at"
    echo "best (t_noauth + t_floor(RS256)) / t_noauth. \"With the token\": over the no-auth row that sends the same"
    echo "RS256 Authorization header (nginx parsing ~1 KB of header, which no module can avoid). \"Over nginx's 401\": over"
    echo "nginx alone answering the same request with the same 401 and challenge (\`return 401\`), i.e. the module's work."
    echo
    echo "| flood | checked | server CPU µs/req | over no-auth µs | over no-auth with the token µs | over nginx's 401 µs | × no-auth CPU | target |"
    echo "|---|---|---:|---:|---:|---:|---:|---|"
    for id in reject-expired reject-iss reject-aud reject-badsig reject-malformed reject-missing; do
        has "$id" || continue
        c=$(col "$id" 11 | median); x=$(awk -v c="$c" -v b="$base_cpu" 'BEGIN { printf "%.2f", c / b }')
        case $id in
            reject-expired|reject-iss|reject-aud)
                t="≤ 1.50: $(verdict "$x" 1.5)"; targets+=("| $(col "$id" 3 | head -1) ≤ 1.5 × no-auth CPU | $x × | ${t#*: } |")
                if [ -n "$e401_cpu" ] && [ "$e401_cpu" != 0 ]; then
                    x2=$(awk -v c="$c" -v b="$e401_cpu" 'BEGIN { printf "%.2f", c / b }')
                    targets+=("| $(col "$id" 3 | head -1) ≤ 1.5 × nginx alone answering the same 401 | $x2 × | $(verdict "$x2" 1.5) |")
                fi ;;
            reject-badsig) t="≥ $(awk -v f="$(floor_of rs256)" -v b="$base_cpu" 'BEGIN { printf "%.2f", (b + f) / b }') (a verify)" ;;
            *) t="-" ;;
        esac
        printf '| %s | %s %s | %.2f | %s | %s | %s | %s | %s |\n' "$(col "$id" 3 | head -1)" "$(col "$id" 4 | sort -u | paste -sd/)" \
            "$(col "$id" 14 | sort -u | paste -sd' ')" "$c" "$(diff_us "$c")" "$(diff_hdr "$c")" "$(diff_own "$c" "$e401_cpu")" "$x" "$t"
    done

    if [ "$HAVE_CACHE" = 1 ]; then
        echo
        echo "### Cached path"
        echo
        echo "The same valid token on every request, cache on (default): the worker's CPU per request over no-auth, with"
        echo "\`\$user\`/\`\$email\` in \`add_header\` on the gate rows. Target for the gate: ≤ 1 µs. \"With the token\": over"
        echo "the no-auth row that sends the same Authorization header. \"Over nginx alone\": over nginx answering the same"
        echo "request with the same two headers, static (the module's work: cache lookup, \$user and \$email)."
        echo
        echo "| row | server CPU µs/req | over no-auth µs | over no-auth with the token µs | over nginx alone µs | cache hit % | target |"
        echo "|---|---:|---:|---:|---:|---:|---|"
        worst=""; worst_hdr=""; worst_own=""
        for id in $(awk -F'\t' '!seen[$2]++ { print $2 }' "$results"); do
            case $id in gate-nocache-*|cookie-nocache-*|areq-verify-nocache-*) continue ;; gate-*|cookie-rs256|areq-verify-*) ;; *) continue ;; esac
            c=$(col "$id" 11 | median); d=$(diff_us "$c")
            case $id in
                gate-*) t="≤ 1: $(verdict "$d" 1)"; worst=$(awk -v w="${worst:--1e9}" -v d="$d" 'BEGIN { print (d > w) ? d : w }')
                    h=$(diff_hdr "$c"); [ "$h" = - ] || worst_hdr=$(awk -v w="${worst_hdr:--1e9}" -v d="$h" 'BEGIN { print (d > w) ? d : w }')
                    o=$(diff_own "$c" "$ok_cpu"); [ "$o" = - ] || worst_own=$(awk -v w="${worst_own:--1e9}" -v d="$o" 'BEGIN { print (d > w) ? d : w }') ;;
                *) t="-" ;;
            esac
            printf '| %s | %.2f | %s | %s | %s | %s | %s |\n' "$(col "$id" 3 | head -1)" "$c" "$d" "$(diff_hdr "$c")" "$(diff_own "$c" "$ok_cpu")" "$(hitrate "$id")" "${t#*: }"
        done
        [ -z "$worst" ] || targets+=("| cached gate path ≤ 1 µs over no-auth (worst gate row) | $(printf '%+.2f' "$worst") µs | $(verdict "$worst" 1) |")
        # The same, less nginx's own cost of receiving the token (the "token sent" row): the
        # module's part and add_header's.
        [ -z "$worst_hdr" ] || targets+=("| cached gate path ≤ 1 µs over no-auth with the same token (worst gate row) | $(printf '%+.2f' "$worst_hdr") µs | $(verdict "$worst_hdr" 1) |")
        # ... and less add_header's own cost too: the module's work alone.
        [ -z "$worst_own" ] || targets+=("| cached gate path ≤ 1 µs over nginx alone answering the same (worst gate row) | $(printf '%+.2f' "$worst_own") µs | $(verdict "$worst_own" 1) |")
    fi

    if [ "$PERF" = 1 ]; then
        echo
        echo "### The module's own CPU (PERF=1)"
        echo
        echo "\`perf record -e cpu-clock -F 999\` on the worker during the measured run: the module's share of the"
        echo "worker's samples, and that share of the row's CPU µs/req. Sampling costs the sampled rows CPU and latency:"
        echo "judge the targets from a run without PERF=1."
        echo
        echo "| row | module share % | server CPU µs/req | module µs/req |"
        echo "|---|---:|---:|---:|"
        for id in $(awk -F'\t' '$15 != "" && $15 != "-" && !seen[$2]++ { print $2 }' "$results"); do
            sh=$(col "$id" 15 | median); c=$(col "$id" 11 | median)
            printf '| %s | %.1f | %.2f | %.2f |\n' "$(col "$id" 3 | head -1)" "$sh" "$c" "$(awk -v s="$sh" -v c="$c" 'BEGIN { print s * c / 100 }')"
        done
    fi

    echo
    echo "### Cache memory"
    echo
    echo "A fresh worker (conf/fill.conf: \`auth_jwt_rs_cache $CACHE_FILL\`, so the cache holds every token) serves 2 s of"
    echo "no-auth traffic (RSS before), then $CACHE_FILL distinct valid RS256 tokens ($claims_many bytes of claims), each once"
    echo "(RSS after); then every token once more, which must all be hits. Done once with \`auth_jwt_rs_cache off\`"
    echo "(the allocator's own growth). Bytes per entry = RSS delta / $CACHE_FILL; net = less the cache-off row's delta."
    echo "Target: ≤ 1 KB (1024 B) per entry."
    echo
    echo "| gate RS256 | distinct tokens | requests | non-2xx | misses | second pass hits | RSS before MB | RSS after MB | delta MB | B/entry | net B/entry |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${fill_rows[@]}"
    [ -z "$fill_net" ] || targets+=("| cache memory ≤ 1 KB per entry ($claims_many B of claims) | $fill_raw B raw, $fill_net B net | $(verdict "$fill_net" 1024) |")

    if [ ${#targets[@]} -gt 0 ]; then
        echo
        echo "### Targets (issue 14)"
        echo
        echo "| target | this run | |"
        echo "|---|---:|---|"
        printf '%s\n' "${targets[@]}"
    fi
} > "$report"
echo
cat "$report"
log "saved $report (wrk outputs: KEEP=1 keeps $prefix/logs)"

if [ "$MICRO" = 1 ]; then
    log "micro-benchmark (bench/micro/run.sh)"
    nginx_stop
    bench/micro/run.sh
fi
