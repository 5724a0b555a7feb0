// Several Berth processes on one database and one data folder: version commits serialized by the
// database, recovery after a process that is gone, and a database outage. On SQLite (the default
// run) the concurrency goes through one process, and a second process on the data folder is refused.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import knexFactory from 'knex';
import { dirEntries, type Image, makeImage, tarOf } from './helpers/archives.js';
import { type BerthProcess, runBerthToExit, spawnBerth } from './helpers/process.js';
import { ADMIN_TOKEN, freshPostgres, startBerth, startPeer, testConfig } from './helpers/server.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { connect, migrateDown, migrateLatest } from '../src/db/connect.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/server.js';

const pgBase = process.env.BERTH_TEST_DATABASE_URL;
const IMPORTS = 12;
const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };

async function api(url: string, method: string, pathname: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${pathname}`, {
    method,
    headers: { ...auth, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function importRaw(url: string, repo: string, archive: Buffer, tag: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/api/v1/repositories/${repo}/imports?tag=${tag}`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/x-tar' },
    body: new Uint8Array(archive),
  });
  return { status: res.status, body: await res.json() };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const tempDir = () => fs.mkdtemp(path.join(os.tmpdir(), 'berth-scaleout-'));

test(
  pgBase
    ? `${IMPORTS} concurrent imports with different tags into one repository through two processes on one PostgreSQL database and one data folder make versions 1..${IMPORTS} holding every tag`
    : `${IMPORTS} concurrent imports with different tags into one repository through one SQLite process make versions 1..${IMPORTS} holding every tag`,
  async (t) => {
    const dataDir = await tempDir();
    const pg = pgBase ? await freshPostgres(pgBase) : undefined;
    const env = { BERTH_DATA_DIR: dataDir, ...(pg ? { DATABASE_URL: pg.url } : {}) };
    const processes: BerthProcess[] = [];
    t.teardown(async () => {
      await Promise.all(processes.map((p) => p.stop()));
      await pg?.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    });
    // Both start at once on the fresh database: one migrates while the other waits for it.
    const started = await Promise.allSettled(Array.from({ length: pg ? 2 : 1 }, () => spawnBerth(env)));
    for (const s of started) if (s.status === 'fulfilled') processes.push(s.value);
    t.deepEqual(
      started.map((s) => s.status),
      started.map(() => 'fulfilled'),
      started.map((s) => (s.status === 'rejected' ? String(s.reason) : '')).join('\n'),
    );
    const urls = processes.map((p) => p.url);

    t.is((await api(urls[0]!, 'POST', '/api/v1/repositories', { name: 'fleet/app' })).status, 201);
    // Every image shares one base layer, so the concurrent commits also race on the same blob.
    const base = randomBytes(4096);
    const images: Image[] = Array.from({ length: IMPORTS }, () => makeImage({ layers: [base, randomBytes(2048)] }));
    const archives = await Promise.all(images.map((image) => tarOf(dirEntries(image))));

    const results = await Promise.all(archives.map((archive, i) => importRaw(urls[i % urls.length]!, 'fleet/app', archive, `t${i}`)));

    t.deepEqual(
      results.map((r) => r.status),
      Array(IMPORTS).fill(201),
      JSON.stringify(results.filter((r) => r.status !== 201).map((r) => r.body)),
    );
    t.deepEqual(
      results.map((r) => r.body.version as number).sort((a, b) => a - b),
      Array.from({ length: IMPORTS }, (_, i) => i + 1),
    );
    for (const url of urls) {
      const repo = await api(url, 'GET', '/api/v1/repositories/fleet/app');
      t.is(repo.body.latest_version, IMPORTS);
      const versions = await api(url, 'GET', '/api/v1/repositories/fleet/app/versions?limit=1000');
      t.deepEqual(
        versions.body.versions.map((v: { number: number }) => v.number),
        Array.from({ length: IMPORTS + 1 }, (_, i) => IMPORTS - i),
      );
      const byVersion = new Map(results.map((r) => [r.body.version as number, r.body.id as string]));
      for (const v of versions.body.versions as Array<{ number: number; import_id: string | null }>) {
        if (v.number > 0) t.is(v.import_id, byVersion.get(v.number) ?? null);
      }
      const tags = await api(url, 'GET', '/api/v1/repositories/fleet/app/tags');
      t.deepEqual(
        tags.body.tags,
        images.map((image, i) => ({ name: `t${i}`, digest: image.manifestDigest })).sort((a, b) => (a.name < b.name ? -1 : 1)),
      );
    }
    // No import saw a half-made version: each version holds every manifest of the one before plus its own.
    let previous: string[] = [];
    for (let n = 1; n <= IMPORTS; n++) {
      const version = (await api(urls[n % urls.length]!, 'GET', `/api/v1/repositories/fleet/app/versions/${n}`)).body;
      const manifests = version.manifests.map((m: { digest: string }) => m.digest).sort();
      const added = version.added.manifests.map((m: { digest: string }) => m.digest);
      t.is(added.length, 1);
      t.deepEqual(manifests, [...previous, ...added].sort());
      t.is(version.tags.length, n);
      previous = manifests;
    }
    // Both processes serve every tag's manifest from the shared store.
    for (const url of urls) {
      for (const i of [0, IMPORTS - 1]) {
        const res = await fetch(`${url}/v2/fleet/app/manifests/t${i}`, { headers: { ...auth, Accept: images[i]!.mediaType } });
        t.is(res.status, 200);
        t.deepEqual(Buffer.from(await res.arrayBuffer()), images[i]!.manifest);
      }
    }
    t.deepEqual((await api(urls[0]!, 'GET', '/api/v1/imports?status=running')).body.imports, []);
    t.deepEqual(await fs.readdir(path.join(dataDir, 'staging', 'imports')), []);
  },
);

test(`the migrations roll back to an empty database and forward again on ${pgBase ? 'PostgreSQL' : 'SQLite'}`, async (t) => {
  const dataDir = await tempDir();
  const pg = pgBase ? await freshPostgres(pgBase) : undefined;
  const db = connect({ databaseUrl: pg?.url, sqliteFile: path.join(dataDir, 'berth.db') });
  t.teardown(async () => {
    await db.destroy();
    await pg?.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  await migrateLatest(db);
  t.true(await db.schema.hasTable('instances'));
  t.true(await db.schema.hasTable('imports'));
  await migrateDown(db);
  for (const table of ['instances', 'imports', 'repositories', 'repository_versions', 'repository_content', 'repository_tags', 'blobs']) {
    t.false(await db.schema.hasTable(table), table);
  }
  await migrateLatest(db);
  t.true(await db.schema.hasTable('instances'));
  await db('instances').insert({ id: 'x', hostname: 'h', pid: 1, started_at: 'a', heartbeat_at: 'b' });
  t.is((await db('instances').select('id')).length, 1);
});

test('a second process on a SQLite data folder is refused while the first runs, and starts once it stopped', async (t) => {
  const dataDir = await tempDir();
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const first = await spawnBerth({ BERTH_DATA_DIR: dataDir });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : first.stop()));

  const second = await runBerthToExit({ BERTH_DATA_DIR: dataDir });
  t.not(second.code, 0);
  t.regex(second.stderr, /in use by another Berth process \(pid \d+/);
  t.regex(second.stderr, /use PostgreSQL \(DATABASE_URL\)/);
  // The refused start touched nothing: the first process still answers.
  t.is((await fetch(`${first.url}/healthz`)).status, 200);
  const pidFile = JSON.parse(await fs.readFile(path.join(dataDir, 'berth.pid'), 'utf8'));
  t.is(pidFile.pid, first.pid);

  await first.stop();
  stopped = true;
  await t.throwsAsync(fs.stat(path.join(dataDir, 'berth.pid')), { code: 'ENOENT' });
  const third = await spawnBerth({ BERTH_DATA_DIR: dataDir });
  t.is((await fetch(`${third.url}/healthz`)).status, 200);
  await third.stop();
});

test('a SQLite data folder lock left by a killed process is taken over on the next start', async (t) => {
  const dataDir = await tempDir();
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const killed = await spawnBerth({ BERTH_DATA_DIR: dataDir });
  process.kill(killed.pid, 'SIGKILL');
  await killed.stop();
  const left = JSON.parse(await fs.readFile(path.join(dataDir, 'berth.pid'), 'utf8'));
  t.is(left.pid, killed.pid);

  const next = await spawnBerth({ BERTH_DATA_DIR: dataDir });
  t.teardown(() => next.stop());
  t.is((await fetch(`${next.url}/healthz`)).status, 200);
  t.is(JSON.parse(await fs.readFile(path.join(dataDir, 'berth.pid'), 'utf8')).pid, next.pid);
});

test('an import whose session ended without writing its report is recorded as failed DATABASE_UNAVAILABLE by its own process; one with a staging folder is left running', async (t) => {
  const berth = await startBerth({ BERTH_INSTANCE_TIMEOUT_SECONDS: '2' });
  t.teardown(() => berth.close());
  await berth.api('POST', '/api/v1/repositories', { name: 'lost/app' });
  const db = berth.server.services.db;
  const row = (id: string) => ({
    id,
    repository: 'lost/app',
    status: 'running',
    manifests: '[]',
    blobs: '[]',
    bytes_received: 0,
    created_at: new Date().toISOString(),
    instance_id: berth.server.services.instanceId,
  });
  // What fail() leaves when the database is down as it records the failure: staging removed, row running.
  const lost = '22222222-2222-4222-8222-222222222222';
  // An upload in progress: its staging folder exists.
  const live = '33333333-3333-4333-8333-333333333333';
  await db('imports').insert([row(lost), row(live)]);
  await fs.mkdir(path.join(berth.dataDir, 'staging', 'imports', live));

  const report = await until('the lost report', async () => {
    const r = await berth.api('GET', `/api/v1/imports/${lost}`);
    return r.body.status === 'running' ? undefined : r.body;
  });
  t.is(report.status, 'failed');
  t.is(report.error.code, 'DATABASE_UNAVAILABLE');
  t.is((await berth.api('GET', `/api/v1/imports/${live}`)).body.status, 'running');
  t.deepEqual(await berth.stagingEntries(), [live]);
  await fs.rm(path.join(berth.dataDir, 'staging', 'imports', live), { recursive: true });
});

test('staging folders of imports that are not running are removed once older than the heartbeat timeout; a running import\'s folder stays', async (t) => {
  const berth = await startBerth({ BERTH_INSTANCE_TIMEOUT_SECONDS: '10' });
  t.teardown(() => berth.close());
  await berth.api('POST', '/api/v1/repositories', { name: 'leftover/app' });
  const staging = path.join(berth.dataDir, 'staging', 'imports');
  const old = new Date(Date.now() - 3600_000);
  const running = '77777777-7777-4777-8777-777777777777';
  await berth.server.services.db('imports').insert({
    id: running,
    repository: 'leftover/app',
    status: 'running',
    manifests: '[]',
    blobs: '[]',
    bytes_received: 0,
    created_at: old.toISOString(),
    instance_id: berth.server.services.instanceId,
  });
  const failed = (await berth.importRaw('leftover/app', Buffer.from('not a tar'))).body.id as string;
  const unknown = '88888888-8888-4888-8888-888888888888';
  const fresh = '99999999-9999-4999-8999-999999999999';
  for (const id of [running, failed, unknown, fresh]) {
    await fs.mkdir(path.join(staging, id));
    await fs.writeFile(path.join(staging, id, '0'), 'left');
    if (id !== fresh) await fs.utimes(path.join(staging, id), old, old);
  }
  await until('the old folders to go', async () => {
    const entries = await fs.readdir(staging);
    return entries.includes(failed) || entries.includes(unknown) ? undefined : true;
  });
  t.deepEqual((await fs.readdir(staging)).sort(), [running, fresh].sort());
  await berth.server.services.db('imports').where({ id: running }).update({ status: 'failed' });
  for (const id of [running, fresh]) await fs.rm(path.join(staging, id), { recursive: true });
});

const pgOnly = pgBase ? test : test.skip;

pgOnly(
  `${pgBase ? '' : '[PostgreSQL only: set BERTH_TEST_DATABASE_URL; SQLite is one process, see recovery.test.ts] '}a starting process fails with INTERRUPTED the running imports of instances whose heartbeat stopped and removes only their staging folders`,
  async (t) => {
    const berth = await startBerth({ BERTH_INSTANCE_TIMEOUT_SECONDS: '30' });
    t.teardown(() => berth.close());
    await berth.api('POST', '/api/v1/repositories', { name: 'stale/app' });
    const db = berth.server.services.db;
    const old = new Date(Date.now() - 3600_000).toISOString();
    await db('instances').insert({ id: 'dead-instance', hostname: 'gone', pid: 1, started_at: old, heartbeat_at: old });
    const row = (id: string, instance: string | null) => ({
      id,
      repository: 'stale/app',
      status: 'running',
      manifests: '[]',
      blobs: '[]',
      bytes_received: 10,
      created_at: old,
      instance_id: instance,
    });
    const dead = '44444444-4444-4444-8444-444444444444';
    const unregistered = '55555555-5555-4555-8555-555555555555';
    const alive = '66666666-6666-4666-8666-666666666666';
    await db('imports').insert([row(dead, 'dead-instance'), row(unregistered, 'never-registered'), row(alive, berth.server.services.instanceId)]);
    for (const id of [dead, unregistered, alive]) {
      await fs.mkdir(path.join(berth.dataDir, 'staging', 'imports', id));
      await fs.writeFile(path.join(berth.dataDir, 'staging', 'imports', id, '0'), 'partial');
    }

    const peer = await startPeer(berth);
    t.teardown(() => peer.close());

    for (const id of [dead, unregistered]) {
      const report = (await berth.api('GET', `/api/v1/imports/${id}`)).body;
      t.is(report.status, 'failed', id);
      t.is(report.error.code, 'INTERRUPTED');
    }
    t.is((await berth.api('GET', `/api/v1/imports/${alive}`)).body.status, 'running');
    t.deepEqual(await berth.stagingEntries(), [alive]);
    t.deepEqual(await db('instances').where({ id: 'dead-instance' }), []);
    t.deepEqual((await db('instances').orderBy('id').select('id')).map((r: { id: string }) => r.id).sort(), [
      berth.server.services.instanceId,
      peer.services.instanceId,
    ].sort());
    await fs.rm(path.join(berth.dataDir, 'staging', 'imports', alive), { recursive: true });
    await db('imports').where({ id: alive }).update({ status: 'failed' });
  },
);

pgOnly(
  `${pgBase ? '' : '[PostgreSQL only: set BERTH_TEST_DATABASE_URL] '}three servers starting at the same moment on a fresh PostgreSQL database and an empty data folder all start: one migrates, the others wait for it, and all share one generated admin token`,
  async (t) => {
    const pg = await freshPostgres(pgBase!);
    const dataDir = await tempDir();
    const config = testConfig(dataDir, { BERTH_ADMIN_TOKEN: '', BERTH_SHUTDOWN_GRACE_SECONDS: '1', DATABASE_URL: pg.url });
    const log = createLogger(config.logLevel);
    const started = await Promise.allSettled([0, 1, 2].map(() => startServer(config, log)));
    const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    t.teardown(async () => {
      await Promise.all(servers.map((s) => s.close()));
      await pg.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    });
    t.deepEqual(
      started.map((s) => (s.status === 'rejected' ? String(s.reason) : 'started')),
      ['started', 'started', 'started'],
    );
    const token = (await fs.readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim();
    t.regex(token, /^[A-Za-z0-9_-]{43}$/);
    for (const s of servers) {
      t.is(s.adminToken, token);
      t.is((await fetch(`${s.url}/healthz`)).status, 200);
      t.is((await fetch(`${s.url}/api/v1/repositories`, { headers: { Authorization: `Bearer ${token}` } })).status, 200);
    }
    t.deepEqual((await fs.readdir(dataDir)).filter((n) => n.startsWith('admin-token')), ['admin-token']);
    t.is((await servers[0]!.services.db('instances').select('id')).length, 3);
  },
);

/** Sends a raw tar import whose body is written in two halves, the second when `release` is called. */
function slowImport(url: string, repo: string, archive: Buffer): { release(): void; response: Promise<{ status: number; body: any }> } {
  const req = http.request(`${url}/api/v1/repositories/${repo}/imports?tag=slow`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/x-tar' },
  });
  const response = new Promise<{ status: number; body: any }>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  req.write(archive.subarray(0, 1024));
  return {
    release() {
      req.end(archive.subarray(1024));
    },
    response,
  };
}

pgOnly(
  `${pgBase ? '' : '[PostgreSQL only: set BERTH_TEST_DATABASE_URL] '}when a process is killed mid-upload, the other process fails that import with INTERRUPTED and empties its staging folder within the heartbeat timeout`,
  async (t) => {
    const dataDir = await tempDir();
    const pg = await freshPostgres(pgBase!);
    const env = { BERTH_DATA_DIR: dataDir, DATABASE_URL: pg.url, BERTH_INSTANCE_TIMEOUT_SECONDS: '3' };
    const survivor = await spawnBerth(env);
    const victim = await spawnBerth(env);
    t.teardown(async () => {
      await Promise.all([survivor.stop(), victim.stop()]);
      await pg.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    });
    t.is((await api(survivor.url, 'POST', '/api/v1/repositories', { name: 'killed/app' })).status, 201);

    const slow = slowImport(victim.url, 'killed/app', await tarOf(dirEntries(makeImage({ layerCount: 3 }))));
    slow.response.catch(() => undefined);
    const [id] = await until('the upload to begin', async () => {
      const entries = await fs.readdir(path.join(dataDir, 'staging', 'imports'));
      return entries.length === 1 ? entries : undefined;
    });
    // an upload shows as running once it has lasted RUNNING_REPORT_AFTER_MS (services/report-row.ts)
    await until('the report to show running', async () => ((await api(survivor.url, 'GET', `/api/v1/imports/${id}`)).body.status === 'running' ? true : undefined));
    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');

    const report = await until('the survivor to fail the import', async () => {
      const r = await api(survivor.url, 'GET', `/api/v1/imports/${id}`);
      return r.body.status === 'running' ? undefined : r.body;
    });
    const took = Date.now() - killedAt;
    t.is(report.status, 'failed');
    t.is(report.error.code, 'INTERRUPTED');
    // stale 3 s after its last heartbeat, noticed on the next tick (every 1 s); the rest is slack for a busy machine
    t.true(took < 3000 + 4000, `took ${took} ms`);
    // The sweep fails the report first, then removes the folder: wait for both.
    await until('the staging folder to be emptied', async () => ((await fs.readdir(path.join(dataDir, 'staging', 'imports'))).length === 0 ? true : undefined), 4000);
    t.deepEqual(await fs.readdir(path.join(dataDir, 'staging', 'imports')), []);
    // The repository is unchanged and the survivor goes on importing.
    const after = await importRaw(survivor.url, 'killed/app', await tarOf(dirEntries(makeImage())), 'after');
    t.is(after.status, 201);
    t.is(after.body.version, 1);
  },
);

pgOnly(
  `${pgBase ? '' : '[PostgreSQL only: set BERTH_TEST_DATABASE_URL] '}a database outage: /healthz answers 503 quickly, imports fail with DATABASE_UNAVAILABLE leaving staging empty, and the service recovers when the database does`,
  async (t) => {
    const berth = await startBerth({ BERTH_INSTANCE_TIMEOUT_SECONDS: '3' });
    t.teardown(() => berth.close());
    const dbName = new URL(berth.databaseUrl!).pathname.slice(1);
    const admin = knexFactory({ client: 'pg', connection: pgBase!, pool: { min: 0, max: 1 } });
    const allow = (yes: boolean) => admin.raw(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS ${yes ? 'true' : 'false'}`);
    t.teardown(async () => {
      await allow(true);
      await admin.destroy();
    });

    t.is((await berth.api('POST', '/api/v1/repositories', { name: 'outage/app' })).status, 201);
    t.is((await berth.importRaw('outage/app', await tarOf(dirEntries(makeImage())), { tag: 'before' })).status, 201);

    // An upload that has begun (report row written, staging folder made) before the database goes.
    const slow = slowImport(berth.url, 'outage/app', await tarOf(dirEntries(makeImage({ layerCount: 3 }))));
    const [slowId] = await until('the slow import to begin', async () => {
      const entries = await berth.stagingEntries();
      return entries.length === 1 ? entries : undefined;
    });

    await allow(false);
    await admin.raw('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ?', [dbName]);

    const started = Date.now();
    const health = await fetch(`${berth.url}/healthz`);
    const elapsed = Date.now() - started;
    t.is(health.status, 503);
    t.is(((await health.json()) as { error: { code: string } }).error.code, 'DATABASE_UNAVAILABLE');
    t.true(elapsed <= 2000, `healthz took ${elapsed} ms`);

    const during = await berth.importRaw('outage/app', await tarOf(dirEntries(makeImage())), { tag: 'during' });
    t.is(during.status, 503);
    t.is(during.body.error.code, 'DATABASE_UNAVAILABLE');
    t.deepEqual(await berth.stagingEntries(), [slowId]);

    slow.release();
    const slowResult = await slow.response;
    t.is(slowResult.status, 503);
    t.is(slowResult.body.error.code, 'DATABASE_UNAVAILABLE');
    t.deepEqual(await berth.stagingEntries(), []);

    await allow(true);
    await until('healthz 200', async () => ((await fetch(`${berth.url}/healthz`)).status === 200 ? true : undefined));

    // The failure could not be written while the database was down; the process records it once it is
    // back (its next sweep). Until then the report is running, or not written at all (an upload that
    // had not yet lasted long enough for its running row when the database went).
    const report = await until('the slow import report', async () => {
      const r = await berth.api('GET', `/api/v1/imports/${slowId}`);
      return r.status !== 200 || r.body.status === 'running' ? undefined : r.body;
    });
    t.is(report.status, 'failed');
    t.is(report.error.code, 'DATABASE_UNAVAILABLE');
    t.is(report.version, null);

    const after = await berth.importRaw('outage/app', await tarOf(dirEntries(makeImage())), { tag: 'after' });
    t.is(after.status, 201);
    t.is(after.body.version, 2);
    const versions = await berth.api('GET', '/api/v1/repositories/outage/app/versions');
    t.deepEqual(versions.body.versions.map((v: { number: number }) => v.number), [2, 1, 0]);
    t.deepEqual((await berth.api('GET', '/api/v1/repositories/outage/app/tags')).body.tags.map((x: { name: string }) => x.name), ['after', 'before']);
    t.deepEqual((await berth.api('GET', '/api/v1/imports?status=running')).body.imports, []);
    t.deepEqual(await berth.stagingEntries(), []);
  },
);


pgOnly(
  `${pgBase ? '' : '[PostgreSQL only: set BERTH_TEST_DATABASE_URL] '}while the network to the database goes silent, /healthz answers 503 within 2 s instead of hanging, and 200 once it answers again`,
  async (t) => {
    const pg = await freshPostgres(pgBase!);
    const base = new URL(pgBase!);
    const proxy = await startTcpProxy({ host: base.hostname, port: Number(base.port || 5432) });
    const dataDir = await tempDir();
    const url = new URL(pg.url);
    url.port = String(proxy.port);
    const config = testConfig(dataDir, { BERTH_SHUTDOWN_GRACE_SECONDS: '1', BERTH_INSTANCE_TIMEOUT_SECONDS: '3', DATABASE_URL: url.toString() });
    const server = await startServer(config, createLogger(config.logLevel));
    t.teardown(async () => {
      proxy.restore();
      await server.close();
      await proxy.close();
      await pg.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    });
    t.is((await api(server.url, 'POST', '/api/v1/repositories', { name: 'partition/app' })).status, 201);
    t.is((await fetch(`${server.url}/healthz`)).status, 200);

    proxy.silence();
    // The first probe finds a pooled connection whose query never returns; the next ones must open
    // a connection that never completes. Both are cut short.
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const res = await fetch(`${server.url}/healthz`);
      const elapsed = Date.now() - started;
      t.is(res.status, 503);
      t.true(elapsed <= 2000, `healthz took ${elapsed} ms`);
    }

    proxy.restore();
    await until('healthz 200', async () => ((await fetch(`${server.url}/healthz`)).status === 200 ? true : undefined));
    const image = makeImage();
    const res = await importRaw(server.url, 'partition/app', await tarOf(dirEntries(image)), 'after');
    t.is(res.status, 201);
    t.is(res.body.version, 1);
  },
);
