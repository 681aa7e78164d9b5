#!/usr/bin/env node
// Development OpenID Connect provider for the consent portal, configured like ID-porten
// (plus Maskinporten-like client_credentials tokens for machine clients).
// DEV ONLY: plain http on loopback, in-memory storage, keys generated at every start,
// open dynamic client registration. Never expose it beyond 127.0.0.1.
//
//   node server.js [--exit-with-stdin]
//
// See README.md for env vars, clients, scopes and the login_hint automation.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Keep stdout for the single IDP_READY line: oidc-provider prints notices with
// console.info, so route console.log/info to stderr. Redact anything that looks like a
// pid (11 digits) from our own diagnostics.
const redact = (v) => (typeof v === 'string' ? v.replace(/\d{11}/g, '[pid]') : v);
console.log = (...a) => console.error(...a.map(redact));
console.info = console.log;

// Lifecycle first, so a signal or stdin EOF during the (slowish) startup also exits cleanly.
let server;
let shuttingDown = false;
function shutdown(code = 0) {
  if (shuttingDown) return;
  shuttingDown = true;
  if (server) {
    server.close();
    server.closeAllConnections?.();
  }
  process.exit(code);
}
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
if (process.argv.includes('--exit-with-stdin')) {
  // A parent (e.g. a test binary) that spawned us with a piped stdin: its exit closes the
  // pipe, and we follow.
  process.stdin.on('end', () => shutdown(0));
  process.stdin.on('error', () => shutdown(0));
  process.stdin.on('close', () => shutdown(0));
  process.stdin.resume();
}

const { default: Provider, interactionPolicy, errors } = await import('oidc-provider');

// ---------------------------------------------------------------- configuration (env)

const HOST = '127.0.0.1';
const envPort = process.env.IDP_PORT ?? '9090';
if (!/^\d+$/.test(envPort) || Number(envPort) > 65535) {
  console.error(`IDP_PORT must be a port number (0 = pick a free one), got ${JSON.stringify(envPort)}`);
  process.exit(2);
}
const PERSONS_FILE = process.env.IDP_PERSONS
  || join(dirname(fileURLToPath(import.meta.url)), 'persons.json');
const PORTAL_SECRET = process.env.IDP_PORTAL_CLIENT_SECRET || 'dev-portal-secret';
const list = (v) => (v || '').split(',').map((s) => s.trim()).filter(Boolean);
const PORTAL_REDIRECT_URIS = list(process.env.PORTAL_REDIRECT_URIS ?? 'http://127.0.0.1:8080/auth/callback');
const PORTAL_POST_LOGOUT_REDIRECT_URIS = list(process.env.PORTAL_POST_LOGOUT_REDIRECT_URIS);
const API_AUDIENCE = process.env.IDP_API_AUDIENCE || 'urn:consent-portal:api';
const OTHER_AUDIENCE = 'urn:example:some-other-api';

const ACR_VALUES = ['idporten-loa-substantial', 'idporten-loa-high'];
const DEFAULT_ACR = 'idporten-loa-high';
const API_SCOPES = ['consent:read', 'access-log:write', 'feed:read', 'child-restrictions:write', 'data-requests:handle'];
const AMR = ['TestID'];

// --------------------------------------------------------------------------- persons

function loadPersons(file) {
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  if (doc.version !== 1 || !Array.isArray(doc.persons)) {
    throw new Error(`${file}: expected {"version":1,"persons":[...]}`);
  }
  return doc.persons;
}

let persons;
try {
  persons = loadPersons(PERSONS_FILE);
} catch (e) {
  console.error(`cannot read persons file: ${e.message}`);
  process.exit(2);
}

// sub is a stable pseudonym of the pid (same pid -> same sub across restarts), never the pid.
const subFor = (pid) => createHash('sha256').update(`consent-portal-dev-idp:sub:${pid}`).digest('base64url');
const personsByPid = new Map(persons.map((p) => [p.pid, p]));
const personsBySub = new Map(persons.map((p) => [subFor(p.pid), p]));

/** The acr to use: the first requested acr_values entry if supported, else idporten-loa-high. */
function targetAcr(acrValues) {
  const first = String(acrValues ?? '').split(' ').find(Boolean);
  return ACR_VALUES.includes(first) ? first : DEFAULT_ACR;
}

// ------------------------------------------------------------------------------ keys

function generateSigningKey(alg) {
  const { privateKey } = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  // kid = RFC 7638 JWK thumbprint (required members in lexicographic order).
  const members = jwk.kty === 'EC'
    ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
    : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  const kid = createHash('sha256').update(JSON.stringify(members)).digest('base64url');
  return { ...jwk, kid, alg, use: 'sig' };
}

// ------------------------------------------------------------------------- clients

const serviceClient = (id, scope) => ({
  client_id: id,
  client_secret: `${id}-secret`,
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  scope,
});

const clients = [
  {
    client_id: 'consent-portal',
    client_secret: PORTAL_SECRET,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'ES256',
    redirect_uris: PORTAL_REDIRECT_URIS,
    post_logout_redirect_uris: PORTAL_POST_LOGOUT_REDIRECT_URIS,
  },
  serviceClient('dev-service-reader', 'consent:read'),
  serviceClient('dev-service-writer', 'consent:read access-log:write'),
  serviceClient('dev-service-feed', 'consent:read feed:read'),
  // Every machine scope: the contract tests (schemathesis) drive all machine endpoints with it.
  serviceClient('dev-service-contract', 'consent:read access-log:write feed:read child-restrictions:write data-requests:handle'),
  // The responsible organisation's case handling of data-subject requests.
  serviceClient('dev-service-privacy', 'data-requests:handle'),
  // A record holder that follows the changes by webhook.
  serviceClient('dev-service-records', 'feed:read'),
  serviceClient('dev-service-other-audience', 'consent:read'),
  // A health personnel system (e.g. a school health service's record) that registers children's
  // refusals and denials on weighty reasons.
  serviceClient('dev-service-clinic', 'consent:read child-restrictions:write'),
  // Its tokens live 1 second, so tests can present a genuinely expired token.
  serviceClient('dev-service-shortlived', 'consent:read'),
];

/** The one resource (audience) a client may get access tokens for. */
const audienceFor = (client) => (client?.clientId === 'dev-service-other-audience' ? OTHER_AUDIENCE : API_AUDIENCE);

// ------------------------------------------------------------------ interaction policy

const { Check } = interactionPolicy;
const policy = interactionPolicy.base();
const loginPrompt = policy.get('login');
// Re-authenticate (instead of silently reusing the SSO session) when the request names a
// different person via login_hint, or asks for a different level than the session has.
// Skipped right after a login so a form choice that differs from the request cannot loop.
loginPrompt.checks.add(new Check('login_hint_changed', 'login_hint does not match the authenticated End-User', 'login_required', (ctx) => {
  const { oidc } = ctx;
  if (oidc.result?.login || !oidc.session.accountId || oidc.params.login_hint === undefined) {
    return Check.NO_NEED_TO_PROMPT;
  }
  return subFor(oidc.params.login_hint) === oidc.session.accountId
    ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
}));
loginPrompt.checks.add(new Check('acr_changed', 'requested acr differs from the session acr', 'login_required', (ctx) => {
  const { oidc } = ctx;
  if (oidc.result?.login || !oidc.session.accountId) return Check.NO_NEED_TO_PROMPT;
  return oidc.session.acr === targetAcr(oidc.params.acr_values)
    ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
}));

// --------------------------------------------------------------------- provider

/** Auto-consent: extend (or create) the client's grant with everything requested. */
async function loadExistingGrant(ctx) {
  const { oidc } = ctx;
  const accountId = oidc.account.accountId;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (grant && grant.accountId !== accountId) grant = undefined;
  grant ||= new oidc.provider.Grant({ accountId, clientId: oidc.client.clientId });
  const scopes = [...oidc.requestParamOIDCScopes];
  if (scopes.length) grant.addOIDCScope(scopes.join(' '));
  const claims = [...oidc.requestParamClaims];
  if (claims.length) grant.addOIDCClaims(claims);
  for (const [indicator, server] of Object.entries(oidc.resourceServers)) {
    const rs = [...oidc.requestParamScopes].filter((s) => server.scopes.has(s));
    if (rs.length) grant.addResourceScope(indicator, rs.join(' '));
  }
  await grant.save();
  return grant;
}

function buildConfiguration(keys) {
  return {
    clients,
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      // acr is only put in the ID token when acr_values is (defaulted to be) requested.
      default_acr_values: [DEFAULT_ACR],
    },
    jwks: { keys },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    responseTypes: ['code'],
    // API scopes must be listed here so client metadata `scope` can allow-list them
    // (oidc-provider rejects client `scope` values it does not know).
    scopes: ['openid', 'profile', ...API_SCOPES],
    claims: {
      // amr must be listed to be supported at all; acr/amr values come from the login result.
      openid: ['sub', 'pid', 'amr'],
      profile: ['locale'],
    },
    conformIdTokenClaims: false,
    acrValues: ACR_VALUES,
    pkce: { required: () => true },
    subjectTypes: ['public'],
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      // The resource server's lifetime wins (1 s for dev-service-shortlived).
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 300,
      Grant: 14 * 24 * 3600,
      IdToken: 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
    },
    async findAccount(_ctx, sub) {
      const person = personsBySub.get(sub);
      if (!person) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { sub, pid: person.pid, locale: 'nb' };
        },
      };
    },
    loadExistingGrant,
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Dev IdP error</title></head>
<body><h1>${esc(out.error)}</h1><p>${esc(out.error_description)}</p></body></html>`;
    },
    interactions: {
      policy,
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true, initialAccessToken: false },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Only client_credentials requests default to an API audience; the code flow keeps
        // an opaque access token for the userinfo endpoint unless `resource` is requested.
        async defaultResource(ctx, client, oneOf) {
          if (oneOf) return oneOf;
          if (ctx.oidc.params?.grant_type === 'client_credentials') return audienceFor(client);
          return undefined;
        },
        useGrantedResource: () => true,
        async getResourceServerInfo(_ctx, resourceIndicator, client) {
          if (resourceIndicator !== audienceFor(client)) {
            throw new errors.InvalidTarget('resource not allowed for this client');
          }
          return {
            scope: API_SCOPES.join(' '),
            audience: resourceIndicator,
            accessTokenFormat: 'jwt',
            accessTokenTTL: client?.clientId === 'dev-service-shortlived' ? 1 : 300,
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
  };
}

// ----------------------------------------------------------------- interaction UI

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

function send(res, status, body, type = 'text/html; charset=utf-8') {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

function loginPage(uid, details, acr, note) {
  const rows = persons.map((p) => `
      <tr${p.deceased ? ' class="dead"' : ''}>
        <td>${esc(p.given_name)} ${esc(p.family_name)}</td>
        <td><code>${esc(p.pid)}</code></td>
        <td>${esc(p.birth_date)}</td>
        <td>${esc(p.description)}</td>
        <td><button type="submit" name="pid" value="${esc(p.pid)}">Log in</button></td>
      </tr>`).join('');
  const options = ACR_VALUES.map((v) => `<option value="${v}"${v === acr ? ' selected' : ''}>${v}</option>`).join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Dev IdP - log in</title>
<style>
  body { font-family: sans-serif; margin: 2em; }
  table { border-collapse: collapse; }
  td, th { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
  tr.dead td { color: #777; }
  .note { background: #ffe; border: 1px solid #cc9; padding: .5em; }
</style>
</head>
<body>
<h1>Development IdP (ID-porten look-alike)</h1>
<p>Client <code>${esc(details.params.client_id)}</code> asks you to log in. Synthetic test persons only.</p>
${note ? `<p class="note">${esc(note)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
  <p><label>Security level (acr): <select name="acr">${options}</select></label></p>
  <table>
    <tr><th>Name</th><th>Identity number</th><th>Born</th><th>Description</th><th></th></tr>${rows}
  </table>
</form>
<form method="post" action="/interaction/${esc(uid)}/abort"><p><button type="submit">Cancel</button></p></form>
</body>
</html>`;
}

async function readForm(req) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16384) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const epochNow = () => Math.floor(Date.now() / 1000);

async function finishLogin(provider, res, interaction, person, acr) {
  const accountId = subFor(person.pid);
  if (interaction.session?.accountId && interaction.session.accountId !== accountId) {
    // Logging in as someone else in the same browser: oidc-provider would answer with an
    // auto-submitting logout form (needs JavaScript). Drop the old session instead so a
    // redirect-following (GET-only) client still ends up at the redirect_uri.
    const old = interaction.session.cookie && await provider.Session.find(interaction.session.cookie);
    if (old) await old.destroy();
    delete interaction.session;
  }
  interaction.result = { login: { accountId, acr, amr: AMR, remember: true } };
  await interaction.save(interaction.exp - epochNow());
  res.statusCode = 303;
  res.setHeader('Location', interaction.returnTo);
  res.setHeader('Content-Length', '0');
  res.end();
}

async function finishConsent(provider, req, res, interaction) {
  const { prompt: { details }, params, session } = interaction;
  const grant = interaction.grantId
    ? await provider.Grant.find(interaction.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function handleInteraction(provider, req, res, uid, action) {
  const interaction = await provider.interactionDetails(req, res);
  if (interaction.uid !== uid) return send(res, 400, 'interaction mismatch\n', 'text/plain');
  const { prompt, params } = interaction;

  if (action === 'abort' && req.method === 'POST') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }

  if (prompt.name === 'consent') {
    return finishConsent(provider, req, res, interaction);
  }
  if (prompt.name !== 'login') {
    return send(res, 400, `unsupported prompt ${esc(prompt.name)}\n`, 'text/plain');
  }

  const wanted = targetAcr(params.acr_values);
  if (action === 'login' && req.method === 'POST') {
    const form = await readForm(req);
    const person = personsByPid.get(form.get('pid') ?? '');
    const acr = ACR_VALUES.includes(form.get('acr')) ? form.get('acr') : wanted;
    if (!person) return send(res, 400, loginPage(uid, interaction, acr, 'Unknown person; pick one from the list.'));
    return finishLogin(provider, res, interaction, person, acr);
  }
  if (action || req.method !== 'GET') return send(res, 405, 'method not allowed\n', 'text/plain');

  // Automation path: a known pid in login_hint logs in at once with the requested level.
  const hinted = params.login_hint !== undefined ? personsByPid.get(params.login_hint) : undefined;
  if (hinted) return finishLogin(provider, res, interaction, hinted, wanted);
  const note = params.login_hint !== undefined ? 'The login_hint in the request is not a person in the fixture file.' : '';
  return send(res, 200, loginPage(uid, interaction, wanted, note));
}

// ------------------------------------------------------------------------- server

const INTERACTION_PATH = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|abort))?$/;
let provider;
let providerCallback;

server = createServer(async (req, res) => {
  if (!providerCallback) return send(res, 503, 'starting\n', 'text/plain');
  const path = (req.url || '/').split('?')[0];
  const m = INTERACTION_PATH.exec(path);
  if (!m) return providerCallback(req, res);
  try {
    await handleInteraction(provider, req, res, m[1], m[2]);
  } catch (err) {
    const status = err.status || err.statusCode || 500;
    if (status >= 500) console.error(`interaction error: ${redact(err.message)}`);
    if (!res.headersSent) {
      send(res, status, `${esc(err.name)}: ${esc(err.error_description || err.message)}\n`, 'text/plain; charset=utf-8');
    } else {
      res.end();
    }
  }
  return undefined;
});

server.on('error', (err) => {
  console.error(`cannot listen on ${HOST}:${envPort}: ${err.message}`);
  process.exit(1);
});

server.listen(Number(envPort), HOST, () => {
  // Issuer is built from the bound port, so IDP_PORT=0 (pick a free port) works too.
  const { port } = server.address();
  const issuer = `http://${HOST}:${port}`;
  provider = new Provider(issuer, buildConfiguration([generateSigningKey('ES256'), generateSigningKey('RS256')]));
  provider.on('server_error', (_ctx, err) => console.error(`server_error: ${redact(err.message)}`));
  providerCallback = provider.callback();
  process.stdout.write(`IDP_READY ${issuer}\n`);
});
