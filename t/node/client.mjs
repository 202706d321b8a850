// An OAuth client for the end-to-end tests: gets tokens from the provider (provider.mjs) over
// HTTP, the way a service or a web app does, and prints the token endpoint's JSON reply.
//
//   node client.mjs cc   --issuer URL --client ID [--scope S] [--resource URL]
//       client-credentials grant (secret "<ID>-secret")
//   node client.mjs code --issuer URL --client ID --redirect-uri URL --user U --password P
//                        [--scope S] [--resource URL]
//       authorization-code grant with PKCE: follows the provider's redirects, signs in on its
//       login form, takes the code from the redirect to --redirect-uri (which is never
//       contacted) and redeems it.

import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

const { positionals: [mode], values: opt } = parseArgs({
  allowPositionals: true,
  options: {
    issuer: { type: 'string' },
    client: { type: 'string' },
    scope: { type: 'string' },
    resource: { type: 'string' },
    'redirect-uri': { type: 'string' },
    user: { type: 'string' },
    password: { type: 'string' },
  },
});

function fail(msg) {
  console.error(`client.mjs: ${msg}`);
  process.exit(1);
}

const timeout = () => AbortSignal.timeout(10000);
const basic = `Basic ${Buffer.from(`${opt.client}:${opt.client}-secret`).toString('base64')}`;

async function discovery() {
  const r = await fetch(`${opt.issuer}/.well-known/openid-configuration`, { signal: timeout() });
  if (r.status !== 200) fail(`discovery: status ${r.status}`);
  return r.json();
}

async function token(meta, params) {
  const r = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
    signal: timeout(),
  });
  const text = await r.text();
  if (r.status !== 200) fail(`token endpoint: status ${r.status}: ${text}`);
  return text;
}

// A minimal cookie jar: the provider is one origin, so names are enough.
const jar = new Map();
function keepCookies(res) {
  for (const line of res.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const gone = !value || attrs.some((a) => /^\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(a));
    if (gone) jar.delete(name); else jar.set(name, value);
  }
}
const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

async function codeFlow(meta) {
  const verifier = randomBytes(32).toString('base64url');
  const auth = new URL(meta.authorization_endpoint);
  auth.search = new URLSearchParams({
    client_id: opt.client,
    response_type: 'code',
    redirect_uri: opt['redirect-uri'],
    scope: opt.scope ?? 'openid',
    state: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...(opt.resource ? { resource: opt.resource } : {}),
  });
  let url = auth.href;
  let init = {};
  for (let hop = 0; hop < 12; hop += 1) {
    const res = await fetch(url, {
      ...init, redirect: 'manual', signal: timeout(), headers: { ...init.headers, cookie: cookieHeader() },
    });
    keepCookies(res);
    init = {};
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location'), url);
      if (next.href.startsWith(opt['redirect-uri'])) {
        const code = next.searchParams.get('code');
        if (!code) fail(`redirect without code: ${next.search}`);
        return token(meta, {
          grant_type: 'authorization_code',
          code,
          redirect_uri: opt['redirect-uri'],
          code_verifier: verifier,
          ...(opt.resource ? { resource: opt.resource } : {}),
        });
      }
      url = next.href;
      continue;
    }
    const body = await res.text();
    const form = /<form method="post" action="([^"]+)"/.exec(body);
    if (res.status !== 200 || !form) fail(`unexpected reply ${res.status} at ${url}: ${body.slice(0, 300)}`);
    url = new URL(form[1], url).href;
    init = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: opt.user, password: opt.password }),
    };
  }
  return fail('too many redirects');
}

const meta = await discovery();
if (mode === 'cc') {
  process.stdout.write(await token(meta, {
    grant_type: 'client_credentials',
    ...(opt.scope ? { scope: opt.scope } : {}),
    ...(opt.resource ? { resource: opt.resource } : {}),
  }));
} else if (mode === 'code') {
  process.stdout.write(await codeFlow(meta));
} else {
  fail('usage: client.mjs cc|code --issuer URL --client ID ...');
}
