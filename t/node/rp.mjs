// The login endpoint of the browser test: a minimal OpenID Connect relying party in front of
// provider.mjs, as a login service in front of nginx's cookie SSO would be (nginx proxies
// /login and /callback of the app's origin here).
//
//   node rp.mjs --port N --issuer URL --app-origin URL --resource URL [--cookie NAME]
//
//   GET /login?rd=URL   starts an authorization-code login (client "web", PKCE S256) and
//                       remembers rd, which must be a URL of --app-origin
//   GET /callback       redeems the code, sets the session cookie (HttpOnly, SameSite=Lax)
//                       to the provider's access token and redirects to rd
//
// Prints "ready" on stdout once listening.

import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string' },
    issuer: { type: 'string' },
    'app-origin': { type: 'string' },
    resource: { type: 'string' },
    cookie: { type: 'string', default: 'session' },
  },
});
if (!opt.port || !opt.issuer || !opt['app-origin'] || !opt.resource) {
  console.error('usage: rp.mjs --port N --issuer URL --app-origin URL --resource URL');
  process.exit(2);
}

const CLIENT = 'web';
const redirectUri = `${opt['app-origin']}/callback`;
const meta = await (await fetch(`${opt.issuer}/.well-known/openid-configuration`)).json();
const pending = new Map();    // state -> { rd, verifier }

function reply(res, status, headers, body = '') {
  res.writeHead(status, { 'cache-control': 'no-store', 'content-type': 'text/plain', ...headers });
  res.end(body);
}

function login(res, url) {
  const rd = url.searchParams.get('rd') ?? '';
  if (!rd.startsWith(`${opt['app-origin']}/`)) {
    reply(res, 400, {}, 'rd must be a URL of the app\n');
    return;
  }
  const state = randomBytes(16).toString('base64url');
  const verifier = randomBytes(32).toString('base64url');
  pending.set(state, { rd, verifier });
  const auth = new URL(meta.authorization_endpoint);
  auth.search = new URLSearchParams({
    client_id: CLIENT,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid email orders:read',
    resource: opt.resource,
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  reply(res, 302, { location: auth.href });
}

async function callback(res, url) {
  const state = url.searchParams.get('state') ?? '';
  const login = pending.get(state);
  pending.delete(state);
  const code = url.searchParams.get('code');
  if (!login || !code) {
    reply(res, 400, {}, `login failed: ${url.searchParams.get('error') ?? 'unknown state'}\n`);
    return;
  }
  const r = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${CLIENT}:${CLIENT}-secret`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: login.verifier,
      resource: opt.resource,
    }),
    signal: AbortSignal.timeout(10000),
  });
  const tokens = await r.json();
  if (r.status !== 200 || !tokens.access_token) {
    reply(res, 502, {}, `token endpoint: ${r.status} ${tokens.error ?? ''}\n`);
    return;
  }
  reply(res, 302, {
    location: login.rd,
    'set-cookie': `${opt.cookie}=${tokens.access_token}; Path=/; HttpOnly; SameSite=Lax`,
  });
}

const server = createServer((req, res) => {
  const url = new URL(req.url, opt['app-origin']);
  if (req.method === 'GET' && url.pathname === '/login') {
    login(res, url);
  } else if (req.method === 'GET' && url.pathname === '/callback') {
    callback(res, url).catch((err) => reply(res, 502, {}, `callback: ${err.message}\n`));
  } else {
    reply(res, 404, {}, 'not found\n');
  }
});

const shutdown = () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
// The test that started this process stops it; should the test itself be killed, go too.
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) shutdown(); }, 500).unref();
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

server.listen(Number(opt.port), '127.0.0.1', () => console.log('ready'));
