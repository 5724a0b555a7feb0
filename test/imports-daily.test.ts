// The imports chart's counters (imports_daily, kept by triggers on imports): after every kind of
// change to reports — real imports that complete or fail, reports inserted finished, finished one by
// one, failed in bulk by the sweeps, deleted — the chart read from the counters is exactly the chart
// counted from the reports themselves, for every filter the page offers. Runs on SQLite and, with
// BERTH_TEST_DATABASE_URL, on PostgreSQL.
import { randomBytes, randomUUID } from 'node:crypto';
import test from 'ava';
import type { NameFilter } from '../src/core/policy.js';
import * as importsDb from '../src/db/imports.js';
import type { ImportRow } from '../src/db/rows.js';
import { dirEntries, makeImage, tarOf } from './helpers/archives.js';
import { startBerth, type TestServer } from './helpers/server.js';

let berth: TestServer;
test.before(async () => {
  berth = await startBerth();
});
test.after.always(async () => {
  await berth?.close();
});

const ALL: NameFilter = { all: true };

function row(repository: string, day: string, status: ImportRow['status'], extra: Partial<ImportRow> = {}): ImportRow {
  return {
    id: randomUUID(),
    repository,
    status,
    format: 'skopeo-dir',
    tag: null,
    version: null,
    new_version: null,
    manifests: '[]',
    blobs: '[]',
    bytes_received: 1000,
    created_at: `${day}T12:00:00.000Z`,
    finished_at: status === 'running' ? null : `${day}T12:00:01.000Z`,
    duration_ms: status === 'running' ? null : 1000,
    error: null,
    instance_id: status === 'running' ? 'gone-instance' : null,
    actor: 'admin',
    ...extra,
  };
}

/** Every filter the imports page builds, over the days the rows use. */
function filters(repos: string[]): importsDb.ImportFilter[] {
  const range = { since: '2026-01-01T00:00:00.000Z', before: '2026-01-31T00:00:00.000Z' };
  const prefix: NameFilter = { all: false, exact: [], prefixes: [`${repos[0]!.split('/')[0]}/`] };
  const exact: NameFilter = { all: false, exact: [repos[1]!], prefixes: [] };
  return [
    { visible: ALL },
    { visible: ALL, ...range },
    { visible: ALL, since: '2026-01-10T00:00:00.000Z', before: '2026-01-11T00:00:00.000Z' },
    { visible: ALL, repository: repos[0]!, ...range },
    { visible: ALL, status: 'failed', ...range },
    { visible: ALL, status: 'completed' },
    { visible: ALL, status: 'running' },
    { visible: ALL, format: 'docker-archive', ...range },
    { visible: ALL, actor: 'ci', ...range },
    { visible: prefix, ...range },
    { visible: exact, ...range },
    { visible: { all: false, exact: [], prefixes: [] }, ...range },
    { visible: ALL, repository: repos[1]!, status: 'failed', format: 'skopeo-dir', actor: 'admin' },
  ];
}

async function same(t: import('ava').ExecutionContext, repos: string[], when: string): Promise<void> {
  const db = berth.server.services.db;
  for (const f of filters(repos)) {
    const counted = await importsDb.importsPerDay(db, f);
    const direct = await importsDb.importsPerDayFromReports(db, f);
    t.deepEqual(counted, direct, `${when}: ${JSON.stringify(f)}`);
  }
}

test('the chart from the counters is the chart counted from the reports, after every kind of change', async (t) => {
  const db = berth.server.services.db;
  const a = await berth.newRepository('chart/a');
  const b = await berth.newRepository('chart/b');
  const repos = [a, b];

  // Real imports: completed, failed (a layer the repository lacks; not a tar), by two actors.
  const image = makeImage({ layerCount: 1 });
  t.is((await berth.importRaw(a, await tarOf(dirEntries(image)), { tag: 'v1' })).status, 201);
  t.is((await berth.importRaw(b, randomBytes(2048))).status, 400);
  const lacking = makeImage({ layerCount: 2 });
  t.is((await berth.importRaw(b, await tarOf(dirEntries(lacking, { omit: [lacking.layerDigests[0]!] })))).status, 400);
  const ci = await berth.token('ci', [{ repositories: 'chart/*', actions: ['push'] }]);
  const res = await fetch(`${berth.url}/api/v1/repositories/${a}/imports`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ci.secret}`, 'Content-Type': 'application/x-tar' },
    body: new Uint8Array(await tarOf(dirEntries(makeImage({ layerCount: 1 })))),
  });
  t.is(res.status, 201);
  await same(t, repos, 'after real imports');
  const today = new Date().toISOString().slice(0, 10);
  const todays = (await importsDb.importsPerDay(db, { visible: ALL, since: `${today}T00:00:00.000Z` })).filter((d) => d.day === today);
  t.deepEqual(
    todays.map((d) => [d.status, d.count]),
    [
      ['completed', 2],
      ['failed', 2],
    ],
  );

  // Reports written straight into the table over several days: inserted finished, inserted running.
  const days = ['2026-01-09', '2026-01-10', '2026-01-11', '2026-01-30'];
  const running: string[] = [];
  for (const [i, day] of days.entries()) {
    for (let j = 0; j < 6; j++) {
      const repo = repos[(i + j) % 2]!;
      const status: ImportRow['status'] = j % 3 === 0 ? 'running' : j % 3 === 1 ? 'completed' : 'failed';
      const r = row(repo, day, status, { actor: j % 2 === 0 ? 'ci' : 'admin', format: j === 4 ? 'docker-archive' : j === 5 ? null : 'skopeo-dir', bytes_received: 100 * (j + 1) });
      await importsDb.insertImport(db, r);
      if (status === 'running') running.push(r.id);
    }
  }
  await same(t, repos, 'after inserts');

  // Finished one by one (with the bytes and format they end with), and the rest failed in bulk by a sweep.
  for (const id of running.slice(0, 3)) {
    t.true(await importsDb.finishImport(db, id, { status: 'completed', bytes_received: 5000, format: 'oci-layout', finished_at: new Date().toISOString() }));
  }
  await same(t, repos, 'after finishing');
  t.is(await importsDb.failImports(db, running.slice(3), '{"code":"INTERRUPTED"}'), running.length - 3);
  await same(t, repos, 'after the sweep');

  // A finished report changed again (its bytes corrected), one renamed to another repository, some deleted.
  await importsDb.updateImport(db, running[0]!, { bytes_received: 7 });
  await db('imports').where({ id: running[1]! }).update({ repository: b, actor: 'someone' });
  await db('imports').whereIn('id', running.slice(2, 5)).del();
  await same(t, repos, 'after updates and deletes');

  // Reports ended by endImport (services/report-row.ts): written whole at the end with no running row
  // before, over a running row, with the running row arriving after the end, and over a row already
  // ended elsewhere (left alone).
  const whole = row(a, '2026-01-11', 'completed', { bytes_received: 11 });
  t.true(await importsDb.endImport(db, whole));
  const over = row(b, '2026-01-11', 'running');
  await importsDb.insertRunningImport(db, over);
  t.true(await importsDb.endImport(db, { ...over, status: 'failed', bytes_received: 12, error: '{"code":"BLOB_UNKNOWN"}' }));
  await importsDb.insertRunningImport(db, { ...whole, status: 'running' });
  t.is((await importsDb.findImport(db, whole.id))?.status, 'completed');
  t.false(await importsDb.endImport(db, { ...over, status: 'completed', bytes_received: 13 }));
  t.is((await importsDb.findImport(db, over.id))?.status, 'failed');
  await same(t, repos, 'after reports ended by endImport');

  // Running reports of the SQLite kind of restart: every running one failed at once.
  await importsDb.insertImport(db, row(a, '2026-01-10', 'running'));
  await same(t, repos, 'with a running report');
  t.true((await importsDb.failRunningImports(db, '{"code":"INTERRUPTED"}')) >= 1);
  await same(t, repos, 'after failing every running report');

  // A bound that is not the start of a day is answered from the reports (the same function's other path).
  const odd = { visible: ALL, since: '2026-01-10T06:00:00.000Z' };
  t.deepEqual(await importsDb.importsPerDay(db, odd), await importsDb.importsPerDayFromReports(db, odd));
});
