#!/usr/bin/env python3
"""Regenerates the checked-in seed corpus fuzz/corpus/<target>/ (small files, one input each).

Sources: real tokens minted with build/bin/jwt-mint from the t/keys fixtures (run
scripts/build.sh first), the RFC 7515 Appendix A and RFC 7520/8037/7797 examples from
../shared/vectors, and hand-written edge cases (caps, escapes, bad base64url, cookies).
Usage: python3 fuzz/seeds/make-corpus.py   (from the repository root)
"""
import base64
import hashlib
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
VECTORS = os.path.join(ROOT, "..", "shared", "vectors")
KEYS = os.path.join(ROOT, "t", "keys")
MINT = os.path.join(ROOT, "build", "bin", "jwt-mint")
EXP = 4102444800  # 2100-01-01: seeds never expire
MAX_JSON_DEPTH, MAX_CLAIMS, MAX_HEADER_MEMBERS = 32, 256, 32


def b64(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def mint(alg, key_args, claims, header=None, kid=None):
    cmd = [MINT, "--alg", alg] + key_args + ["--claims", json.dumps(claims, separators=(",", ":"))]
    if kid:
        cmd += ["--kid", kid]
    if header:
        cmd += ["--header", header]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def key(name):
    return ["--key", os.path.join(KEYS, name)]


SECRET = ["--secret-file", os.path.join(KEYS, "hs.secret")]
CLAIMS = {"sub": "alice", "iss": "https://idp.example.com", "aud": ["api", "web"], "exp": EXP,
          "iat": 1700000000, "scope": "read write", "realm_access": {"roles": ["admin", "dev"]},
          "https://example.com/roles": ["r1"], "email": "alice@example.com"}

tokens = []
if os.access(MINT, os.X_OK):
    tokens += [
        mint("HS256", SECRET, CLAIMS),
        mint("HS384", SECRET, {"sub": "bob", "exp": EXP}),
        mint("HS512", SECRET, {"sub": "carol", "exp": EXP, "nbf": 1700000000}),
        mint("HS256", SECRET, {"exp": EXP}, kid="hmac1"),
        mint("HS256", SECRET, {"sub": "x", "exp": EXP}, header='{"alg":"HS256","typ":"JWT","cty":"JWT"}'),
        mint("RS256", key("rsa.key"), CLAIMS, kid="rsa1"),
        mint("ES256", key("ec256.key"), CLAIMS, kid="ec1"),
        mint("PS256", key("rsa2.key"), {"sub": "pss", "exp": EXP}),
        mint("RS256", key("rsa2.key"), {"sub": "nokid", "exp": EXP}),
        mint("EdDSA", key("ed25519.key"), {"sub": "ed", "exp": EXP}),
        # at the caps
        mint("HS256", SECRET, dict({"exp": EXP}, **{f"c{i}": i for i in range(1, MAX_CLAIMS)})),
        mint("HS256", SECRET, {"exp": EXP, "deep": json.loads("[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1))}),
        # control characters in claims
        mint("HS256", SECRET, {"exp": EXP, "sub": "a\r\nX-Evil: 1", "n": "\u0000"}),
    ]
else:
    print(f"warning: {MINT} missing (run scripts/build.sh): no minted tokens", file=sys.stderr)

rfc = json.load(open(os.path.join(VECTORS, "rfc", "rfc7515_appendix_a.json")))
tokens += [v["compact"] for v in rfc["vectors"] if "compact" in v]
for sub in ("rfc7520_cookbook/jws", "rfc8037", "rfc7797"):
    d = os.path.join(VECTORS, sub)
    for f in sorted(os.listdir(d)):
        if f.endswith(".json"):
            text = open(os.path.join(d, f)).read()
            for word in text.replace('"', " ").split():
                if word.count(".") == 2 and word.startswith("eyJ") and len(word) < 4096:
                    tokens.append(word)

hs_hdr = b64('{"alg":"HS256"}')
edge = [
    "", ".", "..", "...", "a.b.c", "e30.e30.", "e30..", hs_hdr + ".e30.", hs_hdr + ".e30.AAAA",
    b64('{"alg":"none"}') + "." + b64('{"sub":"x"}') + ".",
    b64('{"alg":"HS256","crit":["b64"],"b64":false}') + ".e30.AAAA",
    b64('{"alg":"HS256","kid":7}') + ".e30.AAAA",
    b64('{"alg":"HS256","jwk":{"kty":"oct","k":"AAAA"}}') + ".e30.AAAA",
    b64('{"alg":"HS256"') + ".e30.AAAA", b64("[1]") + ".e30.x", "Zm8=.e30.x", "Zh.e30.x",
    b64('{"alg":"HS256","x":"' + "\\\"" * 10 + '"}') + ".e30.x",
    b64("{" * (MAX_JSON_DEPTH + 1)) + ".e30.x",
    b64("{" + ",".join(f'"h{i}":{i}' for i in range(MAX_HEADER_MEMBERS + 1)) + "}") + ".e30.x",
    hs_hdr + "." + b64("[" * 200) + ".AAAA",
]
for t in tokens + edge:
    put("token_split", t)
    put("verify", b"\x01" + t.encode())
    put("credentials", b"\x00Bearer " + t.encode())

# verify, self-signed mode: \x00 HEADER \0 PAYLOAD
for h, p in [
    ('{"alg":"HS256"}', json.dumps(CLAIMS)),
    ('{"alg":"HS256","kid":"nope"}', '{"exp":%d}' % EXP),
    ('{"alg":"HS256","kid":"rsa1"}', "{}"),
    ('{"alg":"HS256","crit":["exp"]}', "{}"),
    ('{"alg":"HS256"}', "[" * (MAX_JSON_DEPTH + 1)),
    ('{"alg":"HS256"}', "{" + ",".join(f'"c{i}":{i}' for i in range(MAX_CLAIMS + 1)) + "}"),
    ('{"alg":"HS256"}', '{"a":"\\u0000\\ud800"}'),
    ('{"alg":"HS256"}', ""),
]:
    put("verify", b"\x00" + h.encode() + b"\x00" + p.encode())

# JSON documents (token_split also scans its input as decoded JSON)
docs = [json.dumps(CLAIMS), '{"a":"[{\\"}:"}', "{" * 40, "[" * 40 + "]" * 40, '{"a":1,"a":2}',
        '{"exp":1e400}', '{"exp":-0.0,"nbf":1.5e9,"iat":18446744073709551616}', " {} "]
for d in docs:
    put("token_split", d)

# claims: arbitrary-derived input; a plausible byte layout still helps as a start
for d in docs + [json.dumps({"aud": "api", "iss": "a", "exp": 5, "roles": ["a", 1, True, None]})]:
    put("claims", b"\x00" * 16 + b"realm_access.roles\x00has\x00admin\x00" + d.encode())

# key documents
for f in sorted(os.listdir(KEYS)):
    if f.endswith((".json", ".pem", ".crt", ".secret")) and "key" not in f:
        put("jwks", open(os.path.join(KEYS, f), "rb").read())
for f in ("rfc/rfc7517_appendix_a_keys.json", "rfc/rfc7515_a2_rsa_public.pem",
          "rfc/rfc7515_a3_ec_p256_public.pem", "rfc/rfc7515_a4_ec_p521_public.pem"):
    put("jwks", open(os.path.join(VECTORS, f), "rb").read())
for f in sorted(os.listdir(os.path.join(VECTORS, "rfc7520_cookbook", "jwk"))):
    put("jwks", open(os.path.join(VECTORS, "rfc7520_cookbook", "jwk", f), "rb").read())
for d in ['{"keys":[]}', '{"keys":[{"kty":"oct","k":"' + b64(b"x" * 32) + '"}]}',
          '{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}', '{"kty":"OKP","crv":"Ed25519","x":"AA"}',
          "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"]:
    put("jwks", d)

# credentials: first byte = length of the cookie name at the end
for c in [b"\x07session=abc.def.ghi; b=2session", b"\x01a=1;a=2a", b"\x01 a = v ;a",
          b"\x00bearer   x.y.z   ", b"\x00Basic dXNlcjpwYXNz", b"\x00Bearer", b"\x02s=\"q\";;sxs"]:
    put("credentials", c)

for t in sorted(os.listdir(CORPUS)):
    print(t, len(os.listdir(os.path.join(CORPUS, t))))
