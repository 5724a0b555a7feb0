// A seeded mutational fuzz run over samples/ (see test/helpers/fuzz.ts): 1,000 mutants, each answered
// within 15 s with 201 or a 4xx of a known code, refused ones leaving their repository as it was; then
// nothing in staging, no import left running, and the server still answering. A failure prints the seed
// and the mutants, to replay with `npm run fuzz -- --count N --seed S`.
import test from 'ava';
import { fuzz } from './helpers/fuzz.js';
import { startBerth } from './helpers/server.js';

const COUNT = Number(process.env.BERTH_FUZZ_COUNT ?? 1000);
const SEED = Number(process.env.BERTH_FUZZ_SEED ?? 20261202);

test(`${COUNT} mutants of the sample archives are each answered in time with 201 or a known 4xx, changing nothing when refused`, async (t) => {
  t.timeout(240_000);
  const berth = await startBerth();
  try {
    const result = await fuzz(berth, { count: COUNT, seed: SEED, concurrency: 4, boundMs: 15_000 });
    const describe = (m: { sample: string; mutations: string[]; gzip: string; multipart: boolean }) => `${m.sample} ${m.mutations.join('+')} gzip=${m.gzip} multipart=${m.multipart}`;
    t.log(`seed ${SEED}: ${result.mutants} mutants, ${result.accepted} accepted, ${result.refused} refused, statuses ${JSON.stringify(result.statuses)}, slowest ${result.slowestMs} ms`);
    t.is(result.mutants, COUNT);
    t.deepEqual(result.hangs.map(describe), [], 'hangs');
    t.deepEqual(result.bad.map((b) => `${b.status} ${b.code} ${describe(b.mutant)}`), [], 'answers outside 201 / known 4xx');
    t.deepEqual(result.changed.map(describe), [], 'refused but the repository changed');
    t.deepEqual(await berth.stagingEntries(), []);
    t.deepEqual((await berth.api('GET', '/api/v1/imports?status=running')).body.imports, []);
    t.is((await fetch(`${berth.url}/healthz`)).status, 200);
  } finally {
    await berth.close();
  }
});
