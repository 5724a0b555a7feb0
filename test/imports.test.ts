import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import anyTest, { type TestFn } from 'ava';
import { dirEntries, gzip, hex, makeImage, sha256, tarOf } from './helpers/archives.js';
import { ADMIN_TOKEN, startBerth, type TestServer } from './helpers/server.js';

const hooks = anyTest as TestFn<{ berth: TestServer }>;
// Serial: every test asserts that staging/ is empty afterwards, which another test's upload would break.
const test = hooks.serial;

hooks.before(async (t) => {
  t.context.berth = await startBerth();
});
hooks.after.always(async (t) => {
  await t.context.berth?.close();
});

const newRepo = (berth: TestServer): Promise<string> => berth.newRepository('team/app');
const latest = (berth: TestServer, repo: string): Promise<number> => berth.latestVersion(repo);

test('import of a skopeo dir tarball makes one version with manifest, blobs and tag', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage();
  const res = await berth.importMultipart(repo, await tarOf(dirEntries(image, { prefix: './' })), { tag: 'v1' });
  t.is(res.status, 201);
  t.is(res.body.status, 'completed');
  t.is(res.body.format, 'skopeo-dir');
  t.is(res.body.version, 1);
  t.is(res.body.new_version, true);
  t.is(res.body.tag, 'v1');
  t.deepEqual(res.body.manifests, [{ digest: image.manifestDigest, media_type: image.mediaType, source: 'upload' }]);
  t.deepEqual(
    res.body.blobs.map((b: { digest: string; source: string }) => [b.digest, b.source]),
    [image.configDigest, ...image.layerDigests].map((d) => [d, 'upload']),
  );
  t.true(res.body.bytes_received > 0);
  t.is(res.body.error, null);
  for (const d of [image.manifestDigest, image.configDigest, ...image.layerDigests]) t.true(await berth.blobExists(d));
  const stored = await fs.readFile(path.join(berth.dataDir, 'blobs', 'sha256', hex(image.layerDigests[0]!).slice(0, 2), hex(image.layerDigests[0]!)));
  t.deepEqual(stored, image.layers[0]);
  t.deepEqual(await berth.stagingEntries(), []);

  const report = await berth.api('GET', `/api/v1/imports/${res.body.id}`);
  t.deepEqual(report.body, res.body);
  const tags = await berth.api('GET', `/api/v1/repositories/${repo}/tags`);
  t.deepEqual(tags.body.tags, [{ name: 'v1', digest: image.manifestDigest }]);
  const version = await berth.api('GET', `/api/v1/repositories/${repo}/versions/1`);
  t.is(version.body.import_id, res.body.id);
  t.is(version.body.manifests.length, 1);
  t.is(version.body.blobs.length, 3);
  t.is(version.body.added.blobs.length, 3);
});

test('the tag field may come before the file part', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage();
  const res = await berth.importMultipart(repo, await tarOf(dirEntries(image)), { tag: 'first', tagFirst: true });
  t.is(res.status, 201);
  t.is(res.body.tag, 'first');
  t.deepEqual((await berth.api('GET', `/api/v1/repositories/${repo}/tags`)).body.tags, [{ name: 'first', digest: image.manifestDigest }]);
});

test('a raw application/x-tar body with ?tag= imports', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage({ oci: true });
  const res = await berth.importRaw(repo, await tarOf(dirEntries(image)), { tag: 'raw' });
  t.is(res.status, 201);
  t.is(res.body.tag, 'raw');
  t.is(res.body.manifests[0].media_type, 'application/vnd.oci.image.manifest.v1+json');
});

test('entries may sit at the root, under ./ or under one top folder', async (t) => {
  const { berth } = t.context;
  for (const prefix of ['', './', 'myimage/', './myimage/']) {
    const repo = await newRepo(berth);
    const res = await berth.importMultipart(repo, await tarOf(dirEntries(makeImage(), { prefix })));
    t.is(res.status, 201, `prefix ${JSON.stringify(prefix)}`);
    t.is(res.body.version, 1);
  }
});

test('skopeo dir version 1.0 names blobs <hex>.tar', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage();
  const entries = image.entries.map((e) => {
    if (e.name === 'version') return { ...e, data: 'Directory Transport Version: 1.0\n' };
    if (/^[a-f0-9]{64}$/.test(e.name)) return { ...e, name: `${e.name}.tar` };
    return e;
  });
  const res = await berth.importMultipart(repo, await tarOf(entries), { tag: 'old' });
  t.is(res.status, 201);
  t.is(res.body.blobs.length, 3);
});

test('a gzip-compressed outer tarball is detected by its bytes', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const res = await berth.importRaw(repo, gzip(await tarOf(dirEntries(makeImage()))), { contentType: 'application/gzip' });
  t.is(res.status, 201);
});

test('omitted layers that the destination repository holds are reused', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const base = makeImage();
  t.is((await berth.importMultipart(repo, await tarOf(dirEntries(base)), { tag: 'base' })).status, 201);
  const next = makeImage({ layers: [...base.layers, randomBytes(1000)] });
  const res = await berth.importMultipart(repo, await tarOf(dirEntries(next, { omit: base.layerDigests })), { tag: 'next' });
  t.is(res.status, 201);
  t.is(res.body.version, 2);
  const sources = Object.fromEntries(res.body.blobs.map((b: { digest: string; source: string }) => [b.digest, b.source]));
  t.is(sources[base.layerDigests[0]!], 'repository');
  t.is(sources[base.layerDigests[1]!], 'repository');
  t.is(sources[next.layerDigests[2]!], 'upload');
  t.is(sources[next.configDigest], 'upload');
  const v2 = await berth.api('GET', `/api/v1/repositories/${repo}/versions/2`);
  t.deepEqual(v2.body.added.blobs.map((b: { digest: string }) => b.digest).sort(), [next.configDigest, next.layerDigests[2]].sort());
  t.is(v2.body.blobs.length, 5);
});

test('a layer held only by another repository does not count: BLOB_UNKNOWN lists every missing digest', async (t) => {
  const { berth } = t.context;
  const other = await newRepo(berth);
  const repo = await newRepo(berth);
  const image = makeImage({ layerCount: 3 });
  t.is((await berth.importMultipart(other, await tarOf(dirEntries(image)))).status, 201);
  const before = await latest(berth, repo);
  const res = await berth.importMultipart(repo, await tarOf(dirEntries(image, { omit: image.layerDigests.slice(0, 2) })), { tag: 'stolen' });
  t.is(res.status, 400);
  t.is(res.body.status, 'failed');
  t.is(res.body.error.code, 'BLOB_UNKNOWN');
  t.deepEqual([...res.body.error.details.missing].sort(), image.layerDigests.slice(0, 2).sort());
  t.is(await latest(berth, repo), before);
  t.deepEqual(await berth.stagingEntries(), []);
  const report = await berth.api('GET', `/api/v1/imports/${res.body.id}`);
  t.is(report.body.status, 'failed');
  t.deepEqual(report.body.error, res.body.error);
});

test('import rejects a blob whose bytes do not match its name', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage();
  const entries = dirEntries(image).map((e) => (e.name === hex(image.layerDigests[1]!) ? { ...e, data: randomBytes(2048) } : e));
  const res = await berth.importMultipart(repo, await tarOf(entries), { tag: 'bad' });
  t.is(res.status, 400);
  t.is(res.body.error.code, 'DIGEST_INVALID');
  t.is(res.body.error.details.expected, image.layerDigests[1]);
  t.is(await latest(berth, repo), 0);
  t.deepEqual(await berth.stagingEntries(), []);
  t.false(await berth.blobExists(image.manifestDigest));
});

test('a blob the repository already owns is still verified against its name', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage();
  t.is((await berth.importMultipart(repo, await tarOf(dirEntries(image)))).status, 201);
  const entries = dirEntries(image).map((e) => (e.name === hex(image.layerDigests[0]!) ? { ...e, data: randomBytes(2048) } : e));
  const res = await berth.importMultipart(repo, await tarOf(entries), { tag: 'x' });
  t.is(res.status, 400);
  t.is(res.body.error.code, 'DIGEST_INVALID');
  t.is(await latest(berth, repo), 1);
  t.deepEqual(await berth.stagingEntries(), []);
});

test('a layer whose size differs from its descriptor is refused', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage();
  const doc = JSON.parse(image.manifest.toString());
  doc.layers[0].size += 1;
  const manifest = Buffer.from(JSON.stringify(doc));
  const entries = dirEntries(image).map((e) => (e.name === 'manifest.json' ? { ...e, data: manifest } : e));
  const res = await berth.importMultipart(repo, await tarOf(entries));
  t.is(res.status, 400);
  t.is(res.body.error.code, 'SIZE_INVALID');
  t.is(await latest(berth, repo), 0);
});

const bad: Array<[string, () => Promise<Buffer>, string]> = [
  ['bytes that are not a tar', async () => randomBytes(4096), 'ARCHIVE_INVALID'],
  ['a truncated tar', async () => (await tarOf(dirEntries(makeImage()))).subarray(0, 1500), 'ARCHIVE_INVALID'],
  ['a tar without manifest.json', async () => tarOf(dirEntries(makeImage()).filter((e) => e.name !== 'manifest.json')), 'UNSUPPORTED_ARCHIVE'],
  [
    'a manifest that is not JSON',
    async () => tarOf(dirEntries(makeImage()).map((e) => (e.name === 'manifest.json' ? { ...e, data: '{not json' } : e))),
    'MANIFEST_INVALID',
  ],
  [
    'a manifest over 4 MiB',
    async () =>
      tarOf(
        dirEntries(makeImage()).map((e) =>
          e.name === 'manifest.json' ? { ...e, data: `{"schemaVersion":2,"pad":"${'x'.repeat(4 * 1024 * 1024)}"}` } : e,
        ),
      ),
    'MANIFEST_INVALID',
  ],
  [
    'an unknown manifest media type',
    async () => {
      const image = makeImage();
      const doc = { ...JSON.parse(image.manifest.toString()), mediaType: 'application/vnd.example.thing+json' };
      return tarOf(dirEntries(image).map((e) => (e.name === 'manifest.json' ? { ...e, data: JSON.stringify(doc) } : e)));
    },
    'MANIFEST_UNSUPPORTED',
  ],
  [
    'a schema 1 manifest',
    async () => tarOf(dirEntries(makeImage()).map((e) => (e.name === 'manifest.json' ? { ...e, data: '{"schemaVersion":1,"fsLayers":[]}' } : e))),
    'MANIFEST_UNSUPPORTED',
  ],
  ['an entry name with ..', async () => tarOf([...dirEntries(makeImage()), { name: '../evil', data: 'x' }]), 'ENTRY_UNSAFE'],
  ['an entry name with .. inside', async () => tarOf([{ name: 'a/../../evil', data: 'x' }, ...dirEntries(makeImage())]), 'ENTRY_UNSAFE'],
  ['an absolute entry name', async () => tarOf([{ name: '/etc/passwd', data: 'x' }, ...dirEntries(makeImage())]), 'ENTRY_UNSAFE'],
  ['a symbolic link', async () => tarOf([...dirEntries(makeImage()), { name: 'link', type: 'symlink', linkname: 'manifest.json' }]), 'ENTRY_UNSAFE'],
  ['a link leaving the archive', async () => tarOf([{ name: 'link', type: 'symlink', linkname: '../../etc/passwd' }, ...dirEntries(makeImage())]), 'ENTRY_UNSAFE'],
  ['a hard link', async () => tarOf([...dirEntries(makeImage()), { name: 'hard', type: 'link', linkname: 'manifest.json' }]), 'ENTRY_UNSAFE'],
  ['a character device', async () => tarOf([{ name: 'dev', type: 'character-device' }, ...dirEntries(makeImage())]), 'ENTRY_UNSAFE'],
  ['a fifo', async () => tarOf([{ name: 'pipe', type: 'fifo' }, ...dirEntries(makeImage())]), 'ENTRY_UNSAFE'],
  [
    'the same entry twice',
    async () => {
      const entries = dirEntries(makeImage());
      return tarOf([...entries, entries[2]!]);
    },
    'ENTRY_DUPLICATE',
  ],
  [
    'the same entry twice, once under ./',
    async () => {
      const entries = dirEntries(makeImage());
      return tarOf([...entries, { ...entries[1]!, name: `./${entries[1]!.name}` }]);
    },
    'ENTRY_DUPLICATE',
  ],
  ['an unknown skopeo dir version', async () => tarOf(dirEntries(makeImage()).map((e) => (e.name === 'version' ? { ...e, data: 'Directory Transport Version: 9.9\n' } : e))), 'UNSUPPORTED_ARCHIVE'],
  ['an empty body', async () => Buffer.alloc(0), 'ARCHIVE_INVALID'],
  ['a gzip stream that breaks off', async () => gzip(await tarOf(dirEntries(makeImage()))).subarray(0, 200), 'ARCHIVE_INVALID'],
];

for (const [what, make, code] of bad) {
  for (const mode of ['multipart', 'raw'] as const) {
    test(`import refuses ${what} (${mode}) with ${code} and changes nothing`, async (t) => {
      const { berth } = t.context;
      const repo = await newRepo(berth);
      const archive = await make();
      const res = mode === 'multipart' ? await berth.importMultipart(repo, archive, { tag: 'v1' }) : await berth.importRaw(repo, archive, { tag: 'v1' });
      t.true(res.status >= 400 && res.status < 500, `status ${res.status}`);
      t.is(res.body.error.code, code, JSON.stringify(res.body.error));
      t.is(res.body.status, 'failed');
      t.is(await latest(berth, repo), 0);
      t.deepEqual((await berth.api('GET', `/api/v1/repositories/${repo}/tags`)).body.tags, []);
      t.deepEqual(await berth.stagingEntries(), []);
      const report = await berth.api('GET', `/api/v1/imports/${res.body.id}`);
      t.is(report.body.error.code, code);
    });
  }
}

test('an import that changes nothing makes no new version and says so', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const archive = await tarOf(dirEntries(makeImage()));
  t.is((await berth.importMultipart(repo, archive, { tag: 'same' })).body.version, 1);
  const again = await berth.importMultipart(repo, archive, { tag: 'same' });
  t.is(again.status, 201);
  t.is(again.body.version, 1);
  t.is(again.body.new_version, false);
  t.is(await latest(berth, repo), 1);
  const moved = await berth.importMultipart(repo, archive, { tag: 'other' });
  t.is(moved.body.version, 2);
  t.is(moved.body.new_version, true);
});

test('an existing tag moves to the newly imported manifest', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const a = makeImage();
  const b = makeImage();
  await berth.importMultipart(repo, await tarOf(dirEntries(a)), { tag: 'latest' });
  const res = await berth.importMultipart(repo, await tarOf(dirEntries(b)), { tag: 'latest' });
  t.is(res.body.version, 2);
  t.deepEqual((await berth.api('GET', `/api/v1/repositories/${repo}/tags`)).body.tags, [{ name: 'latest', digest: b.manifestDigest }]);
  const v2 = await berth.api('GET', `/api/v1/repositories/${repo}/versions/2`);
  t.deepEqual(v2.body.removed.tags, [{ name: 'latest', digest: a.manifestDigest }]);
  t.deepEqual(v2.body.added.tags, [{ name: 'latest', digest: b.manifestDigest }]);
  const v1 = await berth.api('GET', `/api/v1/repositories/${repo}/versions/1`);
  t.deepEqual(v1.body.tags, [{ name: 'latest', digest: a.manifestDigest }]);
});

test('a version stores only what changed, not a copy of the repository', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const db = berth.server.services.db;
  const { id } = await db('repositories').where({ name: repo }).first();
  for (let i = 0; i < 5; i++) await berth.importMultipart(repo, await tarOf(dirEntries(makeImage({ layerCount: 1 }))), { tag: `t${i}` });
  const rows = async () => Number((await db('repository_content').where({ repository_id: id }).count({ n: '*' }).first())?.n);
  t.is(await rows(), 5 * 3);
  await berth.importMultipart(repo, await tarOf(dirEntries(makeImage({ layerCount: 1 }))), { tag: 'last' });
  t.is(await rows(), 6 * 3);
});

test('an invalid tag or unknown form field is refused before anything is stored', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const archive = await tarOf(dirEntries(makeImage()));
  const badTag = await berth.importMultipart(repo, archive, { tag: '-nope' });
  t.is(badTag.status, 400);
  t.is(badTag.body.error.code, 'TAG_INVALID');
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(archive)]), 'x.tar');
  form.append('tags', 'v1');
  const res = await fetch(`${berth.url}/api/v1/repositories/${repo}/imports`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` }, body: form });
  t.is(res.status, 400);
  t.is(((await res.json()) as { error: { code: string } }).error.code, 'BODY_INVALID');
  t.is(await latest(berth, repo), 0);
  t.deepEqual(await berth.stagingEntries(), []);
});

test('an import into a repository that does not exist is NAME_UNKNOWN', async (t) => {
  const { berth } = t.context;
  const res = await berth.importRaw('no/such/repo', await tarOf(dirEntries(makeImage())));
  t.is(res.status, 404);
  t.is(res.body.error.code, 'NAME_UNKNOWN');
});

test('a body that is neither multipart nor tar is UNSUPPORTED_MEDIA_TYPE', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const res = await berth.importRaw(repo, Buffer.from('{}'), { contentType: 'application/json' });
  t.is(res.status, 415);
  t.is(res.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
});

test('a multipart body without a file part is BODY_INVALID', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const form = new FormData();
  form.append('tag', 'v1');
  const res = await fetch(`${berth.url}/api/v1/repositories/${repo}/imports`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` }, body: form });
  t.is(res.status, 400);
  t.is(((await res.json()) as { error: { code: string } }).error.code, 'BODY_INVALID');
  t.deepEqual(await berth.stagingEntries(), []);
});

test('a client that disconnects mid-upload leaves nothing behind', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage({ layers: [randomBytes(4 * 1024 * 1024)] });
  const archive = await tarOf(dirEntries(image));
  const url = new URL(`${berth.url}/api/v1/repositories/${repo}/imports?tag=v1`);
  await new Promise<void>((resolve) => {
    const req = http.request(url, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/x-tar', 'Content-Length': String(archive.length) },
    });
    req.on('error', () => resolve());
    req.write(archive.subarray(0, 2 * 1024 * 1024), () => {
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
  });
  // The server notices the hang-up asynchronously; wait for the report to say so.
  let report: any;
  for (let i = 0; i < 100; i++) {
    const list = await berth.api('GET', `/api/v1/imports?repository=${encodeURIComponent(repo)}`);
    report = list.body.imports[0];
    if (report?.status === 'failed') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.is(report.status, 'failed');
  t.is(report.error.code, 'CLIENT_ABORTED');
  t.is(await latest(berth, repo), 0);
  t.deepEqual(await berth.stagingEntries(), []);
  t.false(await berth.blobExists(image.layerDigests[0]!));
});

test('import reports are listed newest first and filtered by repository and status', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const ok = await berth.importMultipart(repo, await tarOf(dirEntries(makeImage())));
  const failed = await berth.importMultipart(repo, randomBytes(1024));
  const all = await berth.api('GET', `/api/v1/imports?repository=${encodeURIComponent(repo)}`);
  t.deepEqual(all.body.imports.map((r: { id: string }) => r.id), [failed.body.id, ok.body.id]);
  const onlyFailed = await berth.api('GET', `/api/v1/imports?repository=${encodeURIComponent(repo)}&status=failed`);
  t.deepEqual(onlyFailed.body.imports.map((r: { id: string }) => r.id), [failed.body.id]);
  const limited = await berth.api('GET', `/api/v1/imports?repository=${encodeURIComponent(repo)}&limit=1`);
  t.is(limited.body.imports.length, 1);
  t.is((await berth.api('GET', '/api/v1/imports?status=bogus')).status, 400);
  t.is((await berth.api('GET', '/api/v1/imports/00000000-0000-0000-0000-000000000000')).body.error.code, 'IMPORT_UNKNOWN');
});

test('import reports are filtered by format, actor and time', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const ok = await berth.importMultipart(repo, await tarOf(dirEntries(makeImage())));
  const failed = await berth.importMultipart(repo, randomBytes(1024));
  const ids = async (query: string) => (await berth.api('GET', `/api/v1/imports?repository=${encodeURIComponent(repo)}&${query}`)).body.imports.map((r: { id: string }) => r.id);
  t.deepEqual(await ids('format=skopeo-dir'), [ok.body.id]);
  t.deepEqual(await ids('format=oci-layout'), []);
  t.deepEqual(await ids('actor=admin'), [failed.body.id, ok.body.id]);
  t.deepEqual(await ids('actor=someone-else'), []);
  t.deepEqual(await ids(`since=${encodeURIComponent(failed.body.created_at)}`), [failed.body.id]);
  t.deepEqual(await ids(`before=${encodeURIComponent(failed.body.created_at)}`), [ok.body.id]);
  t.deepEqual(await ids(`since=${new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)}`), []);
  const bad = await berth.api('GET', '/api/v1/imports?since=yesterday');
  t.is(bad.status, 400);
  t.is(bad.body.error.code, 'BODY_INVALID');
});

test('the manifest digest is the sha256 of manifest.json exactly as uploaded', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage();
  const pretty = Buffer.from(JSON.stringify(JSON.parse(image.manifest.toString()), null, 3));
  const entries = dirEntries(image).map((e) => (e.name === 'manifest.json' ? { ...e, data: pretty } : e));
  const res = await berth.importMultipart(repo, await tarOf(entries));
  t.is(res.body.manifests[0].digest, sha256(pretty));
});

test('an import that another process has already ended (taken for gone) does not commit', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const archive = await tarOf(dirEntries(makeImage({ layers: [randomBytes(1024 * 1024)] })));
  const url = new URL(`${berth.url}/api/v1/repositories/${repo}/imports?tag=v1`);
  const response = new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/x-tar', 'Content-Length': String(archive.length) },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.write(archive.subarray(0, 512 * 1024), async () => {
      // What a sweep in another process does to an import whose instance stopped beating.
      let running: { id: string } | undefined;
      for (let i = 0; i < 100 && !running; i++) {
        running = (await berth.api('GET', `/api/v1/imports?repository=${encodeURIComponent(repo)}&status=running`)).body.imports[0];
        if (!running) await new Promise((r) => setTimeout(r, 20));
      }
      await berth.server.services.db('imports').where({ id: running!.id }).update({ status: 'failed', error: JSON.stringify({ code: 'INTERRUPTED', message: 'swept', details: null }) });
      req.end(archive.subarray(512 * 1024));
    });
  });
  const res = await response;
  t.is(res.status, 500);
  t.is(res.body.error.code, 'INTERRUPTED');
  t.is(res.body.status, 'failed');
  t.is(res.body.error.message, 'swept', 'the first recorded outcome stands');
  t.is(await latest(berth, repo), 0);
  t.deepEqual(await berth.stagingEntries(), []);
});
