#!/usr/bin/env node
// Checks a running dev IdP end to end. Starts nothing itself.
//
//   node selftest.js http://127.0.0.1:9090
//
// Uses the persons file beside this script (or IDP_PERSONS) to pick login_hint pids.
// Needs the static dev-service-* clients with their default secrets. Node built-ins only.
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const issuer = process.argv[2];
if (!issuer) {
  console.error('usage: node selftest.js <issuer-url>');
  process.exit(2);
}
const REDIRECT = 'http://127.0.0.1:18123/auth/callback';
const personsFile = process.env.IDP_PERSONS || join(dirname(fileURLToPath(import.meta.url)), 'persons.json');
const persons = JSON.parse(readFileSync(personsFile, 'utf8')).persons.filter((p) => !p.deceased);
const [alice, bob] = persons;

let passed = 0;
let failed = 0;
function check(name, cond, extra = '') {
  if (cond) passed += 1; else failed += 1;
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${name}${extra ? ` (${extra})` : ''}`);
}
const b64url = (buf) => Buffer.from(buf).toString('base64url');
const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const hidePid = (claims) => ({ ...claims, ...(claims.pid ? { pid: '<pid>' } : {}) });

/** Minimal path-aware cookie jar for a GET-only, redirect-by-hand client. */
class Jar {
  cookies = new Map();

  store(url, res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const pathAttr = attrs.find((a) => a.toLowerCase().startsWith('path='));
      const path = pathAttr ? pathAttr.slice(5) : '/';
      const expired = attrs.some((a) => /^expires=/i.test(a) && Date.parse(a.slice(8)) < Date.now());
      if (!value || expired) this.cookies.delete(`${name};${path}`);
      else this.cookies.set(`${name};${path}`, { name, value, path });
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    return [...this.cookies.values()]
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`).join('; ');
  }
}

async function go(jar, url, init = {}) {
  const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, cookie: jar.header(url) } });
  jar.store(url, res);
  return res;
}

/** Follows redirects with GET until the redirect_uri; returns its URL, or the last response. */
async function follow(jar, startUrl, max = 10) {
  let url = startUrl;
  for (let i = 0; i < max; i += 1) {
    const res = await go(jar, url);
    const loc = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !loc) return { res, url };
    const next = new URL(loc, url).href;
    if (next.startsWith(REDIRECT)) return { callback: new URL(next) };
    url = next;
  }
  throw new Error('too many redirects');
}

function decodeJwt(jwt) {
  const [h, p, s] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')), signed: `${h}.${p}`, sig: Buffer.from(s, 'base64url') };
}

function verifyJwt(jwt, jwks) {
  const t = decodeJwt(jwt);
  const jwk = jwks.keys.find((k) => k.kid === t.header.kid);
  if (!jwk) return false;
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  if (t.header.alg === 'ES256') return verify('sha256', Buffer.from(t.signed), { key, dsaEncoding: 'ieee-p1363' }, t.sig);
  if (t.header.alg === 'RS256') return verify('sha256', Buffer.from(t.signed), key, t.sig);
  return false;
}

async function token(clientId, secret, params) {
  const res = await fetch(disco.token_endpoint, {
    method: 'POST',
    headers: { authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  return { status: res.status, body: await res.json() };
}

function authUrl(client, { acr, loginHint, nonce, state, challenge }) {
  const u = new URL(disco.authorization_endpoint);
  u.search = new URLSearchParams({
    client_id: client.client_id,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: REDIRECT,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(acr ? { acr_values: acr } : {}),
    ...(loginHint ? { login_hint: loginHint } : {}),
  });
  return u.href;
}

/** One code flow; returns the ID token claims (or null). */
async function codeFlow(name, client, jar, { acr, person, tamperNonce }) {
  const verifier = b64url(randomBytes(32));
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = b64url(randomBytes(12));
  let nonce = b64url(randomBytes(12));
  let url = authUrl(client, { acr, loginHint: person.pid, nonce, state, challenge });
  if (tamperNonce) {
    const u = new URL(url);
    nonce = `${nonce}-modified`;
    u.searchParams.set('nonce', nonce);
    url = u.href;
  }
  const { callback, res } = await follow(jar, url);
  check(`${name}: redirects (GET only) to redirect_uri with code and state`, callback?.searchParams.get('code') && callback.searchParams.get('state') === state,
    callback ? '' : `stopped at HTTP ${res?.status}`);
  if (!callback) return null;
  check(`${name}: callback carries iss`, callback.searchParams.get('iss') === issuer);
  const code = callback.searchParams.get('code');
  const params = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
  const r = await token(client.client_id, client.client_secret, params);
  check(`${name}: token endpoint 200`, r.status === 200, r.status !== 200 ? JSON.stringify(r.body) : '');
  if (r.status !== 200) return null;
  const { header, payload } = decodeJwt(r.body.id_token);
  console.log(`     id_token header ${JSON.stringify(header)}`);
  console.log(`     id_token claims ${JSON.stringify(hidePid(payload))}`);
  check(`${name}: id_token signature verifies with JWKS`, verifyJwt(r.body.id_token, jwks));
  check(`${name}: alg ES256`, header.alg === 'ES256');
  check(`${name}: iss`, payload.iss === issuer);
  check(`${name}: aud = client_id`, payload.aud === client.client_id);
  check(`${name}: pid = login_hint`, payload.pid === person.pid);
  check(`${name}: sub is not the pid`, typeof payload.sub === 'string' && payload.sub !== person.pid);
  check(`${name}: acr = ${acr}`, payload.acr === acr, payload.acr);
  check(`${name}: nonce${tamperNonce ? ' (modified in URL)' : ''}`, payload.nonce === nonce);
  check(`${name}: amr`, Array.isArray(payload.amr) && payload.amr.length > 0);
  const again = await token(client.client_id, client.client_secret, params);
  check(`${name}: same code twice fails`, again.status === 400 && again.body.error === 'invalid_grant', JSON.stringify(again.body));
  return payload;
}

// ------------------------------------------------------------------------------ run

const disco = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
check('discovery issuer', disco.issuer === issuer, disco.issuer);
check('discovery jwks_uri', typeof disco.jwks_uri === 'string');
check('discovery registration_endpoint', typeof disco.registration_endpoint === 'string');
check('discovery code_challenge_methods_supported = [S256]', JSON.stringify(disco.code_challenge_methods_supported) === '["S256"]');
check('discovery acr_values_supported', ['idporten-loa-substantial', 'idporten-loa-high'].every((v) => disco.acr_values_supported?.includes(v)));
const jwks = await (await fetch(disco.jwks_uri)).json();
check('jwks has an ES256 key', jwks.keys.some((k) => k.kty === 'EC' && k.crv === 'P-256' && k.kid && !k.d));

const reg = await fetch(disco.registration_endpoint, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    redirect_uris: [REDIRECT],
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'ES256',
  }),
});
const client = await reg.json();
check('dynamic registration 201 with client_id + client_secret', reg.status === 201 && client.client_id && client.client_secret, `HTTP ${reg.status}`);

const jar = new Jar();
await codeFlow('flow substantial', client, jar, { acr: 'idporten-loa-substantial', person: alice });
await codeFlow('flow high (same cookies)', client, jar, { acr: 'idporten-loa-high', person: alice });
await codeFlow('flow other person (same cookies)', client, jar, { acr: 'idporten-loa-high', person: bob });
await codeFlow('flow modified nonce', client, new Jar(), { acr: 'idporten-loa-substantial', person: alice, tamperNonce: true });

{ // missing PKCE is refused
  const u = new URL(authUrl(client, { acr: 'idporten-loa-high', loginHint: alice.pid, nonce: 'n', state: 's', challenge: 'x' }));
  u.searchParams.delete('code_challenge');
  u.searchParams.delete('code_challenge_method');
  const res = await go(new Jar(), u.href);
  const loc = new URL(res.headers.get('location') || 'http://x/', u);
  check('authorization without PKCE is refused', loc.href.startsWith(REDIRECT) && loc.searchParams.get('error') === 'invalid_request', loc.searchParams.get('error_description') || '');
}

{ // form path: no login_hint -> HTML form; POST it
  const j = new Jar();
  const verifier = b64url(randomBytes(32));
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const { res, url } = await follow(j, authUrl(client, { acr: 'idporten-loa-substantial', nonce: 'n1', state: 'st1', challenge }));
  const html = res ? await res.text() : '';
  check('no login_hint shows the login form', res?.status === 200 && html.includes('<form') && html.includes(bob.pid));
  const post = await go(j, `${url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ pid: bob.pid, acr: 'idporten-loa-high' }),
  });
  const { callback } = await follow(j, new URL(post.headers.get('location'), url).href);
  const r = callback && await token(client.client_id, client.client_secret, {
    grant_type: 'authorization_code', code: callback.searchParams.get('code'), redirect_uri: REDIRECT, code_verifier: verifier,
  });
  const claims = r?.body.id_token && decodeJwt(r.body.id_token).payload;
  check('form login gives chosen person and acr', claims?.pid === bob.pid && claims?.acr === 'idporten-loa-high', JSON.stringify(claims && hidePid(claims)));
}

async function cc(name, clientId, scope, expect) {
  const r = await token(clientId, `${clientId}-secret`, { grant_type: 'client_credentials', scope });
  if (expect.error) {
    check(`${name}: refused with ${expect.error}`, r.status === 400 && r.body.error === expect.error, JSON.stringify(r.body));
    return;
  }
  check(`${name}: 200`, r.status === 200, JSON.stringify(r.body));
  if (r.status !== 200) return;
  const { header, payload } = decodeJwt(r.body.access_token);
  console.log(`     access_token header ${JSON.stringify(header)} claims ${JSON.stringify(payload)}`);
  check(`${name}: typ at+jwt, alg ES256, signature`, header.typ === 'at+jwt' && header.alg === 'ES256' && verifyJwt(r.body.access_token, jwks));
  check(`${name}: aud ${expect.aud}`, payload.aud === expect.aud, payload.aud);
  check(`${name}: scope "${expect.scope}"`, payload.scope === expect.scope, payload.scope);
  check(`${name}: iss, client_id, exp, iat, jti`, payload.iss === issuer && payload.client_id === clientId
    && payload.exp > payload.iat && typeof payload.jti === 'string');
}

await cc('cc reader consent:read', 'dev-service-reader', 'consent:read', { aud: 'urn:consent-portal:api', scope: 'consent:read' });
await cc('cc reader access-log:write', 'dev-service-reader', 'access-log:write', { error: 'invalid_scope' });
await cc('cc writer', 'dev-service-writer', 'consent:read access-log:write', { aud: 'urn:consent-portal:api', scope: 'consent:read access-log:write' });
await cc('cc feed', 'dev-service-feed', 'feed:read', { aud: 'urn:consent-portal:api', scope: 'feed:read' });
await cc('cc other audience', 'dev-service-other-audience', 'consent:read', { aud: 'urn:example:some-other-api', scope: 'consent:read' });
{
  const r = await token('dev-service-reader', 'wrong-secret', { grant_type: 'client_credentials', scope: 'consent:read' });
  check('cc wrong secret refused', r.status === 401 && r.body.error === 'invalid_client', JSON.stringify(r.body));
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
