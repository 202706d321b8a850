#!/usr/bin/env bash
# Builds the module and starts a demo on 127.0.0.1: nginx with the JWT gate on port 8080 in
# front of a sample backend on port 8081 that echoes the identity it receives.
# Stop it with: scripts/demo.sh stop
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
demo=$root/demo
if [ "${1:-}" = "stop" ]; then
  [ -f "$demo/logs/nginx.pid" ] && kill -QUIT "$(cat "$demo/logs/nginx.pid")" && echo "demo stopped"
  exit 0
fi
./scripts/build.sh
mkdir -p "$demo/conf/jwt" "$demo/logs"
[ -f "$demo/logs/nginx.pid" ] && kill -QUIT "$(cat "$demo/logs/nginx.pid")" 2>/dev/null && sleep 1
if [ ! -f "$demo/conf/jwt/demo.key" ]; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$demo/conf/jwt/demo.key" 2>/dev/null
  openssl pkey -in "$demo/conf/jwt/demo.key" -pubout -out "$demo/conf/jwt/demo.pub.pem"
fi
cat > "$demo/conf/nginx.conf" <<CONF
load_module $root/build/modules/ngx_http_auth_jwt_rs_module.so;
pid logs/nginx.pid;
error_log logs/error.log info;
events { worker_connections 256; }
http {
    access_log logs/access.log;
    auth_jwt_rs_claim_set \$user sub;
    auth_jwt_rs_claim_set \$email email;

    # The sample backend: shows what the gate passed on.
    server {
        listen 127.0.0.1:8081;
        location / {
            default_type text/plain;
            return 200 "hello \$http_x_user <\$http_x_email>\n";
        }
    }

    # The protected site.
    server {
        listen 127.0.0.1:8080;
        auth_jwt_rs on;
        auth_jwt_rs_realm "demo";
        auth_jwt_rs_token bearer cookie=access_token;
        auth_jwt_rs_key_file jwt/demo.pub.pem;
        auth_jwt_rs_algorithms RS256;

        location / {
            proxy_set_header X-User \$user;
            proxy_set_header X-Email \$email;
            proxy_set_header Authorization "";
            proxy_pass http://127.0.0.1:8081;
        }
        location = /health { auth_jwt_rs off; return 200 "ok\n"; }
    }
}
CONF

[ "$(id -u)" -eq 0 ] && sed -i '1a user root;' "$demo/conf/nginx.conf"
build/sbin/nginx -p "$demo/" -c conf/nginx.conf -t -q
build/sbin/nginx -p "$demo/" -c conf/nginx.conf
mint() { build/bin/jwt-mint --alg RS256 --key "$demo/conf/jwt/demo.key" "$@"; }
valid=$(mint --claims '{"sub":"alice","email":"alice@example.com"}' --iat-now --exp-in 3600)
expired=$(mint --claims '{"sub":"alice","email":"alice@example.com"}' --exp-in -60)
cat <<MSG

auth_jwt_rs demo running: http://127.0.0.1:8080 (JWT gate) -> http://127.0.0.1:8081 (backend)

Tokens (RS256, sub=alice; the first is valid for one hour, the second expired a minute ago):
  TOKEN=$valid
  EXPIRED=$expired

Try (paste the two lines above first):
  curl -i -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8080/     # 200 "hello alice <alice@example.com>"
  curl -i --cookie "access_token=\$TOKEN" http://127.0.0.1:8080/          # 200, token from a cookie
  curl -i -H "Authorization: Bearer \$EXPIRED" http://127.0.0.1:8080/   # 401 error="invalid_token" (expired)
  curl -i http://127.0.0.1:8080/                                        # 401 (no token)

More tokens: build/bin/jwt-mint --alg RS256 --key demo/conf/jwt/demo.key --claims '{"sub":"bob"}' --exp-in 600
Logs: demo/logs/error.log    Stop: scripts/demo.sh stop
MSG
