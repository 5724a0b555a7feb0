// When an import's report is written (services/report-row.ts): an import that ends quickly writes it
// once, at its end; an upload that lasts shows as `running` meanwhile and is completed in place; a
// failure is recorded either way. Runs on SQLite and, with BERTH_TEST_DATABASE_URL, on PostgreSQL.
import http from 'node:http';
import test from 'ava';
import { RUNNING_REPORT_AFTER_MS } from '../src/services/report-row.js';
import { dirEntries, makeImage, tarOf } from './helpers/archives.js';
import { ADMIN_TOKEN, startBerth } from './helpers/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a raw import and sends `head` of `archive`; `rest()` sends the remainder and reads the answer. */
function slowImport(url: string, repo: string, archive: Buffer, head: number): { rest: () => Promise<{ status: number; body: any }> } {
  let sending: () => void = () => undefined;
  const answer = new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = http.request(`${url}/api/v1/repositories/${repo}/imports?tag=slow`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/x-tar', 'Content-Length': archive.length },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.write(archive.subarray(0, head));
    sending = () => req.end(archive.subarray(head));
  });
  return {
    rest: () => {
      sending();
      return answer;
    },
  };
}

test('an upload that lasts shows as running, then its report is completed in place; a quick one is written once, completed', async (t) => {
  const berth = await startBerth();
  t.teardown(() => berth.close());
  const repo = await berth.newRepository('report/slow');
  const archive = await tarOf(dirEntries(makeImage({ label: 'slow' })));
  const upload = slowImport(berth.url, repo, archive, 700);
  let running: any[] = [];
  for (let i = 0; i < 50 && running.length === 0; i++) {
    await sleep(RUNNING_REPORT_AFTER_MS / 2);
    running = (await berth.api('GET', '/api/v1/imports?status=running')).body.imports;
  }
  t.is(running.length, 1);
  t.is(running[0].repository, repo);
  const res = await upload.rest();
  t.is(res.status, 201);
  t.is(res.body.id, running[0].id);
  t.is(res.body.status, 'completed');
  t.is((await berth.api('GET', `/api/v1/imports/${res.body.id}`)).body.status, 'completed');
  t.deepEqual((await berth.api('GET', '/api/v1/imports?status=running')).body.imports, []);

  // a quick import: no running row is seen, the report is there, completed
  const quick = await berth.importRaw(repo, await tarOf(dirEntries(makeImage({ label: 'quick' }))));
  t.is(quick.status, 201);
  const stored = (await berth.api('GET', `/api/v1/imports/${quick.body.id}`)).body;
  t.is(stored.status, 'completed');
  t.is(stored.version, quick.body.version);
});

test('a quick import that fails and one that fails after running a while are both recorded failed with their code', async (t) => {
  const berth = await startBerth();
  t.teardown(() => berth.close());
  const repo = await berth.newRepository('report/fail');
  const image = makeImage({ label: 'fail' });
  // the layers are left out, and the repository does not hold them
  const incomplete = await tarOf(dirEntries(image, { omit: image.layerDigests }));
  const quick = await berth.importRaw(repo, incomplete);
  t.is(quick.status, 400);
  t.is(quick.body.error.code, 'BLOB_UNKNOWN');
  t.is((await berth.api('GET', `/api/v1/imports/${quick.body.id}`)).body.status, 'failed');

  const upload = slowImport(berth.url, repo, incomplete, 600);
  await sleep(RUNNING_REPORT_AFTER_MS * 3);
  t.is((await berth.api('GET', '/api/v1/imports?status=running')).body.imports.length, 1);
  const slow = await upload.rest();
  t.is(slow.status, 400);
  t.is(slow.body.error.code, 'BLOB_UNKNOWN');
  const stored = (await berth.api('GET', `/api/v1/imports/${slow.body.id}`)).body;
  t.is(stored.status, 'failed');
  t.is(stored.error.code, 'BLOB_UNKNOWN');
  t.deepEqual((await berth.api('GET', '/api/v1/imports?status=running')).body.imports, []);
  t.is(await berth.latestVersion(repo), 0);
});
