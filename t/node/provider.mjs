// A real OpenID provider for the end-to-end tests: oidc-provider (the certified Node.js
// OpenID Connect server) with a small configuration of its own, on 127.0.0.1 only.
//
//   node provider.mjs --port N --issuer URL --resource URL --key ALG:KID:PRIVATE.pem ...
//                     [--redirect-uri URL ...] [--log FILE]
//
// Every --key is a signing key of the provider (PKCS#8 PEM; ALG one of RS256, PS256, ES256,
// EdDSA); the first one signs ID tokens and the default client's access tokens. Restarting with
// other --key values on the same port and issuer is a key rotation.
//
// Clients (all with secret "<client_id>-secret", client_secret_basic):
//   svc         client_credentials; access tokens signed with the first key's alg
//   svc-<ALG>   the same, signed with ALG (one per --key alg)
//   svc-short   the same, access tokens valid for 1 s (to obtain a real expired token)
//   web         authorization code (PKCE S256), redirect URIs from --redirect-uri
// Access tokens for --resource are JWTs (RFC 9068, typ at+jwt) with the scopes
// "orders:read orders:write"; tokens of users also carry their email.
// Users: alice and bob, password "wonderland" (a login form at /interaction/<uid>).
//
// Prints "ready <issuer>" on stdout once listening. With --log, one line per request
// ("METHOD path status") is appended to FILE, so a test counts the JWKS fetches the IdP saw.

import { createPrivateKey } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import { Provider, errors } from 'oidc-provider';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string' },
    issuer: { type: 'string' },
    resource: { type: 'string' },
    key: { type: 'string', multiple: true, default: [] },
    'redirect-uri': { type: 'string', multiple: true, default: [] },
    log: { type: 'string' },
  },
});
if (!opt.port || !opt.issuer || !opt.resource || opt.key.length === 0) {
  console.error('usage: provider.mjs --port N --issuer URL --resource URL --key ALG:KID:PEM ...');
  process.exit(2);
}

const ALGS = new Set(['RS256', 'PS256', 'ES256', 'EdDSA']);
const keys = opt.key.map((spec) => {
  const [alg, kid, ...path] = spec.split(':');
  if (!ALGS.has(alg) || !kid || path.length === 0) throw new Error(`bad --key ${spec}`);
  const jwk = createPrivateKey(readFileSync(path.join(':'))).export({ format: 'jwk' });
  return { ...jwk, kid, alg, use: 'sig' };
});
const firstAlg = keys[0].alg;

const RESOURCE_SCOPES = 'orders:read orders:write';
const USERS = {
  alice: { email: 'alice@example.test' },
  bob: { email: 'bob@example.test' },
};
const PASSWORD = 'wonderland';

const cc = (clientId) => ({
  client_id: clientId,
  client_secret: `${clientId}-secret`,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: firstAlg,
});
const clients = [cc('svc'), cc('svc-short'), ...[...new Set(keys.map((k) => k.alg))].map((a) => cc(`svc-${a}`))];
if (opt['redirect-uri'].length) {
  clients.push({
    client_id: 'web',
    client_secret: 'web-secret',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: opt['redirect-uri'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: firstAlg,
  });
}

const provider = new Provider(opt.issuer, {
  clients,
  jwks: { keys },
  cookies: { keys: ['auth-jwt-rs-test-cookie-key'] },
  scopes: ['openid', 'email'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  pkce: { required: () => true },
  ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 3600, IdToken: 600, Interaction: 600, Session: 3600 },
  findAccount: async (_ctx, id) => (USERS[id]
    ? { accountId: id, claims: async () => ({ sub: id, email: USERS[id].email, email_verified: true }) }
    : undefined),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  extraTokenClaims: async (_ctx, token) => (token.accountId && USERS[token.accountId]
    ? { email: USERS[token.accountId].email }
    : undefined),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => opt.resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator, client) => {
        if (resourceIndicator !== opt.resource) throw new errors.InvalidTarget();
        const alg = /^svc-(RS256|PS256|ES256|EdDSA)$/.exec(client.clientId)?.[1] ?? firstAlg;
        return {
          scope: RESOURCE_SCOPES,
          audience: opt.resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: client.clientId === 'svc-short' ? 1 : 600,
          jwt: { sign: { alg } },
        };
      },
    },
  },
});

// The first-party test client: consent is given by the login itself.
async function consent(req, res, details) {
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  const d = details.prompt.details;
  if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
  if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

function loginPage(res, uid, message) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><title>Sign in</title><h1>Sign in to the test IdP</h1>
<p id="message">${message}</p>
<form method="post" action="/interaction/${uid}/login">
<label>User <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 4096) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

async function interaction(req, res, path) {
  const details = await provider.interactionDetails(req, res);
  const m = /^\/interaction\/[^/]+(\/login)?$/.exec(path);
  if (!m) {
    res.writeHead(404).end();
  } else if (m[1] && req.method === 'POST') {
    const form = await readForm(req);
    const user = form.get('username');
    if (!Object.hasOwn(USERS, user ?? '') || form.get('password') !== PASSWORD) {
      loginPage(res, details.uid, 'Wrong user or password.');
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: user } },
      { mergeWithLastSubmission: false });
  } else if (details.prompt.name === 'login') {
    loginPage(res, details.uid, '');
  } else if (details.prompt.name === 'consent') {
    await consent(req, res, details);
  } else {
    res.writeHead(400).end(`unexpected prompt ${details.prompt.name}`);
  }
}

const callback = provider.callback();
const server = createServer((req, res) => {
  const path = new URL(req.url, opt.issuer).pathname;
  if (opt.log) {
    // logged when the status line is written, so before the client can have the reply
    const writeHead = res.writeHead;
    res.writeHead = function logged(status, ...rest) {
      appendFileSync(opt.log, `${req.method} ${path} ${status}\n`);
      return writeHead.call(this, status, ...rest);
    };
  }
  if (path.startsWith('/interaction/')) {
    interaction(req, res, path).catch((err) => {
      console.error(`interaction: ${err}`);
      if (!res.headersSent) res.writeHead(400);
      res.end(String(err.message ?? err));
    });
    return;
  }
  callback(req, res);
});

provider.on('server_error', (_ctx, err) => console.error(`server_error: ${err.stack ?? err}`));

const shutdown = () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
// The test that started this process stops it; should the test itself be killed, go too.
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) shutdown(); }, 500).unref();
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

server.listen(Number(opt.port), '127.0.0.1', () => {
  console.log(`ready ${opt.issuer}`);
});
