// `npm run bench:scale`: what a repository's size costs. One Berth, two repositories: `bench/empty`
// (one import) and `bench/big`, seeded through the import API with V versions, 2V tags and 5V blobs
// (each version one docker-archive image with four layers and two RepoTags). Then each operation is
// timed alternately in both, and its median in the big one is set beside the empty one (target
// ≤ 1.2×): an import, a tag change, GET /v2 manifest by tag, tags/list?n=100, the versions list, one
// version (the latest and one from the middle).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import knexFactory from 'knex';
import { dockerArchiveEntries, dirEntries, makeImage, tarOf } from '../test/helpers/archives.js';
import { BerthProcess, expectImported } from './berth.js';
import { median, ms, percentile, type Row, table } from './report.js';

const REPO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `npm run bench:scale -- [--versions N] [--samples N] [--concurrency N] [--database-url URL] [--lock FILE] [--tsx] [--dir PATH] [--keep]

  --versions N        versions of the big repository (default 10000; 2N tags, 5N blobs)
  --samples N         timed samples of each operation in each repository (default 40)
  --concurrency N     concurrent imports while seeding (default 4)
  --database-url URL  run Berth on this PostgreSQL database (default: SQLite in the bench folder)
  --lock FILE         hold an exclusive flock on FILE while timing (not while seeding)
  --tsx               run Berth from src/ through tsx instead of building dist/
  --dir PATH          where the bench folder is made (default ./.bench)
  --keep              keep the bench folder`;

const log = (message: string): void => console.error(`[bench:scale ${new Date().toISOString().slice(11, 19)}] ${message}`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      versions: { type: 'string', default: '10000' },
      samples: { type: 'string', default: '40' },
      concurrency: { type: 'string', default: '4' },
      'database-url': { type: 'string' },
      lock: { type: 'string' },
      tsx: { type: 'boolean', default: false },
      dir: { type: 'string', default: path.join(REPO_DIR, '.bench') },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return void console.log(USAGE);
  const versions = Number(values.versions);
  const samples = Number(values.samples);
  const concurrency = Number(values.concurrency);
  if (![versions, samples, concurrency].every((n) => Number.isSafeInteger(n) && n > 0)) throw new Error(`bad numbers\n${USAGE}`);
  if (!values.tsx) {
    log('building dist/ (npm run build)');
    if (spawnSync('npm', ['run', '--silent', 'build'], { cwd: REPO_DIR, stdio: 'inherit' }).status !== 0) throw new Error('npm run build failed');
  }
  await fs.mkdir(values.dir, { recursive: true });
  const work = await fs.mkdtemp(path.join(values.dir, 'scale-'));
  const berth = await BerthProcess.start({
    repoDir: REPO_DIR,
    dataDir: path.join(work, 'data'),
    tsx: values.tsx,
    nodeFlags: [],
    cpuProf: undefined,
    ...(values['database-url'] ? { env: { DATABASE_URL: values['database-url'] } } : {}),
  });
  const auth = { Authorization: `Bearer ${berth.token}` };
  try {
    for (const name of ['bench/empty', 'bench/big']) await berth.createRepository(name);

    // The big repository: V versions, each an image of config + 4 layers (5 blobs) with 2 tags.
    const started = performance.now();
    let next = 0;
    const seedOne = async (i: number): Promise<void> => {
      const image = makeImage({ layers: Array.from({ length: 4 }, (_, j) => Buffer.from(`layer ${i} ${j} ${Math.random()}`)) });
      const archive = await tarOf(dockerArchiveEntries([{ image, repoTags: [`bench/big:s${i}a`, `bench/big:s${i}b`] }]));
      const res = await fetch(`${berth.url}/api/v1/repositories/bench/big/imports`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/x-tar' },
        body: new Uint8Array(archive),
      });
      if (res.status !== 201) throw new Error(`seeding import ${i}: ${res.status} ${(await res.text()).slice(0, 300)}`);
      await res.arrayBuffer();
    };
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < versions; i = next++) {
          await seedOne(i);
          if ((i + 1) % 1000 === 0) log(`seeded ${i + 1}/${versions} versions (${((performance.now() - started) / 1000).toFixed(0)} s)`);
        }
      }),
    );
    log(`seeded ${versions} versions, ${2 * versions} tags, ${5 * versions} blobs in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    if (values['database-url']) {
      // What autovacuum does in a deployment a minute later (and never where it is off, as on the
      // test server here): without statistics PostgreSQL plans as if the tables were tiny and scans
      // them, so an ownership check of the big repository took 13 ms instead of 0.05 ms.
      const admin = knexFactory({ client: 'pg', connection: values['database-url'], pool: { min: 0, max: 1 } });
      try {
        await admin.raw('ANALYZE');
      } finally {
        await admin.destroy();
      }
      log('ANALYZE done');
    }
    expectImported(await berth.importBuffer('bench/empty', await tarOf(dirEntries(makeImage())), 'first'), 'empty repository seed', true);

    const release = values.lock !== undefined ? await exclusiveLock(values.lock) : undefined;
    const loadBefore = os.loadavg()[0]!.toFixed(1);
    const middle = Math.floor(versions / 2);
    const timed = async (fn: () => Promise<Response>): Promise<number> => {
      const t0 = performance.now();
      const res = await fn();
      await res.arrayBuffer();
      const took = performance.now() - t0;
      if (res.status >= 300) throw new Error(`${res.url}: ${res.status}`);
      return took;
    };
    const get = (url: string, headers: Record<string, string> = {}) => fetch(`${berth.url}${url}`, { headers: { ...auth, ...headers } });
    const manifestAccept = { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' };
    let counter = 0;
    const operations: Array<{ name: string; run: (repo: string, big: boolean) => Promise<number> }> = [
      {
        name: 'import (2 layers of 2 KiB, new image)',
        run: async (repo) => {
          const archive = await tarOf(dirEntries(makeImage()));
          const t0 = performance.now();
          expectImported(await berth.importBuffer(repo, archive, `m${counter++}`), 'timed import', true);
          return performance.now() - t0;
        },
      },
      {
        name: 'tag change (PUT a tag)',
        run: async (repo) => {
          const tags = (await (await get(`/v2/${repo}/tags/list?n=1`)).json()) as { tags: string[] };
          const target = await get(`/v2/${repo}/manifests/${tags.tags[0]}`, manifestAccept);
          const digest = target.headers.get('docker-content-digest')!;
          await target.arrayBuffer();
          return timed(() =>
            fetch(`${berth.url}/api/v1/repositories/${repo}/tags/x${counter++}`, {
              method: 'PUT',
              headers: { ...auth, 'Content-Type': 'application/json' },
              body: JSON.stringify({ digest }),
            }),
          );
        },
      },
      { name: 'GET /v2 manifest by tag', run: (repo, big) => timed(() => get(`/v2/${repo}/manifests/${big ? `s${middle}a` : 'first'}`, manifestAccept)) },
      { name: 'GET /v2 tags/list?n=100', run: (repo) => timed(() => get(`/v2/${repo}/tags/list?n=100`)) },
      { name: 'GET versions list (first page)', run: (repo) => timed(() => get(`/api/v1/repositories/${repo}/versions`)) },
      {
        name: 'GET one version (the latest)',
        run: async (repo) => {
          const latest = ((await (await get(`/api/v1/repositories/${repo}`)).json()) as { latest_version: number }).latest_version;
          return timed(() => get(`/api/v1/repositories/${repo}/versions/${latest}`));
        },
      },
      { name: 'GET one version (a past one)', run: (repo, big) => timed(() => get(`/api/v1/repositories/${repo}/versions/${big ? middle : 1}`)) },
      // The first page of a big version is full (100 tags, 100 manifests, 100 blobs) where the empty
      // repository's holds a handful; with pages of 3 both answer alike, so only the repository's size differs.
      {
        name: 'GET one version (the latest), limit=3',
        run: async (repo) => {
          const latest = ((await (await get(`/api/v1/repositories/${repo}`)).json()) as { latest_version: number }).latest_version;
          return timed(() => get(`/api/v1/repositories/${repo}/versions/${latest}?limit=3`));
        },
      },
      { name: 'GET one version (a past one), limit=3', run: (repo, big) => timed(() => get(`/api/v1/repositories/${repo}/versions/${big ? middle : 1}?limit=3`)) },
    ];
    const rows: Row[] = [];
    for (const op of operations) {
      const empty: number[] = [];
      const big: number[] = [];
      for (let i = 0; i < 3; i++) await op.run('bench/big', true); // warm both
      for (let i = 0; i < 3; i++) await op.run('bench/empty', false);
      for (let i = 0; i < samples; i++) {
        empty.push(await op.run('bench/empty', false));
        big.push(await op.run('bench/big', true));
      }
      const ratio = median(big) / median(empty);
      rows.push({
        figure: op.name,
        value: `${ms(median(big))} (p99 ${ms(percentile(big, 99))})`,
        baseline: `empty ${ms(median(empty))}`,
        ratio,
        target: '≤ 1.2×',
        met: ratio <= 1.2,
      });
      log(`${op.name}: big ${ms(median(big))}, empty ${ms(median(empty))}`);
    }
    release?.();
    console.log(
      `\nBerth at scale: ${versions} versions, ${2 * versions} tags, ${5 * versions} blobs (${values['database-url'] ? 'PostgreSQL' : 'SQLite'}; ${os.cpus().length} CPUs; medians of ${samples}; ` +
        `timed ${new Date().toISOString().slice(0, 16)}Z, load average ${loadBefore} before and ${os.loadavg()[0]!.toFixed(1)} after)\n`,
    );
    console.log(table(rows));
  } finally {
    await berth.stop();
    if (!values.keep) await fs.rm(work, { recursive: true, force: true });
  }
}

/** An exclusive flock on `file`, held by a child `flock` until release() (closing its stdin). */
async function exclusiveLock(file: string): Promise<() => void> {
  const child = spawn('flock', ['-x', '-w', '900', file, 'sh', '-c', 'echo locked; cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`flock ${file} ended (${String(code)}) before locking`)));
  });
  return () => child.stdin.end();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
