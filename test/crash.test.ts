// Crash safety: Berth is killed with SIGKILL at random moments while imports and pushes run, then
// restarted. Every import or push that was acknowledged (201) reads back whole through /v2, and fsck
// finds nothing missing, corrupt or dangling; what the crash left (orphans, stale staging) is
// listed and `fsck --repair` removes it. BERTH_CRASH_ROUNDS sets the rounds (5 in CI).
import { createHash, randomBytes } from 'node:crypto';
import test from 'ava';
import { dirEntries, makeImage, sha256, tarOf } from './helpers/archives.js';
import { processState, runFsck, spawnBerth } from './helpers/process.js';
import { ADMIN_TOKEN } from './helpers/server.js';

const ROUNDS = Number(process.env.BERTH_CRASH_ROUNDS ?? 5);
const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };

interface Acknowledged {
  kind: 'import' | 'push';
  repo: string;
  manifest: string;
  blobs: string[];
}

async function importOne(url: string, repo: string): Promise<Acknowledged | undefined> {
  const image = makeImage({ layers: [randomBytes(64 * 1024 + Math.floor(Math.random() * 512 * 1024)), randomBytes(4096)] });
  const res = await fetch(`${url}/api/v1/repositories/${repo}/imports`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/x-tar' },
    body: new Uint8Array(await tarOf(dirEntries(image))),
  });
  if (res.status !== 201) return undefined;
  return { kind: 'import', repo, manifest: image.manifestDigest, blobs: [image.configDigest, ...image.layerDigests] };
}

async function pushOne(url: string, repo: string): Promise<Acknowledged | undefined> {
  const layer = randomBytes(32 * 1024 + Math.floor(Math.random() * 256 * 1024));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, made: randomBytes(4).toString('hex') }));
  for (const blob of [config, layer]) {
    const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${sha256(blob)}`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(blob),
    });
    if (res.status !== 201) return undefined;
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    }),
  );
  const res = await fetch(`${url}/v2/${repo}/manifests/v1`, {
    method: 'PUT',
    headers: { ...auth, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: new Uint8Array(manifest),
  });
  if (res.status !== 201) return undefined;
  return { kind: 'push', repo, manifest: sha256(manifest), blobs: [sha256(config), sha256(layer)] };
}

async function readsBack(url: string, ack: Acknowledged): Promise<string | undefined> {
  const manifest = await fetch(`${url}/v2/${ack.repo}/manifests/${ack.manifest}`, { headers: auth });
  if (manifest.status !== 200) return `${ack.kind} ${ack.repo}: manifest ${manifest.status}`;
  if (sha256(Buffer.from(await manifest.arrayBuffer())) !== ack.manifest) return `${ack.kind} ${ack.repo}: manifest bytes differ`;
  for (const digest of ack.blobs) {
    const blob = await fetch(`${url}/v2/${ack.repo}/blobs/${digest}`, { headers: auth });
    if (blob.status !== 200) return `${ack.kind} ${ack.repo}: blob ${blob.status}`;
    const got = `sha256:${createHash('sha256').update(Buffer.from(await blob.arrayBuffer())).digest('hex')}`;
    if (got !== digest) return `${ack.kind} ${ack.repo}: blob bytes differ`;
  }
  return undefined;
}

test(`kill -9 at random moments during imports and pushes (${ROUNDS} rounds): every acknowledged version reads back and fsck finds nothing missing or corrupt`, async (t) => {
  t.timeout(60_000 + ROUNDS * 30_000);
  const env = await processState(t, 'berth-crash-');
  const acknowledged: Acknowledged[] = [];
  let kills = 0;
  let failedInFlight = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const berth = await spawnBerth(env);
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const repo = `crash/r${round}-w${w}-${i}`;
        try {
          const created = await fetch(`${berth.url}/api/v1/repositories`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: repo }) });
          if (created.status !== 201) continue;
          const ack = i % 2 === 0 ? await importOne(berth.url, repo) : await pushOne(berth.url, repo);
          if (ack) acknowledged.push(ack);
        } catch {
          failedInFlight++;
          return;
        }
      }
    };
    const workers = [0, 1, 2].map((w) => worker(w));
    await new Promise((r) => setTimeout(r, 800 + Math.random() * 2500));
    process.kill(berth.pid, 'SIGKILL');
    kills++;
    stop = true;
    await berth.stop();
    await Promise.all(workers);

    const again = await spawnBerth(env);
    if (env.DATABASE_URL) {
      // the killed process's imports are failed by the next sweep after the instance timeout
      const deadline = Date.now() + 15_000;
      for (;;) {
        const running = (await (await fetch(`${again.url}/api/v1/imports?status=running`, { headers: auth })).json()) as { imports: unknown[] };
        if (running.imports.length === 0 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const lost: string[] = [];
    for (const ack of acknowledged) {
      const problem = await readsBack(again.url, ack);
      if (problem) lost.push(problem);
    }
    t.deepEqual(lost, [], `round ${round}`);
    await again.stop();

    const checked = await runFsck(env);
    t.is(checked.code, 0, checked.stderr);
    t.true(checked.report.ok);
    t.deepEqual([checked.report.missing, checked.report.corrupt, checked.report.dangling], [[], [], []]);
    if (round === ROUNDS - 1) {
      const repaired = await runFsck(env, ['--repair']);
      t.is(repaired.code, 0, repaired.stderr);
      const after = await runFsck(env);
      t.deepEqual([after.report.orphan_files, after.report.stale_staging], [[], []]);
    }
  }
  t.log(`${ROUNDS} rounds, ${kills} kills, ${acknowledged.length} acknowledged (${acknowledged.filter((a) => a.kind === 'push').length} pushes), ${failedInFlight} requests cut by the kill, 0 lost`);
  t.true(acknowledged.length > 0);
});
