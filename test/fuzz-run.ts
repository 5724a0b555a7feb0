// `npm run fuzz -- --count N --seed S [--concurrency C]`: a long fuzz run against a fresh Berth (its own
// data folder; PostgreSQL when BERTH_TEST_DATABASE_URL is set), printing the figures and any mutant
// that hung, got a 5xx or unknown code, or changed a repository it was refused by. Exit 1 on any.
import { parseArgs } from 'node:util';
import { fuzz } from './helpers/fuzz.js';
import { startBerth } from './helpers/server.js';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '10000' }, seed: { type: 'string' }, concurrency: { type: 'string', default: '4' }, bound: { type: 'string', default: '15000' } },
});
const count = Number(values.count);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
const berth = await startBerth();
const started = Date.now();
try {
  const result = await fuzz(berth, {
    count,
    seed,
    concurrency: Number(values.concurrency),
    boundMs: Number(values.bound),
    onProgress: (done) => {
      if (done % 1000 === 0) process.stderr.write(`${done}/${count}\n`);
    },
  });
  const staging = await berth.stagingEntries();
  const running = (await berth.api('GET', '/api/v1/imports?status=running')).body.imports.length as number;
  const alive = (await fetch(`${berth.url}/healthz`)).status === 200;
  const fiveXX = result.bad.filter((b) => b.status >= 500).length;
  const summary = {
    seed,
    mutants: result.mutants,
    accepted: result.accepted,
    refused: result.refused,
    hangs: result.hangs.length,
    '5xx': fiveXX,
    other_bad_answers: result.bad.length - fiveXX,
    repositories_changed_by_refused: result.changed.length,
    staging_left: staging.length,
    running_left: running,
    alive,
    statuses: result.statuses,
    slowest_ms: result.slowestMs,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  for (const m of result.hangs) process.stdout.write(`hang: ${m.sample} ${m.mutations.join('+')} gzip=${m.gzip} multipart=${m.multipart}\n`);
  for (const b of result.bad) process.stdout.write(`bad: ${b.status} ${b.code} ${b.mutant.sample} ${b.mutant.mutations.join('+')}\n`);
  const failed = result.hangs.length + result.bad.length + result.changed.length + staging.length + running > 0 || !alive;
  process.exitCode = failed ? 1 : 0;
} finally {
  await berth.close();
}
