import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { dirEntries, hex, makeImage, tarOf } from './helpers/archives.js';
import { ADMIN_TOKEN, startBerth } from './helpers/server.js';

test('orphan cleanup removes blobs no repository version references and keeps shared ones', async (t) => {
  const berth = await startBerth();
  t.teardown(() => berth.close());
  await berth.api('POST', '/api/v1/repositories', { name: 'gc/a' });
  await berth.api('POST', '/api/v1/repositories', { name: 'gc/b' });
  const shared = makeImage({ layerCount: 1 });
  const onlyA = makeImage({ layers: [...shared.layers, Buffer.from('only in a')] });
  t.is((await berth.importRaw('gc/a', await tarOf(dirEntries(onlyA)), { tag: 'v1' })).status, 201);
  t.is((await berth.importRaw('gc/b', await tarOf(dirEntries(shared)), { tag: 'v1' })).status, 201);
  // A stored file that no blob row describes: what a commit that failed after its rename leaves.
  const stray = `sha256:${'ab'.repeat(32)}`;
  await fs.mkdir(path.join(berth.dataDir, 'blobs/sha256/ab'), { recursive: true });
  await fs.writeFile(path.join(berth.dataDir, 'blobs/sha256/ab', hex(stray)), 'stray');

  const nothing = await berth.api('POST', '/api/v1/orphans/cleanup');
  t.is(nothing.status, 200);
  t.is(nothing.body.removed_blobs, 0);
  t.is(nothing.body.removed_files, 1);
  t.false(await berth.blobExists(stray));
  t.true(await berth.blobExists(onlyA.layerDigests[1]!));

  t.is((await berth.api('DELETE', '/api/v1/repositories/gc/a')).status, 204);
  const res = await berth.api('POST', '/api/v1/orphans/cleanup');
  t.is(res.status, 200);
  t.is(res.body.removed_blobs, 3); // a's manifest, config and its own layer
  t.true(res.body.freed_bytes > 0);
  t.false(await berth.blobExists(onlyA.manifestDigest));
  t.false(await berth.blobExists(onlyA.configDigest));
  t.false(await berth.blobExists(onlyA.layerDigests[1]!));
  t.true(await berth.blobExists(shared.layerDigests[0]!));
  t.true(await berth.blobExists(shared.manifestDigest));
});

test('orphan cleanup during an upload does not take a blob the upload is about to reference', async (t) => {
  const berth = await startBerth();
  t.teardown(() => berth.close());
  await berth.api('POST', '/api/v1/repositories', { name: 'gc/old' });
  await berth.api('POST', '/api/v1/repositories', { name: 'gc/new' });
  const image = makeImage({ layerCount: 2 });
  t.is((await berth.importRaw('gc/old', await tarOf(dirEntries(image)))).status, 201);
  t.is((await berth.api('DELETE', '/api/v1/repositories/gc/old')).status, 204);

  // Upload the same image in full to another repository; stop after its layers are sent (they are
  // already stored, so the upload only pins them), run cleanup, then finish the upload.
  const archive = await tarOf(dirEntries(image));
  const cut = archive.length - 1024; // end-of-archive blocks still to come
  const result = new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = http.request(`${berth.url}/api/v1/repositories/gc/new/imports?tag=v1`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/x-tar', 'Content-Length': String(archive.length) },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.write(archive.subarray(0, cut), async () => {
      await new Promise((r) => setTimeout(r, 300));
      const cleanup = await berth.api('POST', '/api/v1/orphans/cleanup');
      t.is(cleanup.status, 200);
      t.true(cleanup.body.removed_blobs >= 3);
      req.end(archive.subarray(cut));
    });
  });
  const res = await result;
  t.is(res.status, 201, JSON.stringify(res.body));
  for (const d of [image.manifestDigest, image.configDigest, ...image.layerDigests]) t.true(await berth.blobExists(d), d);
  const stored = await fs.readFile(path.join(berth.dataDir, 'blobs/sha256', hex(image.layerDigests[1]!).slice(0, 2), hex(image.layerDigests[1]!)));
  t.deepEqual(stored, image.layers[1]);
  t.deepEqual(await berth.stagingEntries(), []);
});
