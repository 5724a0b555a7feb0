// Ten thousand failed authentications in a row against a Berth process of its own: the log gets at
// most about one line a second for them (each line counting the ones it left out), the secrets tried
// never appear in it, and a valid token's requests keep being answered at once meanwhile.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { spawnBerth } from './helpers/process.js';
import { ADMIN_TOKEN, freshPostgres } from './helpers/server.js';

const pgBase = process.env.BERTH_TEST_DATABASE_URL;
const FAILURES = 10_000;
const CONCURRENCY = 20;

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function timed(url: string, secret: string): Promise<number> {
  const start = performance.now();
  const res = await fetch(`${url}/v2/`, { headers: { Authorization: `Basic ${Buffer.from(`ci:${secret}`).toString('base64')}` } });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`a valid token was answered ${res.status}`);
  return performance.now() - start;
}

test(`${FAILURES} failed authentications: about one log line a second for them, and a valid token is served meanwhile`, async (t) => {
  t.timeout(300_000);
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-flood-'));
  const pg = pgBase ? await freshPostgres(pgBase) : undefined;
  const berth = await spawnBerth({ BERTH_DATA_DIR: dataDir, ...(pg ? { DATABASE_URL: pg.url } : {}) });
  t.teardown(async () => {
    await berth.stop();
    await pg?.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  const made = await fetch(`${berth.url}/api/v1/tokens`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'steady', scopes: [{ repositories: '*', actions: ['pull'] }] }),
  });
  const { secret } = (await made.json()) as { secret: string };

  const before: number[] = [];
  for (let i = 0; i < 50; i++) before.push(await timed(berth.url, secret));

  /**
   * `total` requests, `CONCURRENCY` at a time, each with the Authorization `header(n)` gives, while a
   * valid token's requests are timed one after another; returns their times, the seconds and the 401s.
   */
  async function flood(total: number, header: (n: number) => string): Promise<{ during: number[]; seconds: number; unauthorized: number }> {
    let sent = 0;
    let unauthorized = 0;
    const started = performance.now();
    const client = async () => {
      while (sent < total) {
        const res = await fetch(`${berth.url}/v2/_catalog`, { headers: { Authorization: header(sent++) } });
        await res.arrayBuffer();
        if (res.status === 401) unauthorized++;
      }
    };
    const during: number[] = [];
    let flooding = true;
    const steady = (async () => {
      while (flooding) {
        during.push(await timed(berth.url, secret));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await Promise.all(Array.from({ length: CONCURRENCY }, client));
    flooding = false;
    await steady;
    return { during, seconds: (performance.now() - started) / 1000, unauthorized };
  }

  // The same load of requests that succeed, for comparison: failures should cost no more.
  const valid = `Basic ${Buffer.from(`ci:${secret}`).toString('base64')}`;
  const baseline = await flood(1000, () => valid);
  t.is(baseline.unauthorized, 0);

  // Half the tries look like Berth secrets (each costs a lookup), half do not; both are refused.
  const tried = new Set<string>();
  const { during, seconds, unauthorized } = await flood(FAILURES, (n) => {
    const guess = n % 2 === 0 ? `berth_${randomBytes(32).toString('base64url')}` : randomBytes(24).toString('hex');
    if (n % 500 === 0) tried.add(guess);
    return n % 4 < 2 ? `Bearer ${guess}` : `Basic ${Buffer.from(`x:${guess}`).toString('base64')}`;
  });
  t.is(unauthorized, FAILURES);
  type Line = { msg: string; suppressed?: number; status?: number };
  const logLines = (): Line[] =>
    berth
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Line);
  const count = (lines: Line[]) => lines.filter((l) => l.msg === 'authentication failed').reduce((sum, l) => sum + 1 + (l.suppressed ?? 0), 0);
  // The failures of the last second are counted by the next line, which the next failure after it writes.
  let lines = logLines();
  for (let i = 0; i < 5 && count(lines) < FAILURES; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await (await fetch(`${berth.url}/v2/`)).arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 200));
    lines = logLines();
  }
  const failures = lines.filter((l) => l.msg === 'authentication failed');
  const accounted = count(lines);
  t.log(
    `${FAILURES} failures in ${seconds.toFixed(1)} s (${Math.round(FAILURES / seconds)}/s, ${CONCURRENCY} at a time): ${failures.length} log lines for them; ` +
      `valid /v2/ median ${median(before).toFixed(1)} ms alone, ${median(baseline.during).toFixed(1)} ms beside 1000 valid requests ` +
      `(${Math.round(1000 / baseline.seconds)}/s), ${median(during).toFixed(1)} ms beside the failures (${during.length} requests, max ${Math.max(...during).toFixed(1)} ms)`,
  );
  t.true(failures.length <= Math.ceil(seconds) + 3, `${failures.length} lines in ${seconds.toFixed(1)} s`);
  t.true(accounted >= FAILURES && accounted <= FAILURES + 60, `the lines account for ${accounted} failures`);
  t.false(lines.some((l) => l.msg === 'request' && l.status === 401), 'no 401 is logged as an ordinary request line');
  const text = berth.output();
  for (const guess of tried) t.false(text.includes(guess));
  t.false(text.includes(secret.slice(6)));
  // served meanwhile: every valid request answered 200 (timed() throws otherwise), and not held up
  t.true(during.length >= 5, `only ${during.length} valid requests got through during the flood`);
  t.true(median(during) < 500, `valid requests took a median ${median(during).toFixed(1)} ms during the flood`);
  t.true(
    median(during) <= 3 * median(baseline.during) + 20,
    `a failure costs no more than a success: ${median(during).toFixed(1)} ms beside failures, ${median(baseline.during).toFixed(1)} ms beside successes`,
  );
});
