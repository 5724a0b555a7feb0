// The one ownership rule: a repository holds what its latest version holds plus the blobs held for it
// (unexpired rows of held_blobs, which pushes and interrupted imports fill). The rows are written here
// directly, as those writers would; the import, /v2 and orphan cleanup must all honour them.
import test from 'ava';
import { dirEntries, makeImage, tarOf } from './helpers/archives.js';
import { startBerth } from './helpers/server.js';

test('a blob held for a repository counts for its imports and /v2 reads, for no other repository, and only until it expires', async (t) => {
  const berth = await startBerth();
  t.teardown(() => berth.close());
  const db = berth.server.services.db;
  const a = await berth.newRepository('own-a');
  const b = await berth.newRepository('own-b');
  // Bring the layer's bytes into the store through repository a, then delete a: the bytes stay (no
  // cleanup ran), but no repository holds them any more.
  const image = makeImage({ layerCount: 2 });
  t.is((await berth.importRaw(a, await tarOf(dirEntries(image)))).status, 201);
  const withoutLayer0 = await tarOf(dirEntries(image, { omit: [image.layerDigests[0]!] }));

  // b does not hold layer 0: omitting it is BLOB_UNKNOWN.
  const refused = await berth.importRaw(b, withoutLayer0);
  t.is(refused.status, 400);
  t.deepEqual(refused.body.error.details.missing, [image.layerDigests[0]]);
  // What arrived whole in that failed import (config, layer 1) is held for b from now on; the manifest
  // (a file not named by its digest) is not.
  const heldAfterFailure = await db('held_blobs').join('repositories', 'repositories.id', 'held_blobs.repository_id').where('repositories.name', b).select('digest', 'source');
  t.deepEqual(heldAfterFailure.map((r: { digest: string }) => r.digest).sort(), [image.configDigest, image.layerDigests[1]!].sort());
  t.true(heldAfterFailure.every((r: { source: string }) => r.source === 'import'));

  const { id: bId } = await db('repositories').where({ name: b }).first();
  const future = new Date(Date.now() + 3600_000).toISOString();
  const past = new Date(Date.now() - 1000).toISOString();
  await db('held_blobs').insert({ repository_id: bId, digest: image.layerDigests[0], source: 'upload', held_at: past, expires_at: past });
  t.is((await berth.importRaw(b, withoutLayer0)).status, 400, 'an expired hold does not count');

  await db('held_blobs').where({ repository_id: bId }).update({ expires_at: future });
  const blobPath = `/v2/${b}/blobs/${image.layerDigests[0]}`;
  const head = await fetch(`${berth.url}${blobPath}`, { method: 'HEAD', headers: { Authorization: `Bearer ${berth.server.adminToken}` } });
  t.is(head.status, 200, 'a held blob is served by the repository that holds it');
  t.is(head.headers.get('docker-content-digest'), image.layerDigests[0]!);

  // a third repository does not see b's held blob
  const c = await berth.newRepository('own-c');
  const other = await fetch(`${berth.url}/v2/${c}/blobs/${image.layerDigests[0]}`, { method: 'HEAD', headers: { Authorization: `Bearer ${berth.server.adminToken}` } });
  t.is(other.status, 404);

  // orphan cleanup keeps a held blob even when no version references it
  t.is((await berth.api('DELETE', `/api/v1/repositories/${a}`)).status, 204);
  await berth.api('POST', '/api/v1/orphans/cleanup');
  t.true(await berth.blobExists(image.layerDigests[0]!));
  t.true(await berth.blobExists(image.layerDigests[1]!), 'held for b since its failed import');
  t.false(await berth.blobExists(image.manifestDigest));

  // the import now succeeds, the held blob enters the version and its hold ends
  const accepted = await berth.importRaw(b, await tarOf(dirEntries(image, { omit: [image.layerDigests[0]!] })), { tag: 'v1' });
  t.is(accepted.status, 201);
  t.is(accepted.body.blobs.find((x: { digest: string }) => x.digest === image.layerDigests[0]).source, 'repository');
  t.deepEqual(await db('held_blobs').where({ repository_id: bId }), []);
  const version = await berth.api('GET', `/api/v1/repositories/${b}/versions/1`);
  t.true(version.body.blobs.some((x: { digest: string }) => x.digest === image.layerDigests[0]));

  // once a hold expires and nothing references the blob, cleanup takes it
  await db('held_blobs').insert({ repository_id: bId, digest: image.configDigest, source: 'upload', held_at: past, expires_at: past });
  t.is((await berth.api('DELETE', `/api/v1/repositories/${b}`)).status, 204);
  await berth.api('POST', '/api/v1/orphans/cleanup');
  t.false(await berth.blobExists(image.layerDigests[0]!));
});
