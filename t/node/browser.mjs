// Drives the system's chromium (headless, through playwright-core) through the cookie-SSO
// login of t/browser.t and reports what the browser saw as JSON on stdout; the test asserts.
//
//   node browser.mjs CONFIG.json
//
// CONFIG: { app, start, start2, api, api2, other, bearer, expired, expiredAt, user, password,
//           profile, executable }
//   app       the app's origin; start / start2: a page path under the error_page 401 = @login
//             location and one under the auth_jwt_rs_login_url location
//   api, api2 paths fetched from the page (an API location; a path of the login_url location)
//   other     another origin whose API is called with a CORS preflight
//   bearer    an access token for that call; expired: a token the provider issued that has
//             expired by expiredAt (epoch seconds), set as the session cookie for the fetches
//   profile   a fresh directory for chromium's --user-data-dir

import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const out = {};

const context = await chromium.launchPersistentContext(cfg.profile, {
  executablePath: cfg.executable,
  headless: true,
  // playwright passes --user-data-dir=<profile> itself, and its own automation flags
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  timeout: 30000,
});
// should the test that started this driver be killed, close the browser and go too
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) context.close().finally(() => process.exit(1));
}, 500).unref();
try {
  context.setDefaultTimeout(15000);
  out.version = context.browser()?.version() ?? null;
  const page = context.pages()[0] ?? await context.newPage();

  // every response to a main-frame navigation, redirects included
  let chain = [];
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) {
      chain.push({ url: r.url(), status: r.status(), location: r.headers().location ?? null });
    }
  });
  const text = async (sel) => (await page.locator(sel).textContent())?.trim() ?? null;

  // 1. signed out: the navigation ends on the provider's login form
  chain = [];
  await page.goto(cfg.app + cfg.start);
  out.signedOut = { chain, url: page.url(), heading: await text('h1') };

  // 2. sign in: the provider redirects to the login endpoint, which sets the cookie and
  //    redirects back to the page first asked for
  chain = [];
  await page.fill('input[name=username]', cfg.user);
  await page.fill('input[name=password]', cfg.password);
  await Promise.all([
    page.waitForURL((u) => u.href === cfg.app + cfg.start, { waitUntil: 'load' }),
    page.click('button[type=submit]'),
  ]);
  out.signedIn = { chain, url: page.url(), who: await text('#who') };
  const cookies = await context.cookies(cfg.app);
  out.cookie = cookies.find((c) => c.name === 'session') ?? null;

  const pageFetch = (url, init) => page.evaluate(async ([u, i]) => {
    try {
      const r = await fetch(u, i);
      return {
        status: r.status,
        type: r.type,
        redirected: r.redirected,
        url: r.url,
        www: r.headers.get('www-authenticate'),
        reason: r.headers.get('x-reason'),
        location: r.headers.get('location'),
        body: await r.text(),
      };
    } catch (e) {
      return { error: String(e) };
    }
  }, [url, init ?? {}]);

  // 3. fetch() from the page with the session cookie
  out.apiFetch = await pageFetch(cfg.api);

  // 4. the same with an expired session cookie: a 401, never a redirect
  while (Date.now() / 1000 < cfg.expiredAt) await new Promise((r) => setTimeout(r, 100));
  await context.addCookies([{ name: 'session', value: cfg.expired, url: cfg.app, httpOnly: true, sameSite: 'Lax' }]);
  out.apiExpired = await pageFetch(cfg.api);
  out.apiExpiredManual = await pageFetch(cfg.api, { redirect: 'manual' });
  out.pageExpired = await pageFetch(cfg.api2);

  // 5. a navigation with the expired cookie under auth_jwt_rs_login_url: redirected to the
  //    login endpoint; the provider's session signs the user in again without the form
  chain = [];
  await page.goto(cfg.app + cfg.start2);
  out.relogin = { chain, url: page.url(), who: await text('#who') };

  // 6. a cross-origin call with a preflight (Authorization and a JSON body)
  const cors = (path) => pageFetch(cfg.other + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${cfg.bearer}`, 'content-type': 'application/json' },
    body: '{}',
  });
  out.cors = await cors('/api/items');
  out.corsNoMap = await cors('/nomap/items');
} finally {
  await context.close();
}

process.stdout.write(JSON.stringify(out));
