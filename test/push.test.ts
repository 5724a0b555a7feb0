// The /v2 write side through HTTP against a real server: blob uploads (monolithic, chunked, resumed
// after a restart, mounted), manifest PUT as one repository version with a push report, ownership on
// every path, bad input answered with the spec's codes and nothing kept, delete, referrers,
// concurrency and orphan cleanup racing pushes. Real clients (skopeo, podman, docker) are in
// registry-roundtrip.test.ts.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { type Image, makeImage, sha256 } from './helpers/archives.js';
import { ADMIN_TOKEN, startBerth, startPeer, type TestServer } from './helpers/server.js';

const test = anyTest as TestFn<{ berth: TestServer }>;
const BASIC = `Basic ${Buffer.from(`ci:${ADMIN_TOKEN}`).toString('base64')}`;

interface Answer {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json: any;
}

async function v2(url: string, pathname: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<Answer> {
  const res = await fetch(`${url}${pathname}`, {
    method: opts.method ?? 'GET',
    headers: { Authorization: BASIC, ...opts.headers },
    ...(opts.body !== undefined ? { body: new Uint8Array(opts.body) } : {}),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, headers: res.headers, bytes, json: /json/.test(type) && bytes.length > 0 ? JSON.parse(bytes.toString('utf8')) : undefined };
}

function ociError(t: ExecutionContext, res: Answer, status: number, code: string): void {
  t.is(res.status, status, `status for ${code}: ${res.bytes.toString('utf8').slice(0, 300)}`);
  t.is(res.json?.errors?.[0]?.code, code);
}

/** Monolithic upload: POST ?digest= with the bytes. */
async function pushBlob(url: string, repo: string, bytes: Buffer): Promise<Answer> {
  return v2(url, `/v2/${repo}/blobs/uploads/?digest=${sha256(bytes)}`, { method: 'POST', body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
}

async function putManifest(url: string, repo: string, reference: string, manifest: Buffer, mediaType: string): Promise<Answer> {
  return v2(url, `/v2/${repo}/manifests/${reference}`, { method: 'PUT', body: manifest, headers: { 'Content-Type': mediaType } });
}

/** Pushes an image's config and layers monolithically, then its manifest under `reference`. */
async function pushImage(url: string, repo: string, image: Image, reference: string): Promise<Answer> {
  for (const blob of [image.config, ...image.layers]) {
    const res = await pushBlob(url, repo, blob);
    if (res.status !== 201) throw new Error(`blob push into ${repo}: ${res.status} ${res.bytes.toString('utf8')}`);
  }
  return putManifest(url, repo, reference, image.manifest, image.mediaType);
}

async function uploadFolders(berth: TestServer): Promise<string[]> {
  return fs.readdir(path.join(berth.dataDir, 'staging', 'uploads')).catch(() => []);
}

test.before(async (t) => {
  t.context.berth = await startBerth();
});
test.after.always(async (t) => {
  await t.context.berth?.close();
});

test.serial('monolithic blobs then a manifest PUT by tag: one push version, a push report, pulled back byte for byte', async (t) => {
  const { berth } = t.context;
  const image = makeImage();
  const first = await pushBlob(berth.url, 'mono/app', image.config);
  t.is(first.status, 201);
  t.is(first.headers.get('location'), `/v2/mono/app/blobs/${image.configDigest}`);
  t.is(first.headers.get('docker-content-digest'), image.configDigest);
  // create-on-push made the repository; the held blob is answered there before any manifest
  t.is((await v2(berth.url, `/v2/mono/app/blobs/${image.configDigest}`, { method: 'HEAD' })).status, 200);
  t.is(await berth.latestVersion('mono/app'), 0);
  for (const layer of image.layers) t.is((await pushBlob(berth.url, 'mono/app', layer)).status, 201);

  const put = await putManifest(berth.url, 'mono/app', 'v1', image.manifest, image.mediaType);
  t.is(put.status, 201);
  t.is(put.headers.get('location'), `/v2/mono/app/manifests/${image.manifestDigest}`);
  t.is(put.headers.get('docker-content-digest'), image.manifestDigest);
  t.is(await berth.latestVersion('mono/app'), 1);

  const version = (await berth.api('GET', '/api/v1/repositories/mono/app/versions/1')).body;
  t.is(version.kind, 'push');
  const pulled = await v2(berth.url, '/v2/mono/app/manifests/v1', { headers: { Accept: image.mediaType } });
  t.true(pulled.bytes.equals(image.manifest));
  t.is(pulled.headers.get('content-type'), image.mediaType);
  for (const [i, layer] of image.layers.entries()) t.true((await v2(berth.url, `/v2/mono/app/blobs/${image.layerDigests[i]}`)).bytes.equals(layer));

  const reports = (await berth.api('GET', '/api/v1/imports?repository=mono/app')).body.imports;
  t.is(reports.length, 1);
  const report = (await berth.api('GET', `/api/v1/imports/${put.headers.get('berth-import-id')}`)).body;
  t.is(report.id, reports[0].id);
  t.like(report, { status: 'completed', format: 'push', tag: 'v1', version: 1, new_version: true, repository: 'mono/app' });
  t.deepEqual(report.manifests, [{ digest: image.manifestDigest, media_type: image.mediaType, source: 'upload' }]);
  t.deepEqual(
    report.blobs.map((b: any) => [b.digest, b.source]),
    [image.configDigest, ...image.layerDigests].map((d) => [d, 'upload']),
  );

  // the same manifest under the same tag again: nothing changes, no version
  const again = await putManifest(berth.url, 'mono/app', 'v1', image.manifest, image.mediaType);
  t.is(again.status, 201);
  t.is(await berth.latestVersion('mono/app'), 1);
  const second = (await berth.api('GET', `/api/v1/imports/${again.headers.get('berth-import-id')}`)).body;
  t.like(second, { status: 'completed', new_version: false, version: 1 });
  t.deepEqual(second.blobs.map((b: any) => b.source), [image.configDigest, ...image.layerDigests].map(() => 'repository'));
  t.deepEqual(await uploadFolders(berth), []);
  t.deepEqual(await berth.stagingEntries(), []);
});

test.serial('chunked upload: POST, PATCH chunks with Content-Range, GET where to resume, PUT with the last chunk', async (t) => {
  const { berth } = t.context;
  const blob = randomBytes(300_000);
  const start = await v2(berth.url, '/v2/chunk/app/blobs/uploads/', { method: 'POST' });
  t.is(start.status, 202);
  const location = start.headers.get('location')!;
  const id = start.headers.get('docker-upload-uuid')!;
  t.regex(location, new RegExp(`^/v2/chunk/app/blobs/uploads/${id}$`));
  t.is(start.headers.get('range'), '0-0');
  t.deepEqual(await uploadFolders(berth), [id]);

  const one = await v2(berth.url, location, { method: 'PATCH', body: blob.subarray(0, 100_000), headers: { 'Content-Range': '0-99999', 'Content-Type': 'application/octet-stream' } });
  t.is(one.status, 202);
  t.is(one.headers.get('range'), '0-99999');
  t.is(one.headers.get('location'), location);

  // a chunk that does not continue where the upload ends: 416 with the current Range
  const skip = await v2(berth.url, location, { method: 'PATCH', body: blob.subarray(150_000, 200_000), headers: { 'Content-Range': '150000-199999' } });
  ociError(t, skip, 416, 'BLOB_UPLOAD_INVALID');
  t.is(skip.headers.get('range'), '0-99999');
  const retry = await v2(berth.url, location, { method: 'PATCH', body: blob.subarray(0, 100_000), headers: { 'Content-Range': '0-99999' } });
  ociError(t, retry, 416, 'BLOB_UPLOAD_INVALID');

  const status = await v2(berth.url, location);
  t.is(status.status, 204);
  t.is(status.headers.get('range'), '0-99999');

  const two = await v2(berth.url, location, { method: 'PATCH', body: blob.subarray(100_000, 200_000), headers: { 'Content-Range': '100000-199999' } });
  t.is(two.headers.get('range'), '0-199999');
  const done = await v2(berth.url, `${location}?digest=${sha256(blob)}`, { method: 'PUT', body: blob.subarray(200_000) });
  t.is(done.status, 201);
  t.is(done.headers.get('docker-content-digest'), sha256(blob));
  t.true((await v2(berth.url, `/v2/chunk/app/blobs/${sha256(blob)}`)).bytes.equals(blob));
  t.true(await berth.blobExists(sha256(blob)));
  // the session is over: its folder is gone and its id unknown
  t.deepEqual(await uploadFolders(berth), []);
  ociError(t, await v2(berth.url, location), 404, 'BLOB_UPLOAD_UNKNOWN');
  // a held blob is the repository's only: another repository does not see it
  await berth.api('POST', '/api/v1/repositories', { name: 'chunk/other' });
  ociError(t, await v2(berth.url, `/v2/chunk/other/blobs/${sha256(blob)}`), 404, 'BLOB_UNKNOWN');
});

test.serial('a digest that does not match keeps nothing: monolithic, session PUT and manifest PUT by digest', async (t) => {
  const { berth } = t.context;
  const blob = randomBytes(5000);
  const wrong = sha256(randomBytes(10));
  const mono = await v2(berth.url, `/v2/bad/digest/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: blob });
  ociError(t, mono, 400, 'DIGEST_INVALID');
  t.false(await berth.blobExists(sha256(blob)));
  t.false(await berth.blobExists(wrong));

  const start = await v2(berth.url, '/v2/bad/digest/blobs/uploads/', { method: 'POST' });
  const location = start.headers.get('location')!;
  await v2(berth.url, location, { method: 'PATCH', body: blob });
  ociError(t, await v2(berth.url, `${location}?digest=${wrong}`, { method: 'PUT' }), 400, 'DIGEST_INVALID');
  t.false(await berth.blobExists(sha256(blob)));
  ociError(t, await v2(berth.url, location), 404, 'BLOB_UPLOAD_UNKNOWN');
  ociError(t, await v2(berth.url, `${location}?digest=nonsense`, { method: 'PUT' }), 400, 'DIGEST_INVALID');
  t.deepEqual(await uploadFolders(berth), []);

  const image = makeImage();
  for (const b of [image.config, ...image.layers]) await pushBlob(berth.url, 'bad/digest', b);
  const byWrongDigest = await putManifest(berth.url, 'bad/digest', wrong, image.manifest, image.mediaType);
  ociError(t, byWrongDigest, 400, 'DIGEST_INVALID');
  t.is(await berth.latestVersion('bad/digest'), 0);
  const byDigest = await putManifest(berth.url, 'bad/digest', image.manifestDigest, image.manifest, image.mediaType);
  t.is(byDigest.status, 201);
  t.is(await berth.latestVersion('bad/digest'), 1);
  t.deepEqual((await v2(berth.url, '/v2/bad/digest/tags/list')).json.tags, []);
});

test.serial('ownership: a manifest naming a blob only another repository holds is MANIFEST_BLOB_UNKNOWN; mounts need the source to hold the blob', async (t) => {
  const { berth } = t.context;
  const image = makeImage();
  t.is((await pushImage(berth.url, 'own/a', image, 'v1')).status, 201);
  await berth.api('POST', '/api/v1/repositories', { name: 'own/b' });

  const refused = await putManifest(berth.url, 'own/b', 'v1', image.manifest, image.mediaType);
  ociError(t, refused, 400, 'MANIFEST_BLOB_UNKNOWN');
  t.deepEqual([...refused.json.errors[0].detail.missing].sort(), [image.configDigest, ...image.layerDigests].sort());
  t.is(await berth.latestVersion('own/b'), 0);
  const failed = (await berth.api('GET', '/api/v1/imports?repository=own/b')).body.imports[0];
  t.like(failed, { status: 'failed', format: 'push' });
  t.is(failed.error.code, 'MANIFEST_BLOB_UNKNOWN');

  // a mount from a repository that does not hold the digest: an ordinary session, not an error
  const notHeld = await v2(berth.url, `/v2/own/b/blobs/uploads/?mount=${sha256(randomBytes(8))}&from=own/a`, { method: 'POST' });
  t.is(notHeld.status, 202);
  t.truthy(notHeld.headers.get('docker-upload-uuid'));
  const noSource = await v2(berth.url, `/v2/own/b/blobs/uploads/?mount=${image.configDigest}&from=own/nothing`, { method: 'POST' });
  t.is(noSource.status, 202);
  await v2(berth.url, notHeld.headers.get('location')!, { method: 'DELETE' });
  await v2(berth.url, noSource.headers.get('location')!, { method: 'DELETE' });

  // mounts from a repository that holds them: 201, and then the manifest is accepted
  for (const digest of [image.configDigest, ...image.layerDigests]) {
    const mount = await v2(berth.url, `/v2/own/b/blobs/uploads/?mount=${digest}&from=own/a`, { method: 'POST' });
    t.is(mount.status, 201);
    t.is(mount.headers.get('location'), `/v2/own/b/blobs/${digest}`);
  }
  const accepted = await putManifest(berth.url, 'own/b', 'v1', image.manifest, image.mediaType);
  t.is(accepted.status, 201);
  const report = (await berth.api('GET', `/api/v1/imports/${accepted.headers.get('berth-import-id')}`)).body;
  t.deepEqual(report.blobs.map((b: any) => b.source), [image.configDigest, ...image.layerDigests].map(() => 'mount'));
  t.deepEqual(await uploadFolders(berth), []);
});

test.serial('upload sessions are per repository: a foreign or unknown session id is 404 BLOB_UPLOAD_UNKNOWN', async (t) => {
  const { berth } = t.context;
  const start = await v2(berth.url, '/v2/sess/a/blobs/uploads/', { method: 'POST' });
  const id = start.headers.get('docker-upload-uuid')!;
  await berth.api('POST', '/api/v1/repositories', { name: 'sess/b' });
  for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
    ociError(t, await v2(berth.url, `/v2/sess/b/blobs/uploads/${id}${method === 'PUT' ? `?digest=${sha256('x')}` : ''}`, { method, ...(method === 'PATCH' ? { body: Buffer.from('x') } : {}) }), 404, 'BLOB_UPLOAD_UNKNOWN');
  }
  ociError(t, await v2(berth.url, '/v2/sess/a/blobs/uploads/not-a-session'), 404, 'BLOB_UPLOAD_UNKNOWN');
  ociError(t, await v2(berth.url, '/v2/sess/a/blobs/uploads/00000000-0000-4000-8000-000000000000'), 404, 'BLOB_UPLOAD_UNKNOWN');
  // still usable in its own repository; DELETE ends it
  t.is((await v2(berth.url, `/v2/sess/a/blobs/uploads/${id}`)).status, 204);
  t.is((await v2(berth.url, `/v2/sess/a/blobs/uploads/${id}`, { method: 'DELETE' })).status, 204);
  ociError(t, await v2(berth.url, `/v2/sess/a/blobs/uploads/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN');
  t.deepEqual(await uploadFolders(berth), []);
});

test.serial('bad manifests: not JSON, schema 1, unknown media type, over 4 MiB, Content-Type against the document', async (t) => {
  const { berth } = t.context;
  await berth.api('POST', '/api/v1/repositories', { name: 'badman/app' });
  const oci = 'application/vnd.oci.image.manifest.v1+json';
  ociError(t, await putManifest(berth.url, 'badman/app', 'v1', Buffer.from('{not json'), oci), 400, 'MANIFEST_INVALID');
  ociError(t, await putManifest(berth.url, 'badman/app', 'v1', Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'v1', fsLayers: [] })), 'application/vnd.docker.distribution.manifest.v1+prettyjws'), 400, 'MANIFEST_INVALID');
  ociError(t, await putManifest(berth.url, 'badman/app', 'v1', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/x-nope' })), 'application/x-nope'), 400, 'MANIFEST_INVALID');
  ociError(t, await putManifest(berth.url, 'badman/app', 'v1', Buffer.alloc(4 * 1024 * 1024 + 1, 0x20), oci), 400, 'MANIFEST_INVALID');
  const image = makeImage({ oci: true });
  ociError(t, await putManifest(berth.url, 'badman/app', 'v1', image.manifest, 'application/vnd.oci.image.index.v1+json'), 400, 'MANIFEST_INVALID');
  ociError(t, await putManifest(berth.url, 'badman/app', '.bad', image.manifest, oci), 400, 'TAG_INVALID');
  // the stable Berth codes are in the report
  const codes = (await berth.api('GET', '/api/v1/imports?repository=badman/app')).body.imports.map((r: any) => r.error?.code);
  t.true(codes.includes('MANIFEST_UNSUPPORTED'));
  t.is(await berth.latestVersion('badman/app'), 0);
  t.deepEqual(await berth.stagingEntries(), []);
});

test.serial('DELETE a manifest by digest makes a version without it and its tags; by tag, without the tag', async (t) => {
  const { berth } = t.context;
  const one = makeImage();
  const two = makeImage();
  t.is((await pushImage(berth.url, 'del/app', one, 'v1')).status, 201);
  t.is((await putManifest(berth.url, 'del/app', 'also', one.manifest, one.mediaType)).status, 201);
  t.is((await pushImage(berth.url, 'del/app', two, 'v2')).status, 201);
  const before = await berth.latestVersion('del/app');

  t.is((await v2(berth.url, `/v2/del/app/manifests/${one.manifestDigest}`, { method: 'DELETE' })).status, 202);
  t.is(await berth.latestVersion('del/app'), before + 1);
  t.is((await berth.api('GET', `/api/v1/repositories/del/app/versions/${before + 1}`)).body.kind, 'delete');
  ociError(t, await v2(berth.url, `/v2/del/app/manifests/${one.manifestDigest}`), 404, 'MANIFEST_UNKNOWN');
  t.deepEqual((await v2(berth.url, '/v2/del/app/tags/list')).json.tags, ['v2']);
  ociError(t, await v2(berth.url, `/v2/del/app/manifests/${one.manifestDigest}`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');

  t.is((await v2(berth.url, '/v2/del/app/manifests/v2', { method: 'DELETE' })).status, 202);
  t.deepEqual((await v2(berth.url, '/v2/del/app/tags/list')).json.tags, []);
  t.is((await v2(berth.url, `/v2/del/app/manifests/${two.manifestDigest}`)).status, 200);
  ociError(t, await v2(berth.url, '/v2/del/app/manifests/v2', { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
  // the version before the deletes still has everything
  const old = (await berth.api('GET', `/api/v1/repositories/del/app/versions/${before}`)).body;
  t.true(JSON.stringify(old).includes(one.manifestDigest));
});

test.serial('referrers: a manifest with a subject answers OCI-Subject and is listed, filterable by artifactType', async (t) => {
  const { berth } = t.context;
  const image = makeImage({ oci: true });
  t.is((await pushImage(berth.url, 'ref/app', image, 'v1')).status, 201);
  const empty = Buffer.from('{}');
  t.is((await pushBlob(berth.url, 'ref/app', empty)).status, 201);
  const sbom = randomBytes(100);
  t.is((await pushBlob(berth.url, 'ref/app', sbom)).status, 201);
  const artifact = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/spdx+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 },
      layers: [{ mediaType: 'application/spdx+json', digest: sha256(sbom), size: sbom.length }],
      subject: { mediaType: image.mediaType, digest: image.manifestDigest, size: image.manifest.length },
      annotations: { 'org.example.kind': 'sbom' },
    }),
  );
  const put = await putManifest(berth.url, 'ref/app', sha256(artifact), artifact, 'application/vnd.oci.image.manifest.v1+json');
  t.is(put.status, 201);
  t.is(put.headers.get('oci-subject'), image.manifestDigest);

  const list = await v2(berth.url, `/v2/ref/app/referrers/${image.manifestDigest}`);
  t.is(list.status, 200);
  t.is(list.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
  t.deepEqual(list.json, {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(artifact), size: artifact.length, artifactType: 'application/spdx+json', annotations: { 'org.example.kind': 'sbom' } }],
  });
  const filtered = await v2(berth.url, `/v2/ref/app/referrers/${image.manifestDigest}?artifactType=application/x-other`);
  t.deepEqual(filtered.json.manifests, []);
  t.is(filtered.headers.get('oci-filters-applied'), 'artifactType');
  t.is((await v2(berth.url, `/v2/ref/app/referrers/${image.manifestDigest}?artifactType=application/spdx%2Bjson`)).json.manifests.length, 1);
  t.deepEqual((await v2(berth.url, `/v2/ref/app/referrers/${sha256('nothing')}`)).json.manifests, []);
});

test.serial('an index whose child manifests were pushed by digest', async (t) => {
  const { berth } = t.context;
  const amd = makeImage({ oci: true });
  const arm = makeImage({ oci: true });
  for (const image of [amd, arm]) t.is((await pushImage(berth.url, 'multi/app', image, image.manifestDigest)).status, 201);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [amd, arm].map((image, i) => ({ mediaType: image.mediaType, digest: image.manifestDigest, size: image.manifest.length, platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' } })),
    }),
  );
  t.is((await putManifest(berth.url, 'multi/app', 'latest', index, 'application/vnd.oci.image.index.v1+json')).status, 201);
  t.true((await v2(berth.url, '/v2/multi/app/manifests/latest')).bytes.equals(index));
  // an index naming a child manifest the repository lacks
  const lonely = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: amd.mediaType, digest: sha256('absent'), size: 5 }] }));
  ociError(t, await putManifest(berth.url, 'multi/app', 'broken', lonely, 'application/vnd.oci.image.index.v1+json'), 400, 'MANIFEST_BLOB_UNKNOWN');
});

test.serial('a client that hangs up mid-chunk leaves the session at its last whole chunk', async (t) => {
  const { berth } = t.context;
  const blob = randomBytes(400_000);
  const start = await v2(berth.url, '/v2/hangup/app/blobs/uploads/', { method: 'POST' });
  const location = start.headers.get('location')!;
  await v2(berth.url, location, { method: 'PATCH', body: blob.subarray(0, 100_000), headers: { 'Content-Range': '0-99999' } });

  await new Promise<void>((resolve) => {
    const url = new URL(`${berth.url}${location}`);
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'PATCH', headers: { Authorization: BASIC, 'Content-Length': '300000', 'Content-Range': '100000-399999' } });
    req.on('error', () => resolve());
    req.write(blob.subarray(100_000, 250_000), () => setTimeout(() => {
      req.destroy();
      resolve();
    }, 200));
  });
  // the server notices, truncates to the last whole chunk; poll until it has
  let range = '';
  for (let i = 0; i < 50 && range !== '0-99999'; i++) {
    range = (await v2(berth.url, location)).headers.get('range') ?? '';
    if (range !== '0-99999') await new Promise((r) => setTimeout(r, 100));
  }
  t.is(range, '0-99999');
  const rest = await v2(berth.url, location, { method: 'PATCH', body: blob.subarray(100_000), headers: { 'Content-Range': '100000-399999' } });
  t.is(rest.headers.get('range'), '0-399999');
  t.is((await v2(berth.url, `${location}?digest=${sha256(blob)}`, { method: 'PUT' })).status, 201);
  t.true((await v2(berth.url, `/v2/hangup/app/blobs/${sha256(blob)}`)).bytes.equals(blob));
});

test.serial('two clients pushing different tags into one repository at once both land, as two versions', async (t) => {
  const { berth } = t.context;
  const images = Array.from({ length: 6 }, () => makeImage());
  const results = await Promise.all(images.map((image, i) => pushImage(berth.url, 'race/app', image, `t${i}`)));
  t.deepEqual(results.map((r) => r.status), images.map(() => 201));
  t.is(await berth.latestVersion('race/app'), images.length);
  const tags = (await v2(berth.url, '/v2/race/app/tags/list')).json.tags;
  t.deepEqual(tags, images.map((_, i) => `t${i}`));
  for (const [i, image] of images.entries()) t.true((await v2(berth.url, `/v2/race/app/manifests/t${i}`)).bytes.equals(image.manifest));
});

test.serial('orphan cleanup racing pushes takes no blob a version or a hold needs', async (t) => {
  const { berth } = t.context;
  const images = Array.from({ length: 8 }, () => makeImage({ layerCount: 3 }));
  let cleaning = true;
  const cleaner = (async () => {
    let runs = 0;
    while (cleaning) {
      const res = await berth.api('POST', '/api/v1/orphans/cleanup');
      if (res.status !== 200) throw new Error(`cleanup: ${res.status}`);
      runs++;
    }
    return runs;
  })();
  const results = await Promise.all(images.map((image, i) => pushImage(berth.url, `gc/app${i % 3}`, image, `v${i}`)));
  cleaning = false;
  t.true((await cleaner) > 0);
  t.deepEqual(results.map((r) => r.status), images.map(() => 201));
  for (const image of images) {
    for (const [digest, bytes] of [[image.manifestDigest, image.manifest], [image.configDigest, image.config], ...image.layerDigests.map((d, i) => [d, image.layers[i]!] as const)] as const) {
      const file = path.join(berth.dataDir, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7));
      const onDisk = await fs.readFile(file);
      t.is(`sha256:${createHash('sha256').update(onDisk).digest('hex')}`, digest);
      t.true(onDisk.equals(bytes as Buffer));
    }
  }
});

test.serial('a body over BERTH_MAX_UPLOAD_BYTES is 413; an upload session survives a restart and idle ones expire', async (t) => {
  const small = await startBerth({ BERTH_MAX_UPLOAD_BYTES: '65536', BERTH_UPLOAD_TTL_SECONDS: '2', BERTH_INSTANCE_TIMEOUT_SECONDS: '3' });
  try {
    const big = randomBytes(70_000);
    ociError(t, await v2(small.url, `/v2/limit/app/blobs/uploads/?digest=${sha256(big)}`, { method: 'POST', body: big }), 413, 'SIZE_INVALID');
    const start = await v2(small.url, '/v2/limit/app/blobs/uploads/', { method: 'POST' });
    const location = start.headers.get('location')!;
    ociError(t, await v2(small.url, location, { method: 'PATCH', body: big }), 413, 'SIZE_INVALID');
    t.is((await v2(small.url, location)).headers.get('range'), '0-0');
    t.false(await small.blobExists(sha256(big)));

    const blob = randomBytes(50_000);
    await v2(small.url, location, { method: 'PATCH', body: blob.subarray(0, 20_000) });
    await small.restart();
    const resumed = await v2(small.url, location);
    t.is(resumed.status, 204);
    t.is(resumed.headers.get('range'), '0-19999');
    await v2(small.url, location, { method: 'PATCH', body: blob.subarray(20_000), headers: { 'Content-Range': '20000-49999' } });
    t.is((await v2(small.url, `${location}?digest=${sha256(blob)}`, { method: 'PUT' })).status, 201);

    // an idle session ends after the TTL (the instance sweep runs every second here), its file too
    const idle = await v2(small.url, '/v2/limit/app/blobs/uploads/', { method: 'POST' });
    const idleId = idle.headers.get('docker-upload-uuid')!;
    t.deepEqual(await uploadFolders(small), [idleId]);
    // the sweep ends the row, then removes the folder: wait for both, within the same bound
    let gone = false;
    for (let i = 0; i < 80 && !gone; i++) {
      await new Promise((r) => setTimeout(r, 100));
      gone = (await v2(small.url, idle.headers.get('location')!)).status === 404 && (await uploadFolders(small)).length === 0;
    }
    t.true(gone);
    t.deepEqual(await uploadFolders(small), []);
  } finally {
    await small.close();
  }
});

if (process.env.BERTH_TEST_DATABASE_URL) {
  test.serial('PostgreSQL: a session begun through one process is continued and finished through another', async (t) => {
    const { berth } = t.context;
    const peer = await startPeer(berth);
    try {
      const blob = randomBytes(120_000);
      const start = await v2(berth.url, '/v2/peer/app/blobs/uploads/', { method: 'POST' });
      const location = start.headers.get('location')!;
      await v2(berth.url, location, { method: 'PATCH', body: blob.subarray(0, 60_000) });
      t.is((await v2(peer.url, location)).headers.get('range'), '0-59999');
      await v2(peer.url, location, { method: 'PATCH', body: blob.subarray(60_000), headers: { 'Content-Range': '60000-119999' } });
      t.is((await v2(berth.url, `${location}?digest=${sha256(blob)}`, { method: 'PUT' })).status, 201);
      t.true((await v2(peer.url, `/v2/peer/app/blobs/${sha256(blob)}`)).bytes.equals(blob));
      // concurrent pushes through both processes: all land
      const images = Array.from({ length: 4 }, () => makeImage());
      const results = await Promise.all(images.map((image, i) => pushImage(i % 2 ? peer.url : berth.url, 'peer/app', image, `p${i}`)));
      t.deepEqual(results.map((r) => r.status), images.map(() => 201));
      t.is(await berth.latestVersion('peer/app'), images.length);
    } finally {
      await peer.close();
    }
  });
}

