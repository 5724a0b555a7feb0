import anyTest, { type TestFn } from 'ava';
import { dirEntries, makeImage, tarOf } from './helpers/archives.js';
import { startBerth, type TestServer } from './helpers/server.js';

const test = anyTest as TestFn<{ berth: TestServer }>;

test.before(async (t) => {
  t.context.berth = await startBerth();
});
test.after.always(async (t) => {
  await t.context.berth?.close();
});

test('every /api call needs the admin token', async (t) => {
  const { berth } = t.context;
  const none = await fetch(`${berth.url}/api/v1/repositories`);
  t.is(none.status, 401);
  t.is(((await none.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
  t.regex(none.headers.get('www-authenticate') ?? '', /^Bearer/);
  const wrong = await berth.api('GET', '/api/v1/repositories', undefined, { Authorization: 'Bearer wrong-token' });
  t.is(wrong.status, 401);
  t.is(wrong.body.error.code, 'UNAUTHORIZED');
  const basic = await berth.api('GET', '/api/v1/repositories', undefined, { Authorization: 'Basic Zm9vOmJhcg==' });
  t.is(basic.status, 401);
  const imp = await fetch(`${berth.url}/api/v1/repositories/a/imports`, { method: 'POST', body: 'x', headers: { 'Content-Type': 'application/x-tar' } });
  t.is(imp.status, 401);
});

test('healthz answers without a token once the service can take uploads', async (t) => {
  const res = await fetch(`${t.context.berth.url}/healthz`);
  t.is(res.status, 200);
  t.deepEqual(await res.json(), { status: 'ok' });
});

test('repositories are created, listed, read and deleted', async (t) => {
  const { berth } = t.context;
  const created = await berth.api('POST', '/api/v1/repositories', { name: 'org/team/service' });
  t.is(created.status, 201);
  t.is(created.body.name, 'org/team/service');
  t.is(created.body.latest_version, 0);
  const again = await berth.api('POST', '/api/v1/repositories', { name: 'org/team/service' });
  t.is(again.status, 409);
  t.is(again.body.error.code, 'REPOSITORY_EXISTS');
  const got = await berth.api('GET', '/api/v1/repositories/org/team/service');
  t.is(got.status, 200);
  t.is(got.body.latest_version, 0);
  const list = await berth.api('GET', '/api/v1/repositories');
  t.true(list.body.repositories.some((r: { name: string }) => r.name === 'org/team/service'));
  const versions = await berth.api('GET', '/api/v1/repositories/org/team/service/versions');
  t.deepEqual(versions.body.versions.map((v: { number: number }) => v.number), [0]);
  const v0 = await berth.api('GET', '/api/v1/repositories/org/team/service/versions/0');
  t.deepEqual(v0.body.tags, []);
  t.deepEqual(v0.body.manifests, []);
  t.is((await berth.api('DELETE', '/api/v1/repositories/org/team/service')).status, 204);
  const gone = await berth.api('GET', '/api/v1/repositories/org/team/service');
  t.is(gone.status, 404);
  t.is(gone.body.error.code, 'NAME_UNKNOWN');
});

test('bad repository names and bodies are refused with stable codes', async (t) => {
  const { berth } = t.context;
  for (const name of ['UPPER', 'a//b', '-lead', 'trail-', 'a/', '', 'x'.repeat(256), 42]) {
    const res = await berth.api('POST', '/api/v1/repositories', { name });
    t.is(res.status, 400, String(name));
    t.is(res.body.error.code, 'NAME_INVALID');
  }
  const notJson = await berth.api('POST', '/api/v1/repositories', '{nope');
  t.is(notJson.status, 400);
  t.is(notJson.body.error.code, 'BODY_INVALID');
  const wrongType = await berth.api('POST', '/api/v1/repositories', 'name=x', { 'Content-Type': 'application/x-www-form-urlencoded' });
  t.is(wrongType.status, 415);
  t.is((await berth.api('GET', '/api/v1/nothing-here')).body.error.code, 'NOT_FOUND');
  t.is((await berth.api('GET', '/api/v1/repositories/none/versions/3')).body.error.code, 'NAME_UNKNOWN');
});

test('tags are put and deleted, each change a new version', async (t) => {
  const { berth } = t.context;
  await berth.api('POST', '/api/v1/repositories', { name: 'tag/app' });
  const image = makeImage();
  const imported = await berth.importMultipart('tag/app', await tarOf(dirEntries(image)));
  t.is(imported.body.version, 1);
  t.is(imported.body.tag, null);

  const put = await berth.api('PUT', '/api/v1/repositories/tag/app/tags/stable', { digest: image.manifestDigest });
  t.is(put.status, 201);
  t.is(put.body.version, 2);
  const same = await berth.api('PUT', '/api/v1/repositories/tag/app/tags/stable', { digest: image.manifestDigest });
  t.is(same.status, 200);
  t.is(same.body.version, 2);
  t.false(same.body.new_version);
  t.deepEqual((await berth.api('GET', '/api/v1/repositories/tag/app/tags')).body.tags, [{ name: 'stable', digest: image.manifestDigest }]);

  const unknown = await berth.api('PUT', '/api/v1/repositories/tag/app/tags/x', { digest: image.layerDigests[0] });
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, 'MANIFEST_UNKNOWN');
  const badDigest = await berth.api('PUT', '/api/v1/repositories/tag/app/tags/x', { digest: 'md5:abc' });
  t.is(badDigest.body.error.code, 'DIGEST_INVALID');
  const badTag = await berth.api('PUT', '/api/v1/repositories/tag/app/tags/.dot', { digest: image.manifestDigest });
  t.is(badTag.body.error.code, 'TAG_INVALID');

  const del = await berth.api('DELETE', '/api/v1/repositories/tag/app/tags/stable');
  t.is(del.status, 200);
  t.is(del.body.version, 3);
  t.deepEqual((await berth.api('GET', '/api/v1/repositories/tag/app/tags')).body.tags, []);
  const missing = await berth.api('DELETE', '/api/v1/repositories/tag/app/tags/stable');
  t.is(missing.status, 404);
  t.is(missing.body.error.code, 'TAG_UNKNOWN');

  const v3 = await berth.api('GET', '/api/v1/repositories/tag/app/versions/3');
  t.deepEqual(v3.body.removed.tags, [{ name: 'stable', digest: image.manifestDigest }]);
  t.is(v3.body.manifests.length, 1);
  const versions = await berth.api('GET', '/api/v1/repositories/tag/app/versions');
  t.deepEqual(versions.body.versions.map((v: { number: number; kind: string }) => [v.number, v.kind]), [
    [3, 'untag'],
    [2, 'tag'],
    [1, 'import'],
    [0, 'create'],
  ]);
  t.is((await berth.api('GET', '/api/v1/repositories/tag/app/versions/9')).body.error.code, 'VERSION_UNKNOWN');
});

test('metrics count requests and imports in Prometheus format', async (t) => {
  const { berth } = t.context;
  await berth.api('POST', '/api/v1/repositories', { name: 'metrics/app' });
  await berth.importRaw('metrics/app', await tarOf(dirEntries(makeImage())));
  await berth.importRaw('metrics/app', Buffer.from('not a tar at all'));
  const res = await fetch(`${berth.url}/metrics`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /text\/plain/);
  const text = await res.text();
  t.regex(text, /berth_imports_total\{status="completed",format="skopeo-dir",code=""\} [1-9]/);
  t.regex(text, /berth_imports_total\{status="failed",format="unknown",code="ARCHIVE_INVALID"\} 1/);
  t.regex(text, /berth_http_requests_total\{method="POST",status="201"\} [1-9]/);
  t.regex(text, /berth_process_resident_memory_bytes \d+/);
});

test('every /api route answers 401 without credentials, and GET /api/v1/openapi.json describes each with its action', async (t) => {
  const { berth } = t.context;
  const doc = await berth.api('GET', '/api/v1/openapi.json');
  t.is(doc.status, 200);
  t.is(doc.body.openapi, '3.1.0');
  const paths = doc.body.paths as Record<string, Record<string, { 'x-berth-action': string; responses: Record<string, unknown> }>>;
  const operations = Object.entries(paths).flatMap(([p, methods]) => Object.entries(methods).map(([m, op]) => ({ path: p, method: m.toUpperCase(), op })));
  t.true(operations.length >= 13);
  for (const { path, method, op } of operations) {
    t.true(['pull', 'push', 'delete', 'admin'].includes(op['x-berth-action']), `${method} ${path}`);
    t.truthy(op.responses['401'], `${method} ${path} documents 401`);
    const url = path.replace('{name}', 'walk/app').replace('{number}', '1').replace('{tag}', 'v1').replace('{id}', '00000000-0000-4000-8000-000000000000');
    const res = await fetch(`${berth.url}${url}`, { method });
    t.is(res.status, 401, `${method} ${url}`);
    t.is(((await res.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
  }
  t.is(paths['/api/v1/repositories/{name}/imports']?.post?.['x-berth-action'], 'push');
  t.is(paths['/api/v1/orphans/cleanup']?.post?.['x-berth-action'], 'admin');
});
