// The SQLite data folder is guarded: its database file removed or replaced under a running service
// turns /healthz to 503 and refuses every change (the file's inode is checked), and a second process is
// refused by an exclusive OS-level lock that a removed berth.pid does not defeat.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { dirEntries, makeImage, tarOf } from './helpers/archives.js';
import { RawClient, rawImportHead } from './helpers/hostile.js';
import { runBerthToExit, spawnBerth } from './helpers/process.js';
import { ADMIN_TOKEN, startBerth } from './helpers/server.js';

const test = anyTest as TestFn;
const sqlite = process.env.BERTH_TEST_DATABASE_URL === undefined;

if (sqlite) {
  for (const how of ['removed', 'replaced'] as const) {
    test(`the SQLite file ${how} under a running service turns /healthz to 503 and refuses imports and changes`, async (t) => {
      const berth = await startBerth();
      t.teardown(() => berth.close());
      const repo = await berth.newRepository('guard/app');
      t.is((await fetch(`${berth.url}/healthz`)).status, 200);
      const file = path.join(berth.dataDir, 'berth.db');
      if (how === 'removed') {
        for (const f of [file, `${file}-wal`, `${file}-shm`]) await fs.rm(f, { force: true });
      } else {
        await fs.copyFile(file, `${file}.copy`);
        await fs.rename(`${file}.copy`, file);
      }
      const health = await fetch(`${berth.url}/healthz`);
      t.is(health.status, 503);
      const imported = await berth.importRaw(repo, await tarOf(dirEntries(makeImage())));
      t.is(imported.status, 503);
      t.is(imported.body.error.code, 'DATABASE_UNAVAILABLE');
      t.regex(imported.body.error.message, /removed or replaced/);
      const created = await berth.api('POST', '/api/v1/repositories', { name: 'guard/other' });
      t.is(created.status, 503);
      t.deepEqual(await berth.stagingEntries(), []);
    });
  }

  test('a second process is refused by the OS-level lock even after berth.pid is removed, and the first one keeps its running import', async (t) => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-guard-'));
    t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
    const first = await spawnBerth({ BERTH_DATA_DIR: dataDir });
    t.teardown(() => first.stop());
    const created = await fetch(`${first.url}/api/v1/repositories`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'guard/app' }),
    });
    t.is(created.status, 201);
    // an import in flight in the first process
    const archive = await tarOf(dirEntries(makeImage()));
    const upload = new RawClient(first.url);
    t.teardown(() => upload.close());
    await upload.write(rawImportHead('guard/app', ADMIN_TOKEN, archive.length));
    await upload.write(archive.subarray(0, 1024));
    await new Promise((r) => setTimeout(r, 300));

    await fs.rm(path.join(dataDir, 'berth.pid'));
    const second = await runBerthToExit({ BERTH_DATA_DIR: dataDir });
    t.not(second.code, 0);
    t.regex(second.stderr, /in use by another Berth process/);
    t.regex(second.stderr, /berth\.lock/);

    // the refused start touched nothing: the upload finishes into a new version
    t.is((await fs.readdir(path.join(dataDir, 'staging', 'imports'))).length, 1);
    await upload.write(archive.subarray(1024));
    const answer = await upload.answer(10_000);
    t.is(answer?.status, 201);
    t.is(JSON.parse(answer!.body).version, 1);
  });
}

test('the data folder guard leaves PostgreSQL and a healthy SQLite file alone', async (t) => {
  const berth = await startBerth();
  t.teardown(() => berth.close());
  const repo = await berth.newRepository('guard/ok');
  t.is((await berth.importRaw(repo, await tarOf(dirEntries(makeImage())))).status, 201);
  t.is((await fetch(`${berth.url}/healthz`)).status, 200);
});
