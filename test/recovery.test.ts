import fs from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { dirEntries, makeImage, tarOf } from './helpers/archives.js';
import { startBerth } from './helpers/server.js';

test('on restart, import staging leftovers are removed and running imports are marked failed; upload sessions stay', async (t) => {
  const berth = await startBerth();
  t.teardown(() => berth.close());
  await berth.api('POST', '/api/v1/repositories', { name: 'crash/app' });
  t.is((await berth.importRaw('crash/app', await tarOf(dirEntries(makeImage())), { tag: 'v1' })).status, 201);
  const db = berth.server.services.db;
  // What a process killed mid-upload leaves: a running report and a half-written staging folder.
  await db('imports').insert({
    id: '11111111-1111-4111-8111-111111111111',
    repository: 'crash/app',
    status: 'running',
    manifests: '[]',
    blobs: '[]',
    bytes_received: 123,
    created_at: new Date().toISOString(),
  });
  await fs.mkdir(path.join(berth.dataDir, 'staging', 'imports', '11111111-1111-4111-8111-111111111111'));
  await fs.writeFile(path.join(berth.dataDir, 'staging', 'imports', '11111111-1111-4111-8111-111111111111', '0'), 'partial');
  // An upload session's folder lives by its own expiry, not by the imports' restart clean-up.
  const session = path.join(berth.dataDir, 'staging', 'uploads', '22222222-2222-4222-8222-222222222222');
  await fs.mkdir(session, { recursive: true });
  await fs.writeFile(path.join(session, 'data'), 'resumable');
  // On SQLite everything running is from before the restart; on PostgreSQL this import has no live
  // instance behind it (no instance_id), so the stale-instance sweep ends it the same way.
  await berth.restart();
  t.deepEqual(await berth.stagingEntries(), []);
  t.is(await fs.readFile(path.join(session, 'data'), 'utf8'), 'resumable');
  const report = await berth.api('GET', '/api/v1/imports/11111111-1111-4111-8111-111111111111');
  t.is(report.body.status, 'failed');
  t.is(report.body.error.code, 'INTERRUPTED');
  const repo = await berth.api('GET', '/api/v1/repositories/crash/app');
  t.is(repo.body.latest_version, 1);
});
