// Tokens with scopes through the API: made by an admin with the secret shown once, listed without
// secrets, revoked at once (in every process on PostgreSQL), refused when expired; bad bodies named by
// field; the actor of every version and report; listings cut to what a token may pull; secrets never
// in logs, error bodies or reports, never read from a query string.
import { Writable } from 'node:stream';
import anyTest, { type TestFn } from 'ava';
import { dirEntries, makeImage, tarOf } from './helpers/archives.js';
import { ADMIN_TOKEN, startBerth, startPeer, type TestServer } from './helpers/server.js';

const test = anyTest as TestFn<{ berth: TestServer; logs: string[] }>;
const pgBase = process.env.BERTH_TEST_DATABASE_URL;

test.before(async (t) => {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  t.context.logs = logs;
  t.context.berth = await startBerth({ BERTH_LOG_LEVEL: 'info' }, { log: sink });
});
test.after.always(async (t) => {
  await t.context.berth?.close();
});

const bearer = (secret: string) => ({ Authorization: `Bearer ${secret}` });
const basic = (secret: string, user = 'anyone') => ({ Authorization: `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}` });

async function get(berth: TestServer, pathname: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers; text: string }> {
  const res = await fetch(`${berth.url}${pathname}`, { headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers, text };
}

async function importAs(berth: TestServer, secret: string, repo: string, tag: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${berth.url}/api/v1/repositories/${repo}/imports?tag=${tag}`, {
    method: 'POST',
    headers: { ...bearer(secret), 'Content-Type': 'application/x-tar' },
    body: new Uint8Array(await tarOf(dirEntries(makeImage()))),
  });
  return { status: res.status, body: await res.json() };
}

test('a token is made with its secret shown once, listed without it, works on /api and /v2, and is revoked at once', async (t) => {
  const { berth } = t.context;
  const made = await berth.api('POST', '/api/v1/tokens', { name: 'reader-1', scopes: [{ repositories: 'life/*', actions: ['pull'] }] });
  t.is(made.status, 201);
  t.regex(made.body.secret, /^berth_[A-Za-z0-9_-]{43}$/);
  t.is(made.headers.get('location'), `/api/v1/tokens/${made.body.id}`);
  t.is(made.headers.get('cache-control'), 'no-store');
  t.like(made.body, { name: 'reader-1', scopes: [{ repositories: 'life/*', actions: ['pull'] }], created_by: 'admin', expires_at: null, last_used_at: null, revoked_at: null });
  const secret: string = made.body.secret;

  const list = await get(berth, '/api/v1/tokens', bearer(ADMIN_TOKEN));
  t.is(list.status, 200);
  const listed = list.body.tokens.find((x: { name: string }) => x.name === 'reader-1');
  t.deepEqual(Object.keys(listed).sort(), ['created_at', 'created_by', 'expires_at', 'id', 'last_used_at', 'name', 'revoked_at', 'scopes']);
  t.false(list.text.includes(secret));

  t.is((await get(berth, '/api/v1/repositories', bearer(secret))).status, 200);
  t.is((await get(berth, '/v2/', basic(secret))).status, 200);
  t.is((await get(berth, '/v2/', basic(secret, ''))).status, 200);
  t.is((await get(berth, '/v2/_catalog', bearer(secret))).status, 200);
  // Basic on /api is not read; the secret with another prefix or cut short is nobody
  t.is((await get(berth, '/api/v1/repositories', basic(secret))).status, 401);
  t.is((await get(berth, '/api/v1/repositories', bearer(secret.slice(0, -1)))).status, 401);
  t.is((await get(berth, '/api/v1/repositories', bearer(`${secret}x`))).status, 401);

  const revoked = await berth.api('DELETE', `/api/v1/tokens/${made.body.id}`);
  t.is(revoked.status, 204);
  const after = await get(berth, '/api/v1/repositories', bearer(secret));
  t.is(after.status, 401);
  t.is(after.body.error.code, 'UNAUTHORIZED');
  const v2 = await get(berth, '/v2/', basic(secret));
  t.is(v2.status, 401);
  t.is(v2.headers.get('www-authenticate'), 'Basic realm="berth"');
  t.is(v2.body.errors[0].code, 'UNAUTHORIZED');
  t.is((await berth.api('DELETE', `/api/v1/tokens/${made.body.id}`)).status, 204, 'revoking again changes nothing');
  const listedAfter = (await berth.api('GET', '/api/v1/tokens')).body.tokens.find((x: { name: string }) => x.name === 'reader-1');
  t.truthy(listedAfter.revoked_at);
  const unknown = await berth.api('DELETE', '/api/v1/tokens/999999');
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, 'TOKEN_UNKNOWN');
  t.is((await berth.api('DELETE', '/api/v1/tokens/not-a-number')).body.error.code, 'TOKEN_UNKNOWN');
  // a name stays taken after its token is revoked: actors in the history stay unambiguous
  const again = await berth.api('POST', '/api/v1/tokens', { name: 'reader-1', scopes: [{ repositories: '*', actions: ['pull'] }] });
  t.is(again.status, 409);
  t.deepEqual(again.body.error.details, { field: 'name', name: 'reader-1' });
});

test('bad token bodies are 400 (a taken name 409) with the field named, and no token is made', async (t) => {
  const { berth } = t.context;
  await berth.token('taken', [{ repositories: '*', actions: ['pull'] }]);
  const ok = [{ repositories: 'team/*', actions: ['pull'] }];
  const cases: Array<[string, unknown, number, string, string | null]> = [
    ['unknown action', { name: 'x1', scopes: [{ repositories: 'team/*', actions: ['pull', 'write'] }] }, 400, 'BODY_INVALID', 'scopes[0].actions[1]'],
    ['no actions', { name: 'x1', scopes: [{ repositories: 'team/*', actions: [] }] }, 400, 'BODY_INVALID', 'scopes[0].actions'],
    ['malformed pattern', { name: 'x1', scopes: [ok[0], { repositories: 'team*', actions: ['pull'] }] }, 400, 'BODY_INVALID', 'scopes[1].repositories'],
    ['pattern with a middle star', { name: 'x1', scopes: [{ repositories: '*/app', actions: ['pull'] }] }, 400, 'BODY_INVALID', 'scopes[0].repositories'],
    ['upper-case pattern', { name: 'x1', scopes: [{ repositories: 'Team/*', actions: ['pull'] }] }, 400, 'BODY_INVALID', 'scopes[0].repositories'],
    ['pattern missing', { name: 'x1', scopes: [{ actions: ['pull'] }] }, 400, 'BODY_INVALID', 'scopes[0].repositories'],
    ['unknown scope field', { name: 'x1', scopes: [{ repositories: 'a', actions: ['pull'], tags: ['x'] }] }, 400, 'BODY_INVALID', 'scopes[0].tags'],
    ['empty scopes', { name: 'x1', scopes: [] }, 400, 'BODY_INVALID', 'scopes'],
    ['scopes not an array', { name: 'x1', scopes: { repositories: '*', actions: ['pull'] } }, 400, 'BODY_INVALID', 'scopes'],
    ['no name', { scopes: ok }, 400, 'BODY_INVALID', 'name'],
    ['bad name', { name: 'has space', scopes: ok }, 400, 'BODY_INVALID', 'name'],
    ['name too long', { name: 'n'.repeat(65), scopes: ok }, 400, 'BODY_INVALID', 'name'],
    ['taken name', { name: 'taken', scopes: ok }, 409, 'TOKEN_EXISTS', 'name'],
    ['the built-in admin name', { name: 'admin', scopes: ok }, 409, 'TOKEN_EXISTS', 'name'],
    ['expiry in the past', { name: 'x1', scopes: ok, expires_at: '2020-01-01T00:00:00Z' }, 400, 'BODY_INVALID', 'expires_at'],
    ['expiry not a time', { name: 'x1', scopes: ok, expires_at: 'tomorrow' }, 400, 'BODY_INVALID', 'expires_at'],
    ['expiry without a zone', { name: 'x1', scopes: ok, expires_at: '2099-01-01T00:00:00' }, 400, 'BODY_INVALID', 'expires_at'],
    ['unknown field', { name: 'x1', scopes: ok, secret: 'berth_mine' }, 400, 'BODY_INVALID', 'secret'],
    ['not JSON', '{', 400, 'BODY_INVALID', null],
  ];
  for (const [what, body, status, code, field] of cases) {
    const res = await berth.api('POST', '/api/v1/tokens', body);
    t.is(res.status, status, what);
    t.is(res.body.error.code, code, what);
    if (field !== null) t.is(res.body.error.details.field, field, what);
  }
  const names = (await berth.api('GET', '/api/v1/tokens')).body.tokens.map((x: { name: string }) => x.name);
  t.false(names.includes('x1'));
  const text = await fetch(`${berth.url}/api/v1/tokens`, { method: 'POST', headers: { ...bearer(ADMIN_TOKEN), 'Content-Type': 'text/plain' }, body: 'x' });
  t.is(text.status, 415);
});

test('only admin tokens manage tokens: a push token is 403 DENIED on every token route', async (t) => {
  const { berth } = t.context;
  const { id, secret } = await berth.token('pusher-tm', [{ repositories: '*', actions: ['pull', 'push', 'delete'] }]);
  const scoped = await berth.token('team-admin', [{ repositories: 'team/*', actions: ['admin'] }]);
  for (const s of [secret, scoped.secret]) {
    const list = await get(berth, '/api/v1/tokens', bearer(s));
    t.is(list.status, 403);
    t.is(list.body.error.code, 'DENIED');
    const make = await fetch(`${berth.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { ...bearer(s), 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'escalated', scopes: [{ repositories: '*', actions: ['admin'] }] }),
    });
    t.is(make.status, 403);
    t.is((await fetch(`${berth.url}/api/v1/tokens/${id}`, { method: 'DELETE', headers: bearer(s) })).status, 403);
  }
  t.is((await get(berth, '/api/v1/repositories', bearer(secret))).status, 200, 'the token was not revoked');
});

test('every version and every import or push report records the token that made it, and the lists show it', async (t) => {
  const { berth } = t.context;
  await berth.api('POST', '/api/v1/repositories', { name: 'actors/app' });
  const ci = await berth.token('ci-actors', [{ repositories: 'actors/*', actions: ['push', 'delete'] }]);
  const imported = await importAs(berth, ci.secret, 'actors/app', 'v1');
  t.is(imported.status, 201);
  t.is(imported.body.actor, 'ci-actors');
  const failed = await fetch(`${berth.url}/api/v1/repositories/actors/app/imports`, {
    method: 'POST',
    headers: { ...bearer(ci.secret), 'Content-Type': 'application/x-tar' },
    body: 'not a tar',
  });
  t.is(failed.status, 400);
  t.is(((await failed.json()) as { actor: string }).actor, 'ci-actors');
  const tagged = await fetch(`${berth.url}/api/v1/repositories/actors/app/tags/v2`, {
    method: 'PUT',
    headers: { ...bearer(ci.secret), 'Content-Type': 'application/json' },
    body: JSON.stringify({ digest: imported.body.manifests[0].digest }),
  });
  t.is(tagged.status, 201);
  t.is((await fetch(`${berth.url}/api/v1/repositories/actors/app/tags/v1`, { method: 'DELETE', headers: bearer(ci.secret) })).status, 200);

  const versions = (await berth.api('GET', '/api/v1/repositories/actors/app/versions')).body.versions;
  t.deepEqual(
    versions.map((v: { number: number; kind: string; actor: string }) => [v.number, v.kind, v.actor]),
    [
      [3, 'untag', 'ci-actors'],
      [2, 'tag', 'ci-actors'],
      [1, 'import', 'ci-actors'],
      [0, 'create', 'admin'],
    ],
  );
  t.is((await berth.api('GET', '/api/v1/repositories/actors/app/versions/1')).body.actor, 'ci-actors');
  const reports = (await berth.api('GET', '/api/v1/imports?repository=actors/app')).body.imports;
  t.deepEqual(reports.map((r: { status: string; actor: string }) => [r.status, r.actor]), [
    ['failed', 'ci-actors'],
    ['completed', 'ci-actors'],
  ]);
  t.is((await berth.api('GET', `/api/v1/imports/${imported.body.id}`)).body.actor, 'ci-actors');
});

test('/v2/_catalog, GET /api/v1/repositories and the report list show only what the token may pull', async (t) => {
  const { berth } = t.context;
  for (const name of ['seen/a', 'seen/b', 'seen/c', 'seenother', 'hidden/a', 'exact/one', 'exact/one-more']) {
    t.is((await berth.api('POST', '/api/v1/repositories', { name })).status, 201);
  }
  const shown = await importAs(berth, ADMIN_TOKEN, 'seen/a', 'v1');
  const hidden = await importAs(berth, ADMIN_TOKEN, 'hidden/a', 'v1');
  const reader = await berth.token('lister', [
    { repositories: 'seen/*', actions: ['pull'] },
    { repositories: 'exact/one', actions: ['push'] },
    { repositories: 'hidden/*', actions: ['delete'] },
  ]);
  const want = ['exact/one', 'seen/a', 'seen/b', 'seen/c'];
  const catalog = await get(berth, '/v2/_catalog', basic(reader.secret));
  t.deepEqual(catalog.body.repositories, want);
  const first = await get(berth, '/v2/_catalog?n=2', basic(reader.secret));
  t.deepEqual(first.body.repositories, ['exact/one', 'seen/a']);
  t.is(first.headers.get('link'), '</v2/_catalog?n=2&last=seen%2Fa>; rel="next"');
  const second = await get(berth, '/v2/_catalog?n=2&last=seen%2Fa', basic(reader.secret));
  t.deepEqual(second.body.repositories, ['seen/b', 'seen/c']);
  t.is(second.headers.get('link'), null);
  const listed = await get(berth, '/api/v1/repositories?limit=1000', bearer(reader.secret));
  t.deepEqual(listed.body.repositories.map((r: { name: string }) => r.name), want);
  const reports = await get(berth, '/api/v1/imports?limit=1000', bearer(reader.secret));
  const ids = reports.body.imports.map((r: { id: string }) => r.id);
  t.true(ids.includes(shown.body.id));
  t.false(ids.includes(hidden.body.id));
  t.true(reports.body.imports.every((r: { repository: string }) => want.includes(r.repository)));
  t.deepEqual((await get(berth, '/api/v1/imports?repository=hidden/a', bearer(reader.secret))).body.imports, []);
  const one = await get(berth, `/api/v1/imports/${hidden.body.id}`, bearer(reader.secret));
  t.is(one.status, 404);
  t.is(one.body.error.code, 'IMPORT_UNKNOWN');
  // a hidden repository's report reads exactly like an id that does not exist
  const unknown = await get(berth, `/api/v1/imports/00000000-0000-4000-8000-000000000000`, bearer(reader.secret));
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, one.body.error.code);
  t.is(unknown.body.error.message, one.body.error.message);
  t.is((await get(berth, `/api/v1/imports/${shown.body.id}`, bearer(reader.secret))).status, 200);
  const nothing = await berth.token('lists-nothing', [{ repositories: 'nowhere/*', actions: ['pull'] }]);
  t.deepEqual((await get(berth, '/v2/_catalog', basic(nothing.secret))).body.repositories, []);
  t.deepEqual((await get(berth, '/api/v1/repositories', bearer(nothing.secret))).body.repositories, []);
  const all = await get(berth, '/v2/_catalog', basic(ADMIN_TOKEN));
  t.true(want.every((n) => all.body.repositories.includes(n)) && all.body.repositories.includes('hidden/a'));
});

test('an expired token authenticates nothing', async (t) => {
  const { berth } = t.context;
  const expires = new Date(Date.now() + 6000).toISOString();
  const { secret } = await berth.token('short-lived', [{ repositories: '*', actions: ['pull'] }], expires);
  const listed = (await berth.api('GET', '/api/v1/tokens')).body.tokens.find((x: { name: string }) => x.name === 'short-lived');
  t.is(listed.expires_at, expires);
  t.is((await get(berth, '/v2/', basic(secret))).status, 200);
  await new Promise((resolve) => setTimeout(resolve, Date.parse(expires) - Date.now() + 50));
  t.is((await get(berth, '/v2/', basic(secret))).status, 401);
  t.is((await get(berth, '/api/v1/repositories', bearer(secret))).status, 401);
});

test('last_used_at is written on first use and not again within the minute', async (t) => {
  const { berth } = t.context;
  const { id, secret } = await berth.token('used', [{ repositories: '*', actions: ['pull'] }]);
  const lastUsed = async () => (await berth.api('GET', '/api/v1/tokens')).body.tokens.find((x: { id: number }) => x.id === id).last_used_at;
  t.is(await lastUsed(), null);
  const before = new Date().toISOString();
  t.is((await get(berth, '/v2/', basic(secret))).status, 200);
  const first = await lastUsed();
  t.truthy(first);
  t.true(first >= before);
  for (let i = 0; i < 5; i++) t.is((await get(berth, '/api/v1/repositories', bearer(secret))).status, 200);
  t.is(await lastUsed(), first);
});

test('a secret in a query string is never read', async (t) => {
  const { berth } = t.context;
  const { secret } = await berth.token('in-query', [{ repositories: '*', actions: ['admin'] }]);
  for (const param of ['token', 'access_token', 'password', 'auth']) {
    const q = `${param}=${encodeURIComponent(secret)}`;
    t.is((await get(berth, `/v2/_catalog?${q}`)).status, 401, param);
    t.is((await get(berth, `/api/v1/repositories?${q}`)).status, 401, param);
  }
  t.is((await get(berth, `/v2/_catalog?token=${secret}`, basic('berth_wrong'))).status, 401);
});

test('secrets never appear in logs, error bodies or reports', async (t) => {
  const { berth, logs } = t.context;
  await berth.api('POST', '/api/v1/repositories', { name: 'quiet/app' });
  const made = await berth.api('POST', '/api/v1/tokens', { name: 'quiet', scopes: [{ repositories: 'quiet/*', actions: ['push'] }] });
  const secret: string = made.body.secret;
  const bodies: string[] = [];
  const imported = await importAs(berth, secret, 'quiet/app', 'v1');
  bodies.push(JSON.stringify(imported.body));
  for (const [pathname, headers] of [
    ['/api/v1/repositories/quiet/app/versions', bearer(secret)],
    [`/api/v1/imports/${imported.body.id}`, bearer(secret)],
    ['/api/v1/tokens', bearer(secret)],
    ['/api/v1/repositories/elsewhere/versions', bearer(secret)],
    [`/v2/quiet/app/manifests/nope?token=${secret}`, basic(secret)],
    ['/v2/quiet/app/blobs/uploads/', basic(secret)],
    [`/v2/_catalog?token=${secret}`, {}],
    ['/api/v1/repositories', bearer(`${secret}x`)],
    ['/v2/', basic(`${secret.slice(0, -2)}zz`)],
  ] as Array<[string, Record<string, string>]>) {
    bodies.push((await get(berth, pathname, headers)).text);
  }
  const res = await fetch(`${berth.url}/api/v1/repositories/quiet/app/imports`, { method: 'POST', headers: { ...bearer(secret), 'Content-Type': 'application/x-tar' }, body: secret });
  bodies.push(await res.text());
  const secretPart = secret.slice('berth_'.length);
  for (const body of bodies) t.false(body.includes(secretPart));
  const logged = logs.join('');
  t.true(logged.includes('"request"'), 'the log was captured');
  t.false(logged.includes(secretPart));
  t.false(logged.includes(ADMIN_TOKEN));
});

const pgTest = pgBase ? test : test.skip;
pgTest(
  `${pgBase ? '' : '[PostgreSQL only: set BERTH_TEST_DATABASE_URL; SQLite is one process] '}a revocation holds at once in every process on the database`,
  async (t) => {
    const { berth } = t.context;
    const peer = await startPeer(berth, { BERTH_LOG_LEVEL: 'silent' });
    t.teardown(() => peer.close());
    const { id, secret } = await berth.token('everywhere', [{ repositories: '*', actions: ['pull'] }]);
    t.is((await fetch(`${peer.url}/v2/`, { headers: basic(secret) })).status, 200);
    t.is((await fetch(`${berth.url}/v2/`, { headers: basic(secret) })).status, 200);
    t.is((await fetch(`${peer.url}/api/v1/tokens/${id}`, { method: 'DELETE', headers: bearer(ADMIN_TOKEN) })).status, 204);
    t.is((await fetch(`${berth.url}/v2/`, { headers: basic(secret) })).status, 401);
    t.is((await fetch(`${peer.url}/v2/`, { headers: basic(secret) })).status, 401);
  },
);
