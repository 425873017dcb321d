// The identity provider Kurslogg's OpenID Connect tests log in against: panva's
// oidc-provider (an OpenID Certified implementation), not a stand-in written for the tests.
// Only its login page is the tests' own: instead of a form for a person, the test posts
// who logs in (`POST /interaction/<uid>/login`, `login=<account>`) or refuses
// (`POST /interaction/<uid>/deny`).
//
//   node provider.mjs --client-id ID --client-secret S --redirect-uri URL [--unverified ACCOUNT]...
//
// Listens on a free port of 127.0.0.1 and prints `issuer http://127.0.0.1:<port>` when ready.
// An account's `sub` is `sub-<account>`, its `email` the account itself, verified unless
// named with --unverified.
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
    unverified: { type: 'string', multiple: true, default: [] },
  },
});

// A fresh signing key per run: Kurslogg must fetch it from the provider's JWKS.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' };

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: args['client-id'],
    client_secret: args['client-secret'],
    redirect_uris: [args['redirect-uri']],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  jwks: { keys: [signingKey] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['preferred_username'] },
  async findAccount(ctx, sub) {
    const email = sub.replace(/^sub-/, '');
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email,
          email_verified: !args.unverified.includes(email),
          preferred_username: email.split('@')[0],
        };
      },
    };
  },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => true },
  cookies: { keys: ['kurslogg-test-provider'] },
  // Tokens are short-lived in the tests as they would be in production.
  ttl: { AccessToken: 300, AuthorizationCode: 60, IdToken: 300, Interaction: 600, Session: 600, Grant: 600 },
});

async function formOf(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)(?:\/(login|deny))?$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const [, , action] = match;
  if (!action && ctx.method === 'GET') {
    ctx.body = { uid: details.uid, prompt: details.prompt.name, client_id: details.params.client_id };
    return undefined;
  }
  if (ctx.method !== 'POST') return next();
  let result;
  if (action === 'deny') {
    result = { error: 'access_denied', error_description: 'the person declined' };
  } else {
    const accountId = `sub-${(await formOf(ctx.req)).get('login')}`;
    const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    result = { login: { accountId }, consent: { grantId: await grant.save() } };
  }
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(returnTo);
  return undefined;
});

server.on('request', provider.callback());
console.log(`issuer ${issuer}`);
