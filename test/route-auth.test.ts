// Every route of /api/v1, /v2 and the /ui pages, taken from the route tables themselves (apiRoutes,
// REGISTRY_ROUTES, uiRoutes),
// walked with tokens of each kind; the answers are the documented ones (DESIGN.md, "Auth: tokens with
// scopes"): no or wrong credentials → 401 (with WWW-Authenticate); a token that may not even pull the
// repository → 404 NAME_UNKNOWN; a token without the action → 403 DENIED; a token with exactly the
// action → the route's success. The action each route needs is written down here, apart from the
// tables: a route added to a table without a row here, or declaring another action, fails this test.
import { createHash, randomBytes } from 'node:crypto';
import anyTest, { type TestFn } from 'ava';
import { type Action, ACTIONS } from '../src/core/policy.js';
import { apiRoutes } from '../src/http/api/routes.js';
import { REGISTRY_ROUTES } from '../src/http/registry/routes.js';
import { uiRoutes } from '../src/http/ui/index.js';
import { dirEntries, type Image, makeImage, tarOf } from './helpers/archives.js';
import { ADMIN_TOKEN, startBerth, type TestServer } from './helpers/server.js';

const test = anyTest as TestFn<{ berth: TestServer }>;

test.before(async (t) => {
  t.context.berth = await startBerth();
});
test.after.always(async (t) => {
  await t.context.berth?.close();
});

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };

interface Req {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** A repository under walk/ holding one imported image tagged v1, with its import report. */
interface Repo {
  name: string;
  image: Image;
  importId: string;
}

interface Fixtures {
  /** a new repository, for requests that change what they touch */
  fresh(): Promise<Repo>;
  /** one repository every read shares */
  shared(): Promise<Repo>;
  /** a new upload session in a fresh repository: its path */
  session(): Promise<{ repo: Repo; path: string }>;
  unique(prefix: string): string;
}

interface Example {
  /** the action DESIGN.md gives this route */
  action: Action;
  /** whether the action is on a repository (a hidden one is 404 NAME_UNKNOWN) */
  onRepository: boolean;
  /** what a hidden repository answers instead of NAME_UNKNOWN (a report of one reads like an unknown id) */
  hiddenCode?: string;
  /** statuses that mean success for this route */
  ok: number[];
  request(f: Fixtures): Promise<Req>;
}

const json = (value: unknown) => ({ headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value) });

/** The /api/v1 routes, by "METHOD path" as the route table writes them. */
const API: Record<string, Example> = {
  'GET /api/v1/openapi.json': { action: 'pull', onRepository: false, ok: [200], request: async () => ({ method: 'GET', path: '/api/v1/openapi.json' }) },
  'POST /api/v1/repositories': {
    action: 'admin',
    onRepository: false,
    ok: [201],
    request: async (f) => ({ method: 'POST', path: '/api/v1/repositories', ...json({ name: f.unique('walk/new') }) }),
  },
  'GET /api/v1/repositories': { action: 'pull', onRepository: false, ok: [200], request: async () => ({ method: 'GET', path: '/api/v1/repositories' }) },
  'POST /api/v1/repositories/{name}/imports': {
    action: 'push',
    onRepository: true,
    ok: [201],
    request: async (f) => ({
      method: 'POST',
      path: `/api/v1/repositories/${(await f.fresh()).name}/imports?tag=v2`,
      headers: { 'Content-Type': 'application/x-tar' },
      body: await tarOf(dirEntries(makeImage())),
    }),
  },
  'GET /api/v1/repositories/{name}/versions': {
    action: 'pull',
    onRepository: true,
    ok: [200],
    request: async (f) => ({ method: 'GET', path: `/api/v1/repositories/${(await f.shared()).name}/versions` }),
  },
  'GET /api/v1/repositories/{name}/versions/{number}': {
    action: 'pull',
    onRepository: true,
    ok: [200],
    request: async (f) => ({ method: 'GET', path: `/api/v1/repositories/${(await f.shared()).name}/versions/1` }),
  },
  'POST /api/v1/repositories/{name}/preflight': {
    action: 'push',
    onRepository: true,
    ok: [200],
    request: async (f) => {
      const repo = await f.shared();
      return { method: 'POST', path: `/api/v1/repositories/${repo.name}/preflight`, ...json({ digests: [repo.image.configDigest] }) };
    },
  },
  ...Object.fromEntries(
    (['tags', 'manifests', 'blobs'] as const).map((part): [string, Example] => [
      `GET /api/v1/repositories/{name}/versions/{number}/${part}`,
      { action: 'pull', onRepository: true, ok: [200], request: async (f) => ({ method: 'GET', path: `/api/v1/repositories/${(await f.shared()).name}/versions/1/${part}` }) },
    ]),
  ),
  'GET /api/v1/repositories/{name}/tags': {
    action: 'pull',
    onRepository: true,
    ok: [200],
    request: async (f) => ({ method: 'GET', path: `/api/v1/repositories/${(await f.shared()).name}/tags` }),
  },
  'PUT /api/v1/repositories/{name}/tags/{tag}': {
    action: 'push',
    onRepository: true,
    ok: [201],
    request: async (f) => {
      const repo = await f.fresh();
      return { method: 'PUT', path: `/api/v1/repositories/${repo.name}/tags/v2`, ...json({ digest: repo.image.manifestDigest }) };
    },
  },
  'DELETE /api/v1/repositories/{name}/tags/{tag}': {
    action: 'delete',
    onRepository: true,
    ok: [200],
    request: async (f) => ({ method: 'DELETE', path: `/api/v1/repositories/${(await f.fresh()).name}/tags/v1` }),
  },
  'GET /api/v1/repositories/{name}': {
    action: 'pull',
    onRepository: true,
    ok: [200],
    request: async (f) => ({ method: 'GET', path: `/api/v1/repositories/${(await f.shared()).name}` }),
  },
  'DELETE /api/v1/repositories/{name}': {
    action: 'delete',
    onRepository: true,
    ok: [204],
    request: async (f) => ({ method: 'DELETE', path: `/api/v1/repositories/${(await f.fresh()).name}` }),
  },
  'GET /api/v1/imports': { action: 'pull', onRepository: false, ok: [200], request: async () => ({ method: 'GET', path: '/api/v1/imports' }) },
  'GET /api/v1/imports/{id}': {
    action: 'pull',
    onRepository: true,
    hiddenCode: 'IMPORT_UNKNOWN',
    ok: [200],
    request: async (f) => ({ method: 'GET', path: `/api/v1/imports/${(await f.shared()).importId}` }),
  },
  'POST /api/v1/orphans/cleanup': { action: 'admin', onRepository: false, ok: [200], request: async () => ({ method: 'POST', path: '/api/v1/orphans/cleanup' }) },
  'POST /api/v1/tokens': {
    action: 'admin',
    onRepository: false,
    ok: [201],
    request: async (f) => ({ method: 'POST', path: '/api/v1/tokens', ...json({ name: f.unique('walk-made'), scopes: [{ repositories: 'walk/*', actions: ['pull'] }] }) }),
  },
  'GET /api/v1/tokens': { action: 'admin', onRepository: false, ok: [200], request: async () => ({ method: 'GET', path: '/api/v1/tokens' }) },
  'DELETE /api/v1/tokens/{id}': {
    action: 'admin',
    onRepository: false,
    ok: [204],
    request: async (f) => {
      const res = await fetch(`${base}/api/v1/tokens`, {
        method: 'POST',
        headers: { ...admin, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: f.unique('walk-doomed'), scopes: [{ repositories: 'walk/*', actions: ['pull'] }] }),
      });
      return { method: 'DELETE', path: `/api/v1/tokens/${((await res.json()) as { id: number }).id}` };
    },
  },
};

/** The /v2 routes, by "METHOD kind" as REGISTRY_ROUTES writes them (HEAD is walked beside each GET). */
const V2: Record<string, Example> = {
  'GET base': { action: 'pull', onRepository: false, ok: [200], request: async () => ({ method: 'GET', path: '/v2/' }) },
  'GET catalog': { action: 'pull', onRepository: false, ok: [200], request: async () => ({ method: 'GET', path: '/v2/_catalog' }) },
  'GET manifest': {
    action: 'pull',
    onRepository: true,
    ok: [200],
    request: async (f) => ({ method: 'GET', path: `/v2/${(await f.shared()).name}/manifests/v1` }),
  },
  'PUT manifest': {
    action: 'push',
    onRepository: true,
    ok: [201],
    request: async (f) => {
      const repo = await f.fresh();
      return { method: 'PUT', path: `/v2/${repo.name}/manifests/v2`, headers: { 'Content-Type': repo.image.mediaType }, body: repo.image.manifest };
    },
  },
  'DELETE manifest': {
    action: 'delete',
    onRepository: true,
    ok: [202],
    request: async (f) => {
      const repo = await f.fresh();
      return { method: 'DELETE', path: `/v2/${repo.name}/manifests/${repo.image.manifestDigest}` };
    },
  },
  'GET blob': {
    action: 'pull',
    onRepository: true,
    ok: [200],
    request: async (f) => {
      const repo = await f.shared();
      return { method: 'GET', path: `/v2/${repo.name}/blobs/${repo.image.configDigest}` };
    },
  },
  // Berth does not delete single blobs (they go with orphan cleanup): the row answers 405 to whoever may delete.
  'DELETE blob': {
    action: 'delete',
    onRepository: true,
    ok: [405],
    request: async (f) => {
      const repo = await f.shared();
      return { method: 'DELETE', path: `/v2/${repo.name}/blobs/${repo.image.configDigest}` };
    },
  },
  'POST uploads': {
    action: 'push',
    onRepository: true,
    ok: [202],
    request: async (f) => ({ method: 'POST', path: `/v2/${(await f.fresh()).name}/blobs/uploads/` }),
  },
  'PATCH upload': {
    action: 'push',
    onRepository: true,
    ok: [202],
    request: async (f) => ({ method: 'PATCH', path: (await f.session()).path, headers: { 'Content-Type': 'application/octet-stream' }, body: randomBytes(100) }),
  },
  'PUT upload': {
    action: 'push',
    onRepository: true,
    ok: [201],
    request: async (f) => {
      const bytes = randomBytes(100);
      return { method: 'PUT', path: `${(await f.session()).path}?digest=${sha256(bytes)}`, headers: { 'Content-Type': 'application/octet-stream' }, body: bytes };
    },
  },
  'GET upload': { action: 'push', onRepository: true, ok: [204], request: async (f) => ({ method: 'GET', path: (await f.session()).path }) },
  'DELETE upload': { action: 'push', onRepository: true, ok: [204], request: async (f) => ({ method: 'DELETE', path: (await f.session()).path }) },
  'GET referrers': {
    action: 'pull',
    onRepository: true,
    ok: [200],
    request: async (f) => {
      const repo = await f.shared();
      return { method: 'GET', path: `/v2/${repo.name}/referrers/${repo.image.manifestDigest}` };
    },
  },
  'GET tags': { action: 'pull', onRepository: true, ok: [200], request: async (f) => ({ method: 'GET', path: `/v2/${(await f.shared()).name}/tags/list` }) },
};

let base = '';

function fixtures(berth: TestServer, prefix = 'r'): Fixtures {
  let n = 0;
  let shared: Promise<Repo> | undefined;
  const fresh = async (): Promise<Repo> => {
    const name = `walk/${prefix}-${++n}`;
    const created = await berth.api('POST', '/api/v1/repositories', { name });
    if (created.status !== 201) throw new Error(`creating ${name}: ${created.status}`);
    const image = makeImage({ layerCount: 1 });
    const imported = await berth.importRaw(name, await tarOf(dirEntries(image)), { tag: 'v1' });
    if (imported.status !== 201) throw new Error(`importing into ${name}: ${imported.status}`);
    return { name, image, importId: imported.body.id };
  };
  return {
    fresh,
    shared: () => (shared ??= fresh()),
    async session() {
      const repo = await fresh();
      const res = await fetch(`${berth.url}/v2/${repo.name}/blobs/uploads/`, { method: 'POST', headers: admin });
      if (res.status !== 202) throw new Error(`starting an upload: ${res.status}`);
      return { repo, path: res.headers.get('location')! };
    },
    unique: (prefix) => `${prefix}-${++n}`,
  };
}

/** A token's scopes: everything on walk/* except what includes `action` (lacking), or exactly `action` (exact). */
function scopesFor(kind: 'lacking' | 'exact', action: Action): Array<{ repositories: string; actions: Action[] }> {
  const includes: Record<Action, Action[]> = { pull: ['pull'], push: ['push', 'pull'], delete: ['delete'], admin: [...ACTIONS] };
  if (action === 'admin') return kind === 'exact' ? [{ repositories: '*', actions: ['admin'] }] : [{ repositories: '*', actions: ['pull', 'push', 'delete'] }];
  if (kind === 'exact') return [{ repositories: 'walk/*', actions: [action] }];
  return [{ repositories: 'walk/*', actions: ACTIONS.filter((granted) => granted !== 'admin' && !includes[granted].includes(action)) }];
}

type Kind = 'none' | 'wrong' | 'other' | 'lacking' | 'exact';

interface Expected {
  status: number[];
  code?: string;
}

function expected(example: Example, kind: Kind): Expected {
  if (kind === 'none' || kind === 'wrong') return { status: [401], code: 'UNAUTHORIZED' };
  if (kind === 'exact') return { status: example.ok };
  if (kind === 'other') {
    if (example.onRepository) return { status: [404], code: example.hiddenCode ?? 'NAME_UNKNOWN' };
    return example.action === 'admin' ? { status: [403], code: 'DENIED' } : { status: example.ok };
  }
  // lacking: without pull, the repository is hidden; a route on no repository needs only admin
  if (!example.onRepository) return example.action === 'admin' ? { status: [403], code: 'DENIED' } : { status: example.ok };
  return example.action === 'pull' ? { status: [404], code: example.hiddenCode ?? 'NAME_UNKNOWN' } : { status: [403], code: 'DENIED' };
}

test('every route of /api/v1 and /v2 answers each kind of token as documented', async (t) => {
  const { berth } = t.context;
  base = berth.url;
  const f = fixtures(berth);

  // The rows to walk come from the route tables; each must have its documented action written here.
  const walk: Array<{ label: string; example: Example; method: string; registry: boolean }> = [];
  const missing: string[] = [];
  for (const route of apiRoutes({} as never)) {
    const key = `${route.method} ${route.path}`;
    const example = API[key];
    if (!example) {
      missing.push(key);
      continue;
    }
    t.is(route.action, example.action, `${key} declares the documented action`);
    t.is(route.repository !== undefined, example.onRepository, `${key} declares whether it is on a repository`);
    walk.push({ label: key, example, method: route.method, registry: false });
  }
  for (const [kind, methods] of Object.entries(REGISTRY_ROUTES)) {
    for (const [method, entry] of Object.entries(methods)) {
      const key = `${method} ${kind}`;
      const example = V2[key];
      if (!example) {
        missing.push(`/v2 ${key}`);
        continue;
      }
      t.is(entry!.action, example.action, `/v2 ${key} declares the documented action`);
      walk.push({ label: `/v2 ${key}`, example, method, registry: true });
      if (method === 'GET') walk.push({ label: `/v2 HEAD ${kind}`, example, method: 'HEAD', registry: true });
    }
  }
  t.deepEqual(missing, [], 'routes in the tables without a documented action in this test');
  t.deepEqual(
    Object.keys(API).filter((k) => !walk.some((w) => w.label === k)),
    [],
    'rows here for routes the table no longer has',
  );
  t.true(walk.length >= 30);

  // Tokens of each kind; `other` may do everything, but on other repositories.
  const secrets = new Map<string, string>();
  let made = 0;
  const token = async (scopes: unknown): Promise<string> => {
    const res = await berth.api('POST', '/api/v1/tokens', { name: `walker-${++made}`, scopes });
    if (res.status !== 201) throw new Error(`token: ${res.status}`);
    return res.body.secret;
  };
  for (const action of ACTIONS) {
    secrets.set(`lacking ${action}`, await token(scopesFor('lacking', action)));
    secrets.set(`exact ${action}`, await token(scopesFor('exact', action)));
  }
  const other = await token([{ repositories: 'elsewhere/*', actions: [...ACTIONS] }]);
  const wrong = `berth_${randomBytes(32).toString('base64url')}`;

  const failures: string[] = [];
  let requests = 0;
  for (const { label, example, method, registry } of walk) {
    for (const kind of ['none', 'wrong', 'other', 'lacking', 'exact'] as Kind[]) {
      const req = await example.request(f);
      const secret = kind === 'none' ? undefined : kind === 'wrong' ? wrong : kind === 'other' ? other : secrets.get(`${kind} ${example.action}`)!;
      const auth: Record<string, string> =
        secret === undefined ? {} : registry ? { Authorization: `Basic ${Buffer.from(`walker:${secret}`).toString('base64')}` } : { Authorization: `Bearer ${secret}` };
      const res = await fetch(`${berth.url}${req.path}`, {
        method,
        headers: { ...req.headers, ...auth },
        ...(req.body !== undefined && method !== 'HEAD' ? { body: typeof req.body === 'string' ? req.body : new Uint8Array(req.body) } : {}),
      });
      requests++;
      const text = await res.text();
      const want = expected(example, kind);
      const where = `${label} with ${kind} token (${method} ${req.path.slice(0, 80)})`;
      if (!want.status.includes(res.status)) failures.push(`${where}: ${res.status}, expected ${want.status.join('/')}: ${text.slice(0, 200)}`);
      else if (want.code !== undefined && method !== 'HEAD') {
        const body = JSON.parse(text) as { error?: { code: string }; errors?: Array<{ code: string }> };
        const code = registry ? body.errors?.[0]?.code : body.error?.code;
        if (code !== want.code) failures.push(`${where}: code ${String(code)}, expected ${want.code}`);
      }
      if (res.status === 401) {
        const challenge = res.headers.get('www-authenticate');
        if (challenge !== (registry ? 'Basic realm="berth"' : 'Bearer realm="berth"')) failures.push(`${where}: WWW-Authenticate ${String(challenge)}`);
      }
    }
  }
  t.deepEqual(failures, []);
  t.log(`${walk.length} routes × 5 kinds of token = ${requests} requests`);
});

/**
 * The /ui pages and forms, by "METHOD path" as uiRoutes writes them. A page signed in with each kind
 * of token answers as the API does, as an HTML page: 404 for a repository it may not pull, 403 DENIED
 * without the action; without a session a GET goes to the sign-in page (303) and a POST is 401.
 * Every POST carries the session's CSRF token (its refusal without one is in test/ui*.test.ts).
 */
const UI: Record<string, Example> = {
  'GET /ui/imports': { action: 'pull', onRepository: false, ok: [200], request: async () => ({ method: 'GET', path: '/ui/imports' }) },
  // A report of a repository the token may not pull does not exist for it.
  'GET /ui/imports/{id}': {
    action: 'pull',
    onRepository: true,
    hiddenCode: 'IMPORT_UNKNOWN',
    ok: [200],
    request: async (f) => ({ method: 'GET', path: `/ui/imports/${(await f.shared()).importId}` }),
  },
  'GET /ui/repositories': { action: 'pull', onRepository: false, ok: [200], request: async () => ({ method: 'GET', path: '/ui/repositories' }) },
  'GET /ui/repositories/{name}/-/versions/{number}': {
    action: 'pull',
    onRepository: true,
    ok: [200],
    request: async (f) => ({ method: 'GET', path: `/ui/repositories/${(await f.shared()).name}/-/versions/1` }),
  },
  'GET /ui/repositories/{name}': {
    action: 'pull',
    onRepository: true,
    ok: [200],
    request: async (f) => ({ method: 'GET', path: `/ui/repositories/${(await f.shared()).name}` }),
  },
  'POST /ui/repositories/{name}/-/tag': {
    action: 'push',
    onRepository: true,
    ok: [303],
    request: async (f) => {
      const repo = await f.fresh();
      return { method: 'POST', path: `/ui/repositories/${repo.name}/-/tag`, body: new URLSearchParams({ tag: 'v2', digest: repo.image.manifestDigest }).toString() };
    },
  },
  'POST /ui/repositories/{name}/-/untag': {
    action: 'delete',
    onRepository: true,
    ok: [303],
    request: async (f) => ({ method: 'POST', path: `/ui/repositories/${(await f.fresh()).name}/-/untag`, body: 'tag=v1' }),
  },
  'GET /ui/tokens': { action: 'admin', onRepository: false, ok: [200], request: async () => ({ method: 'GET', path: '/ui/tokens' }) },
  'POST /ui/tokens': {
    action: 'admin',
    onRepository: false,
    ok: [200],
    request: async (f) => ({ method: 'POST', path: '/ui/tokens', body: new URLSearchParams({ name: f.unique('ui-walk-made'), scopes: 'walk/* pull' }).toString() }),
  },
  'POST /ui/tokens/{id}/revoke': {
    action: 'admin',
    onRepository: false,
    ok: [303],
    request: async (f) => {
      const res = await fetch(`${base}/api/v1/tokens`, {
        method: 'POST',
        headers: { ...admin, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: f.unique('ui-walk-doomed'), scopes: [{ repositories: 'walk/*', actions: ['pull'] }] }),
      });
      return { method: 'POST', path: `/ui/tokens/${((await res.json()) as { id: number }).id}/revoke` };
    },
  },
  // The session cookie holds no server state: signing out clears the browser's cookie, and this walk keeps using its copy.
  'POST /ui/sign-out': { action: 'pull', onRepository: false, ok: [303], request: async () => ({ method: 'POST', path: '/ui/sign-out' }) },
};

/** Signs in to the pages with `secret` as a browser does: the session cookie and its CSRF token. */
async function uiSession(url: string, secret: string): Promise<{ cookie: string; csrf: string }> {
  const form = await fetch(`${url}/ui/sign-in`);
  const pre = form.headers.getSetCookie()[0]!.split(';')[0]!;
  const signInCsrf = /name="csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const res = await fetch(`${url}/ui/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: pre, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf: signInCsrf, token: secret, next: '/ui/imports' }),
  });
  if (res.status !== 303) throw new Error(`signing in: ${res.status}`);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('berth_session='))!.split(';')[0]!;
  const page = await (await fetch(`${url}/ui/repositories`, { headers: { cookie } })).text();
  return { cookie, csrf: /name="csrf" value="([^"]+)"/.exec(page)![1]! };
}

test('every /ui page and form answers each kind of signed-in token as documented', async (t) => {
  const { berth } = t.context;
  base = berth.url;
  const f = fixtures(berth, 'ui');
  const routes = uiRoutes({} as never, {} as never);
  const missing: string[] = [];
  const walk: Array<{ label: string; example: Example }> = [];
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    const example = UI[key];
    if (!example) {
      missing.push(key);
      continue;
    }
    t.is(route.action, example.action, `${key} declares the documented action`);
    // The report page decides by the report's repository inside its handler (404 IMPORT_UNKNOWN when hidden).
    if (example.hiddenCode === undefined) t.is(route.repository !== undefined, example.onRepository, `${key} declares whether it is on a repository`);
    walk.push({ label: key, example });
  }
  t.deepEqual(missing, [], '/ui routes without a documented action in this test');
  t.deepEqual(
    Object.keys(UI).filter((k) => !walk.some((w) => w.label === k)),
    [],
    'rows here for /ui routes the table no longer has',
  );

  let made = 0;
  const session = async (scopes: unknown) => {
    const res = await berth.api('POST', '/api/v1/tokens', { name: `ui-walker-${++made}`, scopes });
    if (res.status !== 201) throw new Error(`token: ${res.status}`);
    return uiSession(berth.url, res.body.secret);
  };
  const sessions = new Map<string, { cookie: string; csrf: string }>();
  for (const action of ACTIONS) {
    sessions.set(`lacking ${action}`, await session(scopesFor('lacking', action)));
    sessions.set(`exact ${action}`, await session(scopesFor('exact', action)));
  }
  const other = await session([{ repositories: 'elsewhere/*', actions: [...ACTIONS] }]);
  const wrong = { cookie: `berth_session=${randomBytes(64).toString('base64url')}`, csrf: 'x' };

  const failures: string[] = [];
  for (const { label, example } of walk) {
    for (const kind of ['none', 'wrong', 'other', 'lacking', 'exact'] as Kind[]) {
      const req = await example.request(f);
      const s = kind === 'none' ? undefined : kind === 'wrong' ? wrong : kind === 'other' ? other : sessions.get(`${kind} ${example.action}`)!;
      const body = req.method === 'POST' ? new URLSearchParams(req.body === undefined ? '' : String(req.body)) : undefined;
      if (body && s) body.set('csrf', s.csrf);
      const res = await fetch(`${berth.url}${req.path}`, {
        method: req.method,
        redirect: 'manual',
        headers: { ...(s ? { cookie: s.cookie } : {}), ...(body ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}) },
        ...(body ? { body: body.toString() } : {}),
      });
      const text = await res.text();
      let want = expected(example, kind);
      if (kind === 'none' || kind === 'wrong') want = req.method === 'GET' ? { status: [303] } : { status: [401], code: 'UNAUTHORIZED' };
      const where = `${label} with ${kind} session (${req.method} ${req.path.slice(0, 80)})`;
      if (!want.status.includes(res.status)) failures.push(`${where}: ${res.status}, expected ${want.status.join('/')}: ${text.slice(0, 300)}`);
      else if (want.code !== undefined) {
        const code = /<p class="error-code"><code>([A-Z_]+)<\/code>/.exec(text)?.[1];
        if (code !== want.code) failures.push(`${where}: code ${String(code)}, expected ${want.code}`);
      }
      if ((kind === 'none' || kind === 'wrong') && req.method === 'GET' && !/^\/ui\/sign-in\?next=/.test(res.headers.get('location') ?? '')) {
        failures.push(`${where}: Location ${String(res.headers.get('location'))}, expected the sign-in page`);
      }
    }
  }
  t.deepEqual(failures, []);
  t.log(`${walk.length} /ui routes × 5 kinds of session`);
});
