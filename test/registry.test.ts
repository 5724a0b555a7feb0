// The /v2 read side through HTTP against a real server: auth, manifests and blobs byte for byte with
// their headers, ranges, ownership on read, multi-segment names, pagination and OCI error bodies.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { dirEntries, type Image, makeImage, tarOf } from './helpers/archives.js';
import { ADMIN_TOKEN, startBerth, type TestServer } from './helpers/server.js';

const test = anyTest as TestFn<{ berth: TestServer }>;

const BASIC = `Basic ${Buffer.from(`anyone:${ADMIN_TOKEN}`).toString('base64')}`;

interface V2Response {
  status: number;
  headers: Headers;
  bytes: Buffer;
  /** the parsed JSON body, when there is one */
  json: any;
}

async function v2(berth: TestServer, path: string, opts: { method?: string; headers?: Record<string, string>; auth?: string | null } = {}): Promise<V2Response> {
  const auth = opts.auth === undefined ? BASIC : opts.auth;
  const res = await fetch(`${berth.url}${path}`, {
    method: opts.method ?? 'GET',
    headers: { ...(auth !== null ? { Authorization: auth } : {}), ...opts.headers },
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, headers: res.headers, bytes, json: /json/.test(type) && bytes.length > 0 ? JSON.parse(bytes.toString('utf8')) : undefined };
}

/** Asserts an OCI error answer: status, `{ errors: [{ code, message, detail }] }`, API version header. */
function assertOciError(t: { is: (a: unknown, b: unknown, m?: string) => void; true: (a: boolean, m?: string) => void }, res: V2Response, status: number, code: string): void {
  t.is(res.status, status, `status for ${code}`);
  t.is(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
  t.true(Array.isArray(res.json?.errors) && res.json.errors.length === 1, 'an OCI errors array');
  t.is(res.json.errors[0].code, code);
  t.is(typeof res.json.errors[0].message, 'string');
  t.true('detail' in res.json.errors[0], 'a detail field');
  t.is(res.headers.get('docker-content-digest'), null);
}

async function importInto(berth: TestServer, repo: string, image: Image, tag?: string): Promise<void> {
  const created = await berth.api('POST', '/api/v1/repositories', { name: repo });
  if (created.status !== 201 && created.status !== 409) throw new Error(`create ${repo}: ${created.status}`);
  const res = await berth.importMultipart(repo, await tarOf(dirEntries(image)), tag !== undefined ? { tag } : {});
  if (res.status !== 201) throw new Error(`import into ${repo}: ${res.status} ${JSON.stringify(res.body.error)}`);
}

test.before(async (t) => {
  t.context.berth = await startBerth();
});
test.after.always(async (t) => {
  await t.context.berth?.close();
});

test('GET /v2/ answers 200 with Basic (any user name) or Bearer credentials', async (t) => {
  const { berth } = t.context;
  for (const auth of [BASIC, `Basic ${Buffer.from(`:${ADMIN_TOKEN}`).toString('base64')}`, `Bearer ${ADMIN_TOKEN}`]) {
    const res = await v2(berth, '/v2/', { auth });
    t.is(res.status, 200);
    t.is(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    t.deepEqual(res.json, {});
  }
  t.is((await v2(berth, '/v2')).status, 200);
});

test('GET /v2/ without or with wrong credentials is 401 with a Basic challenge and an OCI error', async (t) => {
  const { berth } = t.context;
  const wrong = [
    null,
    `Basic ${Buffer.from('anyone:wrong-token').toString('base64')}`,
    `Basic ${Buffer.from(ADMIN_TOKEN).toString('base64')}`,
    'Bearer wrong-token',
    `Token ${ADMIN_TOKEN}`,
  ];
  for (const auth of wrong) {
    const res = await v2(berth, '/v2/', { auth });
    assertOciError(t, res, 401, 'UNAUTHORIZED');
    t.is(res.headers.get('www-authenticate'), 'Basic realm="berth"');
  }
});

test('every /v2 endpoint needs credentials, including unknown ones', async (t) => {
  const { berth } = t.context;
  const image = makeImage();
  await importInto(berth, 'auth/app', image, 'v1');
  for (const path of ['/v2/_catalog', '/v2/auth/app/tags/list', '/v2/auth/app/manifests/v1', `/v2/auth/app/blobs/${image.layerDigests[0]}`, '/v2/nothing/here']) {
    const res = await v2(berth, path, { auth: null });
    assertOciError(t, res, 401, 'UNAUTHORIZED');
    t.is(res.bytes.includes(image.layers[0]!), false);
  }
});

test('a manifest is served by tag and by digest as the exact imported bytes with its media type', async (t) => {
  const { berth } = t.context;
  for (const oci of [false, true]) {
    const image = makeImage({ oci });
    const repo = oci ? 'serve/oci' : 'serve/docker';
    await importInto(berth, repo, image, 'v1');
    for (const reference of ['v1', image.manifestDigest]) {
      const res = await v2(berth, `/v2/${repo}/manifests/${reference}`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
      t.is(res.status, 200);
      t.true(res.bytes.equals(image.manifest));
      t.is(res.headers.get('content-type'), image.mediaType);
      t.is(res.headers.get('docker-content-digest'), image.manifestDigest);
      t.is(res.headers.get('content-length'), String(image.manifest.length));
      t.is(res.headers.get('etag'), `"${image.manifestDigest}"`);
      t.is(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    }
  }
});

test('HEAD of a manifest has the GET headers and no body', async (t) => {
  const { berth } = t.context;
  const image = makeImage();
  await importInto(berth, 'head/app', image, 'v1');
  const res = await v2(berth, '/v2/head/app/manifests/v1', { method: 'HEAD' });
  t.is(res.status, 200);
  t.is(res.bytes.length, 0);
  t.is(res.headers.get('content-type'), image.mediaType);
  t.is(res.headers.get('docker-content-digest'), image.manifestDigest);
  t.is(res.headers.get('content-length'), String(image.manifest.length));
  const missing = await v2(berth, '/v2/head/app/manifests/nope', { method: 'HEAD' });
  t.is(missing.status, 404);
  t.is(missing.bytes.length, 0);
});

test('If-None-Match with the manifest or blob ETag answers 304 without a body', async (t) => {
  const { berth } = t.context;
  const image = makeImage();
  await importInto(berth, 'etag/app', image, 'v1');
  const manifest = await v2(berth, '/v2/etag/app/manifests/v1', { headers: { 'If-None-Match': `"${image.manifestDigest}"` } });
  t.is(manifest.status, 304);
  t.is(manifest.bytes.length, 0);
  t.is(manifest.headers.get('docker-content-digest'), image.manifestDigest);
  const blob = await v2(berth, `/v2/etag/app/blobs/${image.configDigest}`, { headers: { 'If-None-Match': `"${image.configDigest}"` } });
  t.is(blob.status, 304);
  t.is(blob.bytes.length, 0);
  const other = await v2(berth, '/v2/etag/app/manifests/v1', { headers: { 'If-None-Match': `"${image.configDigest}"` } });
  t.is(other.status, 200);
  t.true(other.bytes.equals(image.manifest));
});

test('manifest lookups that miss are OCI errors with the spec codes', async (t) => {
  const { berth } = t.context;
  const image = makeImage();
  await importInto(berth, 'miss/app', image, 'v1');
  assertOciError(t, await v2(berth, '/v2/miss/app/manifests/v2'), 404, 'MANIFEST_UNKNOWN');
  assertOciError(t, await v2(berth, `/v2/miss/app/manifests/sha256:${'0'.repeat(64)}`), 404, 'MANIFEST_UNKNOWN');
  // the config is held by the repository, but as a blob: it is not a manifest
  assertOciError(t, await v2(berth, `/v2/miss/app/manifests/${image.configDigest}`), 404, 'MANIFEST_UNKNOWN');
  // a reference that cannot be a tag names no manifest (the conformance suite asks 404 here)
  assertOciError(t, await v2(berth, '/v2/miss/app/manifests/.bad'), 404, 'MANIFEST_UNKNOWN');
  assertOciError(t, await v2(berth, '/v2/miss/app/manifests/sha256:abc'), 400, 'DIGEST_INVALID');
  assertOciError(t, await v2(berth, '/v2/miss/none/manifests/v1'), 404, 'NAME_UNKNOWN');
  assertOciError(t, await v2(berth, '/v2/Miss/App/manifests/v1'), 400, 'NAME_INVALID');
  assertOciError(t, await v2(berth, '/v2/miss/app/nothing'), 404, 'NOT_FOUND');
});

test('a blob streams as the exact bytes with its digest, length and range support', async (t) => {
  const { berth } = t.context;
  const image = makeImage({ layers: [Buffer.alloc(300_000, 7), Buffer.from('small layer')] });
  await importInto(berth, 'blob/app', image, 'v1');
  for (const [digest, bytes] of [[image.configDigest, image.config], ...image.layerDigests.map((d, i) => [d, image.layers[i]!] as const)] as const) {
    const res = await v2(berth, `/v2/blob/app/blobs/${digest}`);
    t.is(res.status, 200);
    t.true(res.bytes.equals(bytes));
    t.is(res.headers.get('content-length'), String(bytes.length));
    t.is(res.headers.get('content-type'), 'application/octet-stream');
    t.is(res.headers.get('docker-content-digest'), digest);
    t.is(res.headers.get('accept-ranges'), 'bytes');
    t.is(res.headers.get('etag'), `"${digest}"`);
  }
  const head = await v2(berth, `/v2/blob/app/blobs/${image.layerDigests[0]}`, { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(head.bytes.length, 0);
  t.is(head.headers.get('content-length'), '300000');
  t.is(head.headers.get('docker-content-digest'), image.layerDigests[0]!);
});

test('a manifest digest held by the repository can also be read as a blob', async (t) => {
  const { berth } = t.context;
  const image = makeImage();
  await importInto(berth, 'blob/manifest', image, 'v1');
  const res = await v2(berth, `/v2/blob/manifest/blobs/${image.manifestDigest}`);
  t.is(res.status, 200);
  t.true(res.bytes.equals(image.manifest));
});

test('a Range request answers 206 with Content-Range and exactly those bytes', async (t) => {
  const { berth } = t.context;
  const layer = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
  const image = makeImage({ layers: [layer] });
  await importInto(berth, 'range/app', image, 'v1');
  const path = `/v2/range/app/blobs/${image.layerDigests[0]}`;
  const cases: Array<[string, number, number]> = [
    ['bytes=0-99', 0, 99],
    ['bytes=100-', 100, 999],
    ['bytes=-10', 990, 999],
    ['bytes=990-5000', 990, 999],
    ['bytes=0-0', 0, 0],
    ['bytes=-5000', 0, 999],
  ];
  for (const [range, start, end] of cases) {
    const res = await v2(berth, path, { headers: { Range: range } });
    t.is(res.status, 206, range);
    t.is(res.headers.get('content-range'), `bytes ${start}-${end}/1000`, range);
    t.is(res.headers.get('content-length'), String(end - start + 1), range);
    t.is(res.headers.get('docker-content-digest'), image.layerDigests[0]!);
    t.true(res.bytes.equals(layer.subarray(start, end + 1)), range);
  }
  const head = await v2(berth, path, { method: 'HEAD', headers: { Range: 'bytes=10-19' } });
  t.is(head.status, 206);
  t.is(head.headers.get('content-length'), '10');
  t.is(head.bytes.length, 0);
  // several ranges or another unit are ignored: the whole blob
  for (const range of ['bytes=0-1,5-6', 'items=0-1']) {
    const whole = await v2(berth, path, { headers: { Range: range } });
    t.is(whole.status, 200, range);
    t.true(whole.bytes.equals(layer));
  }
});

test('an unsatisfiable or malformed range is 416 RANGE_INVALID with Content-Range: bytes */size', async (t) => {
  const { berth } = t.context;
  const image = makeImage({ layers: [Buffer.alloc(1000, 1)] });
  await importInto(berth, 'range/bad', image, 'v1');
  for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=50-10', 'bytes=-0', 'bytes=abc', 'bytes=-']) {
    const res = await v2(berth, `/v2/range/bad/blobs/${image.layerDigests[0]}`, { headers: { Range: range } });
    assertOciError(t, res, 416, 'RANGE_INVALID');
    t.is(res.headers.get('content-range'), 'bytes */1000', range);
    t.false(res.bytes.includes(Buffer.alloc(100, 1)));
  }
});

test('blob lookups that miss are OCI errors with the spec codes', async (t) => {
  const { berth } = t.context;
  const image = makeImage();
  await importInto(berth, 'blobmiss/app', image, 'v1');
  const unknown = await v2(berth, `/v2/blobmiss/app/blobs/sha256:${'1'.repeat(64)}`);
  assertOciError(t, unknown, 404, 'BLOB_UNKNOWN');
  t.is(unknown.json.errors[0].detail.digest, `sha256:${'1'.repeat(64)}`);
  assertOciError(t, await v2(berth, '/v2/blobmiss/app/blobs/sha256:xyz'), 400, 'DIGEST_INVALID');
  assertOciError(t, await v2(berth, `/v2/blobmiss/none/blobs/${image.configDigest}`), 404, 'NAME_UNKNOWN');
  const head = await v2(berth, `/v2/blobmiss/app/blobs/sha256:${'1'.repeat(64)}`, { method: 'HEAD' });
  t.is(head.status, 404);
  t.is(head.bytes.length, 0);
});

test('ownership on read: content imported only into repository A is 404 from repository B though it is on disk', async (t) => {
  const { berth } = t.context;
  const a = makeImage();
  const b = makeImage();
  await importInto(berth, 'own/a', a, 'v1');
  await importInto(berth, 'own/b', b, 'v1');
  for (const digest of [a.configDigest, ...a.layerDigests, a.manifestDigest]) t.true(await berth.blobExists(digest));
  for (const digest of [a.configDigest, ...a.layerDigests, a.manifestDigest]) {
    for (const method of ['GET', 'HEAD']) {
      const res = await v2(berth, `/v2/own/b/blobs/${digest}`, { method });
      t.is(res.status, 404, `${method} ${digest}`);
      if (method === 'GET') assertOciError(t, res, 404, 'BLOB_UNKNOWN');
    }
    // and with a range: no partial bytes either
    t.is((await v2(berth, `/v2/own/b/blobs/${digest}`, { headers: { Range: 'bytes=0-9' } })).status, 404);
  }
  assertOciError(t, await v2(berth, `/v2/own/b/manifests/${a.manifestDigest}`), 404, 'MANIFEST_UNKNOWN');
  t.is((await v2(berth, `/v2/own/b/manifests/${a.manifestDigest}`, { method: 'HEAD' })).status, 404);
  // and A still serves them
  t.is((await v2(berth, `/v2/own/a/blobs/${a.layerDigests[0]}`)).status, 200);
  t.is((await v2(berth, `/v2/own/a/manifests/${a.manifestDigest}`)).status, 200);
});

test('reads follow the latest version: a moved tag serves the new manifest', async (t) => {
  const { berth } = t.context;
  const first = makeImage();
  const second = makeImage();
  await importInto(berth, 'latest/app', first, 'v1');
  t.true((await v2(berth, '/v2/latest/app/manifests/v1')).bytes.equals(first.manifest));
  await importInto(berth, 'latest/app', second, 'v1');
  const res = await v2(berth, '/v2/latest/app/manifests/v1');
  t.true(res.bytes.equals(second.manifest));
  t.is(res.headers.get('docker-content-digest'), second.manifestDigest);
  t.is((await berth.api('DELETE', '/api/v1/repositories/latest/app/tags/v1')).status, 200);
  assertOciError(t, await v2(berth, '/v2/latest/app/manifests/v1'), 404, 'MANIFEST_UNKNOWN');
  // the manifest itself is still in the latest version, so its digest still resolves
  t.is((await v2(berth, `/v2/latest/app/manifests/${second.manifestDigest}`)).status, 200);
});

test('repository names with several segments, even ones named like endpoints, are read from the right', async (t) => {
  const { berth } = t.context;
  const image = makeImage();
  // The API's own words are refused as path components (see the next test); near misses are names.
  const repo = 'org/manifest/blob/tag/list';
  await importInto(berth, repo, image, 'v1');
  const manifest = await v2(berth, `/v2/${repo}/manifests/v1`);
  t.is(manifest.status, 200);
  t.true(manifest.bytes.equals(image.manifest));
  const blob = await v2(berth, `/v2/${repo}/blobs/${image.layerDigests[1]}`);
  t.true(blob.bytes.equals(image.layers[1]!));
  const tags = await v2(berth, `/v2/${repo}/tags/list`);
  t.deepEqual(tags.json, { name: repo, tags: ['v1'] });
  // a digest with its colon escaped is the same digest
  t.is((await v2(berth, `/v2/${repo}/blobs/${image.layerDigests[1]!.replace(':', '%3A')}`)).status, 200);
});

test('a repository name with a path component that is an API word is refused at creation, naming the word', async (t) => {
  const { berth } = t.context;
  for (const [name, word] of [['org/manifests/app', 'manifests'], ['team/tags', 'tags'], ['blobs', 'blobs'], ['a/uploads', 'uploads'], ['x/versions/y', 'versions']]) {
    const res = await berth.api('POST', '/api/v1/repositories', { name });
    t.is(res.status, 400, name);
    t.is(res.body.error.code, 'NAME_INVALID');
    t.is(res.body.error.details.reserved, word);
  }
  // %2F keeps working for names that contain '/'
  await berth.api('POST', '/api/v1/repositories', { name: 'esc/aped' });
  t.is((await berth.api('GET', '/api/v1/repositories/esc%2Faped')).body.name, 'esc/aped');
});

test('tags/list pages with n and last and a Link header while more remain', async (t) => {
  const { berth } = t.context;
  const image = makeImage();
  await importInto(berth, 'pages/app', image, 'v1');
  for (const tag of ['a', 'B', 'v1.0', 'v1_0', 'z-9']) {
    t.is((await berth.api('PUT', `/api/v1/repositories/pages/app/tags/${tag}`, { digest: image.manifestDigest })).status, 201);
  }
  const all = await v2(berth, '/v2/pages/app/tags/list');
  t.deepEqual(all.json, { name: 'pages/app', tags: ['B', 'a', 'v1', 'v1.0', 'v1_0', 'z-9'] });
  t.is(all.headers.get('link'), null);

  const seen: string[] = [];
  let next: string | null = '/v2/pages/app/tags/list?n=2';
  let pages = 0;
  while (next !== null) {
    const res = await v2(berth, next);
    t.is(res.status, 200);
    t.true(res.json.tags.length <= 2);
    seen.push(...res.json.tags);
    pages += 1;
    const link = res.headers.get('link');
    next = link === null ? null : /^<([^>]+)>; rel="next"$/.exec(link)![1]!;
  }
  t.is(pages, 3);
  t.deepEqual(seen, all.json.tags);

  const first: V2Response = await v2(berth, '/v2/pages/app/tags/list?n=2');
  t.is(first.headers.get('link'), '</v2/pages/app/tags/list?n=2&last=a>; rel="next"');
  const after = await v2(berth, '/v2/pages/app/tags/list?last=v1.0');
  t.deepEqual(after.json.tags, ['v1_0', 'z-9']);
  t.deepEqual((await v2(berth, '/v2/pages/app/tags/list?n=0')).json.tags, []);
  t.is((await v2(berth, '/v2/pages/app/tags/list?n=99999999999999999999')).json.tags.length, 6, 'a huge n is capped, not refused');
  assertOciError(t, await v2(berth, '/v2/pages/app/tags/list?n=abc'), 400, 'PAGINATION_NUMBER_INVALID');
  assertOciError(t, await v2(berth, '/v2/pages/app/tags/list?n=-1'), 400, 'PAGINATION_NUMBER_INVALID');
  assertOciError(t, await v2(berth, '/v2/pages/none/tags/list'), 404, 'NAME_UNKNOWN');
});

test('an empty repository lists no tags and serves no manifest', async (t) => {
  const { berth } = t.context;
  await berth.api('POST', '/api/v1/repositories', { name: 'empty/app' });
  t.deepEqual((await v2(berth, '/v2/empty/app/tags/list')).json, { name: 'empty/app', tags: [] });
  assertOciError(t, await v2(berth, '/v2/empty/app/manifests/latest'), 404, 'MANIFEST_UNKNOWN');
});

test('_catalog lists every repository in pages with Link headers', async (t) => {
  // a server of its own, so that the other tests' repositories do not change the listing
  const berth = await startBerth();
  t.teardown(() => berth.close());
  const names = ['a/one', 'a/two', 'b', 'c/d/e', 'c-d', 'z'];
  for (const name of names) t.is((await berth.api('POST', '/api/v1/repositories', { name })).status, 201);
  const all = await v2(berth, '/v2/_catalog');
  t.is(all.status, 200);
  t.deepEqual(all.json, { repositories: ['a/one', 'a/two', 'b', 'c-d', 'c/d/e', 'z'] });
  t.is(all.headers.get('link'), null);

  const page1 = await v2(berth, '/v2/_catalog?n=4');
  t.deepEqual(page1.json.repositories, ['a/one', 'a/two', 'b', 'c-d']);
  t.is(page1.headers.get('link'), '</v2/_catalog?n=4&last=c-d>; rel="next"');
  const page2 = await v2(berth, '/v2/_catalog?n=4&last=c-d');
  t.deepEqual(page2.json.repositories, ['c/d/e', 'z']);
  t.is(page2.headers.get('link'), null);
  const exact = await v2(berth, '/v2/_catalog?n=6');
  t.is(exact.json.repositories.length, 6);
  t.is(exact.headers.get('link'), null, 'no Link when nothing remains');
  const escaped = await v2(berth, '/v2/_catalog?n=1&last=a%2Fone');
  t.deepEqual(escaped.json.repositories, ['a/two']);
  t.is(escaped.headers.get('link'), '</v2/_catalog?n=1&last=a%2Ftwo>; rel="next"');
  assertOciError(t, await v2(berth, '/v2/_catalog?n=x'), 400, 'PAGINATION_NUMBER_INVALID');
});

test('blob DELETE is 405 UNSUPPORTED: blobs leave with the manifests that use them', async (t) => {
  const { berth } = t.context;
  const image = makeImage();
  await importInto(berth, 'push/app', image, 'v1');
  const res = await v2(berth, `/v2/push/app/blobs/${image.layerDigests[0]}`, { method: 'DELETE' });
  assertOciError(t, res, 405, 'UNSUPPORTED');
  t.is(res.headers.get('allow'), 'GET, HEAD');
  // unknown methods on the push endpoints are 405 with what they serve
  const patch = await v2(berth, '/v2/push/app/blobs/uploads/', { method: 'PATCH' });
  assertOciError(t, patch, 405, 'UNSUPPORTED');
  t.is(patch.headers.get('allow'), 'POST');
  t.true((await v2(berth, `/v2/push/app/blobs/${image.layerDigests[0]}`)).bytes.length > 0);
});

/** This process's open file descriptors on `file` (the server runs in the test process). */
async function openDescriptorsOf(file: string): Promise<string[]> {
  const fds = await fs.readdir('/proc/self/fd');
  const targets = await Promise.all(fds.map((fd) => fs.readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return targets.filter((p) => p === file);
}

test('a client that hangs up mid-download leaves no blob file open', async (t) => {
  const { berth } = t.context;
  const layer = randomBytes(16 * 1024 * 1024);
  const image = makeImage({ layers: [layer] });
  await importInto(berth, 'abort/app', image, 'v1');
  const hexDigest = image.layerDigests[0]!.slice('sha256:'.length);
  const blobFile = path.join(berth.dataDir, 'blobs', 'sha256', hexDigest.slice(0, 2), hexDigest);
  const downloads = await Promise.all(
    Array.from({ length: 4 }, async () => {
      const controller = new AbortController();
      const res = await fetch(`${berth.url}/v2/abort/app/blobs/${image.layerDigests[0]}`, { headers: { Authorization: BASIC }, signal: controller.signal });
      const reader = res.body!.getReader();
      await reader.read();
      return { controller, reader };
    }),
  );
  // while the downloads hang open, the server holds the blob open: the check below can fail
  t.true((await openDescriptorsOf(blobFile)).length > 0);
  for (const d of downloads) d.controller.abort();
  let open = await openDescriptorsOf(blobFile);
  for (let i = 0; i < 50 && open.length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    open = await openDescriptorsOf(blobFile);
  }
  t.deepEqual(open, []);
  // and the server still serves the blob whole
  const again = await v2(berth, `/v2/abort/app/blobs/${image.layerDigests[0]}`);
  t.true(again.bytes.equals(layer));
});

test.serial('concurrent blob GETs, whole and ranged, each get exactly their bytes (the send buffers are shared)', async (t) => {
  const { berth } = t.context;
  const layers = [randomBytes(3 * 1024 * 1024 + 17), randomBytes(5 * 1024 * 1024 + 3)];
  const image = makeImage({ layers });
  await importInto(berth, 'concurrent/app', image, 'v1');
  const gets = [];
  for (let round = 0; round < 3; round++) {
    for (const [i, layer] of layers.entries()) {
      const path = `/v2/concurrent/app/blobs/${image.layerDigests[i]}`;
      gets.push(v2(berth, path).then((res) => t.true(res.bytes.equals(layer), `whole layer ${i}`)));
      const start = 1024 * 1024 - 5 + round;
      const end = start + 2 * 1024 * 1024 + 11;
      gets.push(
        v2(berth, path, { headers: { Range: `bytes=${start}-${end}` } }).then((res) => {
          t.is(res.status, 206);
          t.true(res.bytes.equals(layer.subarray(start, end + 1)), `range of layer ${i}`);
        }),
      );
    }
  }
  await Promise.all(gets);
});
