// `npm run fsck`: finds blobs missing or corrupt (naming the versions that use them), stray files in
// the store and stale staging; `--repair` removes only the strays, orphans and stale staging, and
// never a blob a version uses.
import fs from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { dirEntries, hex, makeImage, tarOf } from './helpers/archives.js';
import { runFsck } from './helpers/process.js';
import { startBerth, type TestServer } from './helpers/server.js';

/** fsck on the data folder and database of a test server. */
function runFsckOn(berth: TestServer, args: string[] = []): ReturnType<typeof runFsck> {
  return runFsck({ BERTH_DATA_DIR: berth.dataDir, ...(berth.databaseUrl ? { DATABASE_URL: berth.databaseUrl } : {}) }, args);
}

const blobFile = (berth: TestServer, digest: string) => path.join(berth.dataDir, 'blobs', 'sha256', hex(digest).slice(0, 2), hex(digest));

test('fsck finds a missing and a corrupt blob, strays and stale staging; --repair removes only what is safe', async (t) => {
  const berth = await startBerth();
  t.teardown(() => berth.close());
  const repo = await berth.newRepository('fsck/app');
  const image = makeImage({ layerCount: 3 });
  t.is((await berth.importRaw(repo, await tarOf(dirEntries(image)), { tag: 'v1' })).status, 201);
  if (!berth.databaseUrl) {
    // with SQLite, fsck needs the data folder: it is refused while Berth runs
    const refused = await runFsckOn(berth);
    t.is(refused.code, 2);
    t.regex(refused.stderr, /in use by another Berth process/);
  }
  await berth.server.close();

  const clean = await runFsckOn(berth);
  t.is(clean.code, 0, clean.stderr);
  t.true(clean.report.ok);
  t.is(clean.report.blobs_checked, 5);
  t.deepEqual([clean.report.missing, clean.report.corrupt, clean.report.orphan_files, clean.report.stale_staging], [[], [], [], []]);

  await fs.rm(blobFile(berth, image.layerDigests[0]!));
  await fs.writeFile(blobFile(berth, image.layerDigests[1]!), 'not the bytes');
  const stray = path.join(berth.dataDir, 'blobs', 'sha256', 'ab', 'not-a-digest.tmp');
  await fs.mkdir(path.dirname(stray), { recursive: true });
  await fs.writeFile(stray, 'x');
  const orphan = Buffer.from('an orphan');
  const orphanDigest = `sha256:${(await import('node:crypto')).createHash('sha256').update(orphan).digest('hex')}`;
  await fs.mkdir(path.dirname(blobFile(berth, orphanDigest)), { recursive: true });
  await fs.writeFile(blobFile(berth, orphanDigest), orphan);
  await fs.mkdir(path.join(berth.dataDir, 'staging', 'imports', '00000000-0000-4000-8000-000000000001'), { recursive: true });
  await fs.mkdir(path.join(berth.dataDir, 'staging', 'uploads', '00000000-0000-4000-8000-000000000002'), { recursive: true });

  const found = await runFsckOn(berth);
  t.is(found.code, 1);
  t.false(found.report.ok);
  t.deepEqual(found.report.missing.map((m: { digest: string }) => m.digest), [image.layerDigests[0]]);
  t.regex(found.report.missing[0].referenced_by.join(), /fsck\/app-1 versions 1\.\.latest/);
  t.deepEqual(found.report.corrupt.map((m: { digest: string }) => m.digest), [image.layerDigests[1]]);
  t.true(found.report.orphan_files.includes('blobs/sha256/ab/not-a-digest.tmp'));
  t.true(found.report.orphan_files.includes(`blobs/sha256/${hex(orphanDigest).slice(0, 2)}/${hex(orphanDigest)}`));
  t.deepEqual(found.report.stale_staging.sort(), ['staging/imports/00000000-0000-4000-8000-000000000001', 'staging/uploads/00000000-0000-4000-8000-000000000002']);

  const repaired = await runFsckOn(berth, ['--repair']);
  t.is(repaired.code, 1); // the missing and corrupt blobs are not repairable
  t.is(repaired.report.repaired.removed_staging, 2);
  t.is(repaired.report.repaired.removed_files, 2);
  const after = await runFsckOn(berth);
  t.deepEqual([after.report.orphan_files, after.report.stale_staging], [[], []]);
  t.is(after.report.corrupt.length, 1);
  t.is(after.report.missing.length, 1);
  // the corrupt blob a version uses is still there, for a restore to replace
  t.is(await fs.readFile(blobFile(berth, image.layerDigests[1]!), 'utf8'), 'not the bytes');
});
