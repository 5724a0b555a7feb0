// Group commit loses nothing acknowledged: many small imports run at once (so that commits share
// transactions), Berth is killed with SIGKILL the moment one of them is answered 201, and restarted on
// the same data folder and database. Every acknowledged import's tag names its manifest and every blob
// reads back by digest through /v2 with its sha256; imports still in flight may be there or not, but
// every tag any repository has after the restart resolves to a manifest whose blobs all read back, and
// fsck finds nothing missing, corrupt or dangling. A kill keeps the page cache, so what this shows is
// the order (no 201 before the commit, no commit before its blobs are stored); that the bytes are on
// the disk by then is the fsyncs' part (services/commit.ts, README "Group commit").
import { createHash } from 'node:crypto';
import test from 'ava';
import { dirEntries, makeImage, sha256, tarOf } from './helpers/archives.js';
import { processState, runFsck, spawnBerth } from './helpers/process.js';
import { ADMIN_TOKEN } from './helpers/server.js';

const ROUNDS = 3;
const WORKERS = 8;
const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };

interface Acknowledged {
  repo: string;
  tag: string;
  manifest: string;
  blobs: string[];
}

async function readBlob(url: string, repo: string, digest: string): Promise<string | undefined> {
  const res = await fetch(`${url}/v2/${repo}/blobs/${digest}`, { headers: auth });
  if (res.status !== 200) return `${repo}: blob ${digest.slice(0, 19)} answered ${res.status}`;
  const got = `sha256:${createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex')}`;
  return got === digest ? undefined : `${repo}: blob ${digest.slice(0, 19)} reads back as ${got.slice(0, 19)}`;
}

/** The manifest `tag` names in `repo`, with every blob it references read back; problems found. */
async function checkTag(url: string, repo: string, tag: string, expected?: Acknowledged): Promise<string[]> {
  const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, {
    headers: { ...auth, Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
  });
  if (res.status !== 200) return [`${repo}:${tag}: manifest answered ${res.status}`];
  const bytes = Buffer.from(await res.arrayBuffer());
  if (expected && sha256(bytes) !== expected.manifest) return [`${repo}:${tag}: names ${sha256(bytes)}, acknowledged ${expected.manifest}`];
  const doc = JSON.parse(bytes.toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
  const digests = [doc.config.digest, ...doc.layers.map((l) => l.digest)];
  if (expected && digests.join() !== expected.blobs.join()) return [`${repo}:${tag}: manifest lists other blobs`];
  const problems: string[] = [];
  for (const digest of digests) {
    const problem = await readBlob(url, repo, digest);
    if (problem) problems.push(problem);
  }
  return problems;
}

test(`kill -9 right after a 201 while ${WORKERS} imports run at once (${ROUNDS} rounds): every acknowledged import and every tag left reads back whole`, async (t) => {
  t.timeout(180_000);
  const env = await processState(t, 'berth-durability-');
  const acknowledged: Acknowledged[] = [];
  const repos: string[] = [];
  let cut = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const berth = await spawnBerth(env);
    const mine = Array.from({ length: WORKERS }, (_, w) => `durable/r${round}-w${w}`);
    for (const repo of mine) {
      const created = await fetch(`${berth.url}/api/v1/repositories`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: repo }) });
      t.is(created.status, 201);
    }
    repos.push(...mine);
    // Archives made beforehand, so that the workers only send.
    const archives = await Promise.all(
      Array.from({ length: WORKERS * 40 }, async () => {
        const image = makeImage();
        return { image, tar: await tarOf(dirEntries(image)) };
      }),
    );
    // Kill at the first 201 after a random number of them, so that it lands at a different moment each round.
    const killAfter = 5 + Math.floor(Math.random() * 40);
    let answered = 0;
    let killed = false;
    let next = 0;
    const worker = async (repo: string) => {
      for (let i = 0; !killed && next < archives.length; i++) {
        const { image, tar } = archives[next++]!;
        const tag = `t${i}`;
        let status: number;
        try {
          const res = await fetch(`${berth.url}/api/v1/repositories/${repo}/imports?tag=${tag}`, {
            method: 'POST',
            headers: { ...auth, 'Content-Type': 'application/x-tar' },
            body: new Uint8Array(tar),
          });
          status = res.status;
          if (status === 201 && ++answered >= killAfter && !killed) {
            // the moment the 201 is here, before its body is even read
            killed = true;
            process.kill(berth.pid, 'SIGKILL');
          }
          await res.arrayBuffer().catch(() => undefined);
        } catch {
          cut++;
          return;
        }
        if (status === 201) acknowledged.push({ repo, tag, manifest: image.manifestDigest, blobs: [image.configDigest, ...image.layerDigests] });
        else if (!killed) t.fail(`import answered ${status}`);
      }
    };
    await Promise.all(mine.map(worker));
    if (!killed) process.kill(berth.pid, 'SIGKILL');
    await berth.stop();

    const again = await spawnBerth(env);
    const problems: string[] = [];
    for (const ack of acknowledged) problems.push(...(await checkTag(again.url, ack.repo, ack.tag, ack)));
    // Whatever else a repository holds after the restart (imports that were in flight) is whole too.
    let tags = 0;
    for (const repo of repos) {
      const listed = (await (await fetch(`${again.url}/v2/${repo}/tags/list`, { headers: auth })).json()) as { tags: string[] | null };
      for (const tag of listed.tags ?? []) {
        tags++;
        if (!acknowledged.some((a) => a.repo === repo && a.tag === tag)) problems.push(...(await checkTag(again.url, repo, tag)));
      }
    }
    t.deepEqual(problems, [], `round ${round}`);
    t.true(tags >= acknowledged.length);
    await again.stop();
    const checked = await runFsck(env);
    t.is(checked.code, 0, checked.stderr);
    t.deepEqual([checked.report.missing, checked.report.corrupt, checked.report.dangling], [[], [], []]);
    t.log(`round ${round}: killed after ${answered} answers; ${acknowledged.length} acknowledged so far, ${tags} tags after the restart`);
  }
  t.log(`${acknowledged.length} acknowledged, ${cut} requests cut by the kills, 0 lost`);
  t.true(acknowledged.length >= ROUNDS * 5);
});
