// The ownership rule stated in scopes: what a token may pull is what it may reuse. A token that may
// push B but not pull A cannot mount A's blobs into B (it gets an ordinary session, exactly as for a
// repository that does not hold the blob), cannot push a manifest or import an archive into B that
// leans on A's blobs, and cannot read them from A; a token that may also pull A can mount them.
import { randomBytes } from 'node:crypto';
import anyTest, { type TestFn } from 'ava';
import { dirEntries, makeImage, sha256, tarOf } from './helpers/archives.js';
import { startBerth, type TestServer } from './helpers/server.js';

const test = anyTest as TestFn<{ berth: TestServer }>;

test.before(async (t) => {
  t.context.berth = await startBerth();
});
test.after.always(async (t) => {
  await t.context.berth?.close();
});

async function v2(berth: TestServer, secret: string, pathname: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}) {
  const res = await fetch(`${berth.url}${pathname}`, {
    method: opts.method ?? 'GET',
    headers: { Authorization: `Basic ${Buffer.from(`ci:${secret}`).toString('base64')}`, ...opts.headers },
    ...(opts.body !== undefined ? { body: new Uint8Array(opts.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text.startsWith('{') ? JSON.parse(text) : undefined };
}

async function importAs(berth: TestServer, secret: string, repo: string, archive: Buffer) {
  const res = await fetch(`${berth.url}/api/v1/repositories/${repo}/imports?tag=v1`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/x-tar' },
    body: new Uint8Array(archive),
  });
  return { status: res.status, body: await res.json() };
}

test('a token that may push B but not pull A reuses nothing of A: no mount, no manifest, no import, no read', async (t) => {
  const { berth } = t.context;
  const image = makeImage();
  const digests = [image.configDigest, ...image.layerDigests];
  await berth.api('POST', '/api/v1/repositories', { name: 'team-a/app' });
  await berth.api('POST', '/api/v1/repositories', { name: 'team-b/app' });
  t.is((await berth.importRaw('team-a/app', await tarOf(dirEntries(image)), { tag: 'v1' })).status, 201);
  const pusher = await berth.token('b-pusher', [{ repositories: 'team-b/*', actions: ['push'] }]);

  // A mount from A: an ordinary upload session, as from a repository that does not hold the blob.
  const mount = await v2(berth, pusher.secret, `/v2/team-b/app/blobs/uploads/?mount=${image.configDigest}&from=team-a/app`, { method: 'POST' });
  t.is(mount.status, 202);
  t.truthy(mount.headers.get('docker-upload-uuid'));
  const notHeld = await v2(berth, pusher.secret, `/v2/team-b/app/blobs/uploads/?mount=${sha256(randomBytes(8))}&from=team-a/app`, { method: 'POST' });
  t.is(notHeld.status, 202, 'the answer for a hidden source is the answer for a blob the source lacks');
  for (const session of [mount, notHeld]) t.is((await v2(berth, pusher.secret, session.headers.get('location')!, { method: 'DELETE' })).status, 204);
  const held = await v2(berth, pusher.secret, `/v2/team-b/app/blobs/${image.configDigest}`, { method: 'HEAD' });
  t.is(held.status, 404, 'B holds nothing after the refused mount');

  // A manifest whose blobs only A holds.
  const manifest = await v2(berth, pusher.secret, '/v2/team-b/app/manifests/v1', { method: 'PUT', body: image.manifest, headers: { 'Content-Type': image.mediaType } });
  t.is(manifest.status, 400);
  t.is(manifest.json.errors[0].code, 'MANIFEST_BLOB_UNKNOWN');
  t.deepEqual([...manifest.json.errors[0].detail.missing].sort(), [...digests].sort());

  // An import that omits the blobs A holds.
  const omitting = await importAs(berth, pusher.secret, 'team-b/app', await tarOf(dirEntries(image, { omit: digests })));
  t.is(omitting.status, 400);
  t.is(omitting.body.error.code, 'BLOB_UNKNOWN');
  t.is(omitting.body.actor, 'b-pusher');
  t.is(await berth.latestVersion('team-b/app'), 0);

  // Nor may it read them from A: A's name is not even told.
  const read = await v2(berth, pusher.secret, `/v2/team-a/app/blobs/${image.configDigest}`);
  t.is(read.status, 404);
  t.is(read.json.errors[0].code, 'NAME_UNKNOWN');
});

test('a token that may pull A and push B mounts A’s blobs into B, after which B holds them for any B pusher', async (t) => {
  const { berth } = t.context;
  const image = makeImage();
  const digests = [image.configDigest, ...image.layerDigests];
  await berth.api('POST', '/api/v1/repositories', { name: 'src-a/app' });
  t.is((await berth.importRaw('src-a/app', await tarOf(dirEntries(image)), { tag: 'v1' })).status, 201);
  const both = await berth.token('a-reader-b-pusher', [
    { repositories: 'src-a/app', actions: ['pull'] },
    { repositories: 'dst-b/*', actions: ['push'] },
  ]);
  const onlyB = await berth.token('only-b', [{ repositories: 'dst-b/*', actions: ['push'] }]);

  for (const digest of digests) {
    const mount = await v2(berth, both.secret, `/v2/dst-b/app/blobs/uploads/?mount=${digest}&from=src-a/app`, { method: 'POST' });
    t.is(mount.status, 201);
    t.is(mount.headers.get('location'), `/v2/dst-b/app/blobs/${digest}`);
  }
  // dst-b/app was made by the push; its blobs are now B's own, so a B-only token may use them
  const omitting = await importAs(berth, onlyB.secret, 'dst-b/app', await tarOf(dirEntries(image, { omit: digests })));
  t.is(omitting.status, 201);
  t.deepEqual(omitting.body.blobs.map((b: { source: string }) => b.source), digests.map(() => 'repository'));
  t.is(omitting.body.actor, 'only-b');
  const versions = (await berth.api('GET', '/api/v1/repositories/dst-b/app/versions')).body.versions;
  t.deepEqual(versions.map((v: { kind: string; actor: string }) => [v.kind, v.actor]), [
    ['import', 'only-b'],
    ['create', 'a-reader-b-pusher'],
  ]);
});
