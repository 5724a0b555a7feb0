// `npm run bench:ui`: how fast the admin web pages answer for a big repository: 1,000 versions and
// 10,000 import reports, seeded through the service code (real imports of real archives, tag moves
// through the commit path), then each page fetched over HTTP with a signed-in session.
//
//   npm run bench:ui -- [--database-url postgres://…] [--runs N] [--reports N] [--versions N] [--tags N]
//                       [--keep DIR] [--lock FILE]
//
// --keep DIR keeps the seeded data folder (and PostgreSQL database) in DIR, and a later run with the
// same DIR times the pages again without seeding (before/after a change). --lock FILE takes an
// exclusive flock on FILE for the timing only, not for the seeding (the shared machine's quiet lock).
//
// Target: every page under 50 ms (median). A benchmark, not a test: it fails only when something
// does not work.
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import knexFactory from 'knex';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/server.js';
import { importsPerDay, importsPerDayFromReports } from '../src/db/imports.js';
import { importArchive, listImports } from '../src/services/imports.js';
import { parseDigest } from '../src/core/digest.js';
import { parseTag } from '../src/core/names.js';
import { commitVersion } from '../src/services/commit.js';
import { createRepository, getRepositoryRow, putTag } from '../src/services/repositories.js';
import { dirEntries, makeImage, tarOf } from '../test/helpers/archives.js';
import { median, percentile } from './report.js';
import { exclusiveLock } from './processes.js';

const { values } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    runs: { type: 'string', default: '50' },
    reports: { type: 'string', default: '10000' },
    versions: { type: 'string', default: '1000' },
    tags: { type: 'string', default: '20000' },
    keep: { type: 'string' },
    lock: { type: 'string' },
  },
});
const RUNS = Number(values.runs);
const REPORTS = Number(values.reports);
const VERSIONS = Number(values.versions);
const TAGS = Number(values.tags);
const TAG_REPO = 'bench/many-tags';
const IMPORTS_OK = Math.floor(VERSIONS / 5);
const TOKEN = 'bench-ui-admin-token-0123456789';
const REPO = 'bench/ui';

const log = (m: string) => process.stderr.write(`bench:ui: ${m}\n`);

interface Seeded {
  databaseUrl?: string;
}

async function main(): Promise<void> {
  const keep = values.keep !== undefined ? path.resolve(values.keep) : undefined;
  const seedFile = keep !== undefined ? path.join(keep, 'bench-seed.json') : undefined;
  const reuse: Seeded | undefined = seedFile !== undefined && existsSync(seedFile) ? (JSON.parse(await fs.readFile(seedFile, 'utf8')) as Seeded) : undefined;
  if (keep !== undefined) await fs.mkdir(keep, { recursive: true });
  const dataDir = keep ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bench-ui-')));
  let dropDb: (() => Promise<void>) | undefined;
  let databaseUrl: string | undefined = reuse?.databaseUrl;
  if (reuse && Boolean(values['database-url']) !== Boolean(reuse.databaseUrl)) throw new Error(`${keep} was seeded for another database`);
  if (values['database-url'] && !reuse) {
    const name = `berth_bench_ui_${Date.now()}`;
    const admin = knexFactory({ client: 'pg', connection: values['database-url'], pool: { min: 0, max: 1 } });
    await admin.raw(`CREATE DATABASE ${name}`);
    await admin.destroy();
    const url = new URL(values['database-url']);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    dropDb = async () => {
      const again = knexFactory({ client: 'pg', connection: values['database-url']!, pool: { min: 0, max: 1 } });
      await again.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await again.destroy();
    };
  }
  const config = loadConfig({
    BERTH_DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    BERTH_ADMIN_TOKEN: TOKEN,
    BERTH_LOG_LEVEL: 'silent',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  const server = await startServer(config, createLogger('silent'));
  const s = server.services;
  try {
    if (!reuse) await seed(s);
    if (seedFile !== undefined && !reuse) await fs.writeFile(seedFile, JSON.stringify({ ...(databaseUrl ? { databaseUrl } : {}) } satisfies Seeded));
    await timePages(server);
  } finally {
    await server.close();
    if (keep === undefined) {
      await dropDb?.();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  }
}

type Server = Awaited<ReturnType<typeof startServer>>;

async function seed(s: Server['services']): Promise<void> {
    const started = Date.now();
    await createRepository(s, REPO, 'admin');
    const importOf = (archive: Buffer, tag?: string) =>
      importArchive(s, REPO, { ...(tag !== undefined ? { tag } : {}), read: (into) => into.archive(Readable.from([archive])), aborted: () => false }, 'bench');
    // Versions: IMPORTS_OK imports of images that share their layers with the first one (each adds a
    // manifest and a config), and tag moves between them for the rest, each through commitVersion.
    const base = makeImage({ layerCount: 3 });
    await importOf(await tarOf(base.entries), 'v0');
    const manifests = [base.manifestDigest];
    for (let i = 1; i < IMPORTS_OK; i++) {
      const image = makeImage({ layers: base.layers });
      await importOf(await tarOf(dirEntries(image, { omit: base.layerDigests })), `v${i % 20}`);
      manifests.push(image.manifestDigest);
    }
    for (let i = IMPORTS_OK; i < VERSIONS; i++) await putTag(s, REPO, `t${i % 50}`, manifests[i % manifests.length], 'bench');
    log(`${VERSIONS} versions in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // The other reports: failed imports of two kinds (a layer the repository lacks; not a tar).
    const lacking = makeImage({ layers: [...base.layers.slice(0, 2), Buffer.alloc(1024, 7)] });
    const lackingTar = await tarOf(dirEntries(lacking, { omit: lacking.layerDigests }));
    const notTar = Buffer.alloc(4096, 1);
    for (let i = IMPORTS_OK; i < REPORTS; i++) {
      await importOf(i % 3 === 0 ? notTar : lackingTar).catch(() => undefined);
      if (i % 2000 === 0) log(`${i} reports`);
    }
    log(`seeded ${REPORTS} reports and ${VERSIONS} versions in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // A repository with TAGS tags on one manifest, set 1,000 a version through the commit path.
    const tagRepo = await createRepository(s, TAG_REPO, 'admin');
    const one = makeImage({ layerCount: 1 });
    const oneTar = await tarOf(one.entries);
    await importArchive(s, TAG_REPO, { tag: 'latest', read: (into) => into.archive(Readable.from([oneTar])), aborted: () => false }, 'bench');
    const row = { id: (await getRepositoryRow(s, tagRepo.name)).id, name: tagRepo.name };
    for (let i = 0; i < TAGS; i += 1000) {
      const tags = Array.from({ length: Math.min(1000, TAGS - i) }, (_, j) => ({ tag: parseTag(tagName(i + j)), digest: parseDigest(one.manifestDigest) }));
      await commitVersion(s, { repository: row, kind: 'tag', actor: 'bench', reportId: null, tags });
    }
    log(`${TAGS} tags in ${TAG_REPO} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

const tagName = (i: number): string => `t${String(i).padStart(6, '0')}`;

async function timePages(server: Server): Promise<void> {
    const s = server.services;

    // Sign in as a browser does.
    const signIn = await fetch(`${server.url}/ui/sign-in`);
    const pre = signIn.headers.getSetCookie()[0]!.split(';')[0]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(await signIn.text())![1]!;
    const res = await fetch(`${server.url}/ui/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: pre, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, token: TOKEN, next: '/ui/imports' }),
    });
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('berth_session='))!.split(';')[0]!;
    const someReport = (await (await fetch(`${server.url}/api/v1/imports?status=completed&limit=1`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json()).imports[0].id;
    // The report after which the 100th page of 50 starts (the link a reader follows 99 times).
    const deep = (await listImports(s, { visible: { all: true }, limit: 99 * 50 })).at(-1)!.id;
    const second = await secondPage(server, 'manifests');
    const pages: Array<[string, string]> = [
      ['imports, newest 50 + chart', '/ui/imports'],
      ['imports, failed in the repository', `/ui/imports?repository=${REPO}&status=failed`],
      ['imports, 100th page (keyset)', `/ui/imports?older=${deep}`],
      ['one report', `/ui/imports/${someReport}`],
      ['repositories', '/ui/repositories'],
      ['one repository (tags + 50 versions)', `/ui/repositories/${REPO}`],
      ['one repository, versions page 10 (keyset)', `/ui/repositories/${REPO}?versions_before=${VERSIONS - 449}`],
      [`latest version (${IMPORTS_OK} manifests)`, `/ui/repositories/${REPO}/-/versions/${VERSIONS}`],
      ['a middle version', `/ui/repositories/${REPO}/-/versions/${Math.floor(VERSIONS / 2)}`],
      ...(second !== undefined ? [['latest version, manifests page 2', `/ui/repositories/${REPO}/-/versions/${VERSIONS}?manifests_after=${second}`] as [string, string]] : []),
      [`repository with ${TAGS} tags`, `/ui/repositories/${TAG_REPO}`],
      [`repository with ${TAGS} tags, a deep tag page`, `/ui/repositories/${TAG_REPO}?tags_after=${tagName(Math.floor(TAGS * 0.75))}`],
    ];
    let worst = 0;
    const release = values.lock !== undefined ? await exclusiveLock(values.lock) : undefined;
    const load = os.loadavg()[0]!.toFixed(1);
    const timed = new Date().toISOString().slice(0, 16);
    // Round robin: each run fetches every page once, so a burst of load elsewhere on a shared machine
    // falls on all pages alike rather than on whichever page was being timed then.
    const times = pages.map((): number[] => []);
    const bytes = pages.map(() => 0);
    // The imports chart's query alone, as the page asks it (the last 30 days, every report): from the
    // counters (what the page does) and counted from the reports (what it did before imports_daily).
    const today = new Date().toISOString().slice(0, 10);
    const chartFilter = {
      visible: { all: true as const },
      since: `${new Date(Date.now() - 29 * 86_400_000).toISOString().slice(0, 10)}T00:00:00.000Z`,
      before: `${new Date(Date.parse(`${today}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)}T00:00:00.000Z`,
    };
    const chart = { counters: [] as number[], reports: [] as number[] };
    try {
      for (let i = 0; i < RUNS + 5; i++) {
        for (const [k, [, url]] of pages.entries()) {
          const t0 = performance.now();
          const r = await fetch(`${server.url}${url}`, { headers: { cookie } });
          const body = await r.text();
          const t = performance.now() - t0;
          if (r.status !== 200) throw new Error(`${url}: ${r.status} ${body.slice(0, 300)}`);
          bytes[k] = body.length;
          if (i >= 5) times[k]!.push(t);
        }
        for (const [which, run] of [
          ['counters', () => importsPerDay(s.db, chartFilter)],
          ['reports', () => importsPerDayFromReports(s.db, chartFilter)],
        ] as const) {
          const t0 = performance.now();
          await run();
          if (i >= 5) chart[which].push(performance.now() - t0);
        }
      }
    } finally {
      release?.();
    }
    const rows = pages.map(([name], k) => {
      worst = Math.max(worst, median(times[k]!));
      return `| ${name} | ${median(times[k]!).toFixed(1)} ms | ${percentile(times[k]!, 95).toFixed(1)} ms | ${(bytes[k]! / 1024).toFixed(0)} KiB |`;
    });
    const db = s.db.client.config.client === 'pg' ? 'PostgreSQL' : 'SQLite';
    console.log(`\nWeb pages, ${db}: repository with ${VERSIONS} versions and ${REPORTS} import reports, and one with ${TAGS} tags; n=${RUNS} per page`);
    console.log(`timed ${timed} UTC, load average ${load} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end\n`);
    console.log('| page | median | p95 | HTML |');
    console.log('|---|---|---|---|');
    for (const row of rows) console.log(row);
    console.log(`\nslowest median ${worst.toFixed(1)} ms; target < 50 ms: ${worst < 50 ? 'met' : 'NOT met'}`);
    console.log('\nThe imports chart\'s query alone (30 days, every report), median / p95:');
    console.log(`- from the counters (imports_daily): ${median(chart.counters).toFixed(2)} / ${percentile(chart.counters, 95).toFixed(2)} ms`);
    console.log(`- counted from the reports: ${median(chart.reports).toFixed(2)} / ${percentile(chart.reports, 95).toFixed(2)} ms`);
}

/** The cursor of the second page of the latest version's `part` (as the API's next link gives it). */
async function secondPage(server: Server, part: 'manifests'): Promise<string | undefined> {
  const res = await fetch(`${server.url}/api/v1/repositories/${REPO}/versions/${VERSIONS}/${part}?limit=100`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  const next = ((await res.json()) as { next: string | null }).next;
  if (next === null) return undefined;
  return new URL(next, server.url).searchParams.get('after')!;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
