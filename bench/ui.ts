// `npm run bench:ui`: how fast the admin web pages answer for a big repository: 1,000 versions and
// 10,000 import reports, seeded through the service code (real imports of real archives, tag moves
// through the commit path), then each page fetched over HTTP with a signed-in session.
//
//   npm run bench:ui -- [--database-url postgres://…] [--runs N] [--reports N] [--versions N]
//
// Target: every page under 50 ms (median). A benchmark, not a test: it fails only when something
// does not work.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import knexFactory from 'knex';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/server.js';
import { importArchive, listImports } from '../src/services/imports.js';
import { createRepository, putTag } from '../src/services/repositories.js';
import { dirEntries, makeImage, tarOf } from '../test/helpers/archives.js';
import { median, percentile } from './report.js';

const { values } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    runs: { type: 'string', default: '50' },
    reports: { type: 'string', default: '10000' },
    versions: { type: 'string', default: '1000' },
  },
});
const RUNS = Number(values.runs);
const REPORTS = Number(values.reports);
const VERSIONS = Number(values.versions);
const IMPORTS_OK = Math.floor(VERSIONS / 5);
const TOKEN = 'bench-ui-admin-token-0123456789';
const REPO = 'bench/ui';

const log = (m: string) => process.stderr.write(`bench:ui: ${m}\n`);

async function main(): Promise<void> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bench-ui-'));
  let dropDb: (() => Promise<void>) | undefined;
  let databaseUrl: string | undefined;
  if (values['database-url']) {
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
    const pages: Array<[string, string]> = [
      ['imports, newest 50 + chart', '/ui/imports'],
      ['imports, failed in the repository', `/ui/imports?repository=${REPO}&status=failed`],
      ['imports, 100th page (keyset)', `/ui/imports?older=${deep}`],
      ['one report', `/ui/imports/${someReport}`],
      ['repositories', '/ui/repositories'],
      ['one repository (tags + 50 versions)', `/ui/repositories/${REPO}`],
      ['one repository, versions page 10', `/ui/repositories/${REPO}?page=10`],
      [`latest version (${IMPORTS_OK} manifests)`, `/ui/repositories/${REPO}/-/versions/${VERSIONS}`],
      ['a middle version', `/ui/repositories/${REPO}/-/versions/${Math.floor(VERSIONS / 2)}`],
    ];
    const rows: string[] = [];
    let worst = 0;
    for (const [name, url] of pages) {
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < RUNS + 5; i++) {
        const t0 = performance.now();
        const r = await fetch(`${server.url}${url}`, { headers: { cookie } });
        const body = await r.text();
        const t = performance.now() - t0;
        if (r.status !== 200) throw new Error(`${url}: ${r.status} ${body.slice(0, 300)}`);
        bytes = body.length;
        if (i >= 5) times.push(t);
      }
      worst = Math.max(worst, median(times));
      rows.push(`| ${name} | ${median(times).toFixed(1)} ms | ${percentile(times, 95).toFixed(1)} ms | ${(bytes / 1024).toFixed(0)} KiB |`);
    }
    const db = databaseUrl ? 'PostgreSQL' : 'SQLite';
    console.log(`\nWeb pages, ${db}: repository with ${VERSIONS} versions and ${REPORTS} import reports; n=${RUNS} per page\n`);
    console.log('| page | median | p95 | HTML |');
    console.log('|---|---|---|---|');
    for (const row of rows) console.log(row);
    console.log(`\nslowest median ${worst.toFixed(1)} ms; target < 50 ms: ${worst < 50 ? 'met' : 'NOT met'}`);
  } finally {
    await server.close();
    await dropDb?.();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
