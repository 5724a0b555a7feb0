// Faults get answers of their own, never a 500: a full disk or database (507), a database locked by
// another process (503 with Retry-After), a path that does not decode (400), a hostile multipart part
// header (400, not 499: the client is still there). Uploads keep a free-space headroom, so they fail
// before the metadata writes do.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import anyTest, { type TestFn } from 'ava';
import knexFactory from 'knex';
import { dirEntries, makeImage, tarOf } from './helpers/archives.js';
import { RawClient } from './helpers/hostile.js';
import { ADMIN_TOKEN, startBerth, type TestServer } from './helpers/server.js';

const hooks = anyTest as TestFn<{ berth: TestServer }>;
const test = hooks.serial;
const sqlite = process.env.BERTH_TEST_DATABASE_URL === undefined;

hooks.before(async (t) => {
  t.context.berth = await startBerth();
});
hooks.after.always(async (t) => {
  await t.context.berth?.close();
});

test('a path with a malformed percent-escape is 400 PATH_INVALID', async (t) => {
  const { berth } = t.context;
  for (const p of ['/api/v1/repositories/a%E0%A4%A/tags', '/api/v1/repositories/team%E0%A4%A', '/api/v1/imports/%E0%A4%A']) {
    const res = await berth.api('GET', p);
    t.is(res.status, 400, p);
    t.is(res.body.error.code, 'PATH_INVALID');
  }
  const v2 = await fetch(`${berth.url}/v2/a%E0%A4%A/manifests/x`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  t.true(v2.status >= 400 && v2.status < 500);
});

test('a 200 KB multipart part header is 400 BODY_INVALID with a failed report, not 499', async (t) => {
  const { berth } = t.context;
  const repo = await berth.newRepository('faults/part');
  const boundary = 'berth-boundary';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.tar"\r\nX-Junk: ${'a'.repeat(200_000)}\r\n\r\n`),
    Buffer.alloc(1024),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const client = new RawClient(berth.url);
  await client.write(
    `POST /api/v1/repositories/${repo}/imports HTTP/1.1\r\nHost: berth\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n` +
      `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${body.length}\r\n\r\n`,
  );
  await client.write(body);
  const answer = await client.answer(10_000);
  client.close();
  t.is(answer?.status, 400);
  const report = JSON.parse(answer!.body);
  t.is(report.error.code, 'BODY_INVALID');
  t.is(report.status, 'failed');
  t.deepEqual(await berth.stagingEntries(), []);
});

test('uploads fail with 507 INSUFFICIENT_STORAGE below the free-space headroom, while metadata writes go on', async (t) => {
  const berth = await startBerth({ BERTH_MIN_FREE_BYTES: String(Number.MAX_SAFE_INTEGER) });
  try {
    const repo = await berth.newRepository('faults/full');
    const res = await berth.importRaw(repo, await tarOf(dirEntries(makeImage())));
    t.is(res.status, 507);
    t.is(res.body.error.code, 'INSUFFICIENT_STORAGE');
    t.is(res.body.error.details.rule, 'BERTH_MIN_FREE_BYTES');
    t.deepEqual(await berth.stagingEntries(), []);
    // refused before any metadata write: no import report was made
    t.deepEqual((await berth.api('GET', `/api/v1/imports?repository=${repo}`)).body.imports, []);
    const push = await fetch(`${berth.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    t.is(push.status, 507);
    // the database still takes writes
    t.is((await berth.api('POST', '/api/v1/repositories', { name: 'faults/other' })).status, 201);
  } finally {
    await berth.close();
  }
});

if (sqlite) {
  test('SQLite: a database that cannot grow (SQLITE_FULL) answers 507 INSUFFICIENT_STORAGE, not 500', async (t) => {
    const berth = await startBerth();
    try {
      const { db } = berth.server.services;
      const pages = ((await db.raw('PRAGMA page_count')) as Array<{ page_count: number }>)[0]!.page_count;
      await db.raw(`PRAGMA max_page_count = ${pages}`);
      let status = 0;
      let code = '';
      for (let i = 0; i < 500 && status !== 507; i++) {
        const res = await berth.api('POST', '/api/v1/repositories', { name: `faults/full-${i}-${'x'.repeat(200)}` });
        status = res.status;
        code = res.body.error?.code ?? '';
        if (status !== 201 && status !== 507) break;
      }
      t.is(status, 507);
      t.is(code, 'INSUFFICIENT_STORAGE');
      await db.raw('PRAGMA max_page_count = 1073741823');
      t.is((await berth.api('POST', '/api/v1/repositories', { name: 'faults/after' })).status, 201);
    } finally {
      await berth.close();
    }
  });

  test('SQLite: a database locked by another process answers 503 DATABASE_UNAVAILABLE with Retry-After, then recovers', async (t) => {
    const berth = await startBerth();
    const other = knexFactory({ client: 'sqlite3', connection: { filename: path.join(berth.dataDir, 'berth.db') }, useNullAsDefault: true, pool: { min: 1, max: 1 } });
    try {
      const conn = await other.client.acquireConnection();
      await other.raw('BEGIN EXCLUSIVE').connection(conn);
      const res = await berth.api('POST', '/api/v1/repositories', { name: 'faults/locked' });
      t.is(res.status, 503);
      t.is(res.body.error.code, 'DATABASE_UNAVAILABLE');
      t.regex(res.headers.get('retry-after') ?? '', /^\d+$/);
      await other.raw('ROLLBACK').connection(conn);
      await other.client.releaseConnection(conn);
      t.is((await berth.api('POST', '/api/v1/repositories', { name: 'faults/locked' })).status, 201);
    } finally {
      await other.destroy();
      await berth.close();
    }
  });
}

/** A small tmpfs to hold a data folder, when this process may mount one (root); undefined otherwise. */
function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const tmpfsDir = mkdtempSync(path.join(os.tmpdir(), 'berth-tmpfs-'));
if (process.getuid?.() === 0 && mountTmpfs(tmpfsDir, '6m')) {
  test('a disk that really fills (a 6 MiB tmpfs) fails the upload with 507, removes its staging, and the service goes on', async (t) => {
    const dataDir = path.join(tmpfsDir, 'data');
    const berth = await startBerth({ BERTH_DATA_DIR: dataDir, BERTH_MIN_FREE_BYTES: '0' });
    try {
      const repo = await berth.newRepository('faults/disk');
      const image = makeImage({ layers: [randomBytes(8 * 1024 * 1024)] });
      const res = await berth.importRaw(repo, await tarOf(dirEntries(image)));
      t.is(res.status, 507);
      t.is(res.body.error.code, 'INSUFFICIENT_STORAGE');
      t.deepEqual(await fs.readdir(path.join(dataDir, 'staging', 'imports')), []);
      const small = makeImage();
      t.is((await berth.importRaw(repo, await tarOf(dirEntries(small)))).status, 201);
    } finally {
      await berth.close();
    }
  });
  hooks.after.always(() => {
    execFileSync('umount', [tmpfsDir], { stdio: 'ignore' });
  });
}
hooks.after.always(async () => {
  await fs.rm(tmpfsDir, { recursive: true, force: true });
});
