// `npm run bench`: how close Berth's import runs to the machine's limit, in how much memory, and
// against the reference registry. Every figure stands beside a baseline measured in the same run,
// because on a shared machine ratios mean more than absolute times. A benchmark, not a test: it
// fails only when something does not work, never because a target is missed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory from 'knex';
import { dirEntries, makeImage, tarOf } from '../test/helpers/archives.js';
import { BerthProcess, expectImported, startCommand } from './berth.js';
import { cliBench } from './cli.js';
import { durableWrite, sameFilesystem, sha256Of } from './floor.js';
import { generateImage, type BenchImage } from './image.js';
import { type BenchOptions, machine, parseOptions } from './options.js';
import { peerAvailable } from './peer.js';
import { berthPushPull, type BlobGets, blobGets, floorPushPull, peerPushPull, type PushPull, registryRows } from './registry.js';
import { RssSampler, settle, syncDisks } from './processes.js';
import { median, mib, MiB, ms, percentile, rate, type Row, table } from './report.js';

const REPO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPOSITORY = 'bench/app';

const log = (message: string): void => {
  process.stderr.write(`bench: ${message}\n`);
};

interface ImportRun {
  ms: number;
  /** VmHWM after the import: the process's peak RSS, start-up included */
  peakRss: number;
  /** the largest VmRSS sampled while the import ran */
  sampledRss: number;
  /** VmHWM of the same process before the import */
  idleRss: number;
}

interface Latencies {
  reimport: number[];
  health: number[];
}

class Bench {
  private serial = 0;
  /** with --database-url: how to drop each Berth process's database */
  private readonly databases = new Map<BerthProcess, () => Promise<void>>();

  constructor(private readonly opts: BenchOptions, private readonly root: string) {}

  private async berth(): Promise<BerthProcess> {
    const db = this.opts.databaseUrl ? await freshDatabase(this.opts.databaseUrl, `berth_bench_${process.pid}_${this.serial}`) : undefined;
    const berth = await BerthProcess.start({
      repoDir: REPO_DIR,
      dataDir: path.join(this.root, `berth-${this.serial++}`),
      tsx: this.opts.tsx,
      nodeFlags: this.opts.nodeFlags,
      cpuProf: this.opts.cpuProf,
      ...(db ? { env: { DATABASE_URL: db.url } } : {}),
    }).catch(async (err: unknown) => {
      await db?.drop();
      throw err;
    });
    if (db) this.databases.set(berth, db.drop);
    return berth;
  }

  private async retire(berth: BerthProcess): Promise<void> {
    await berth.stop();
    await fs.rm(berth.dataDir, { recursive: true, force: true });
    await this.databases.get(berth)?.();
    this.databases.delete(berth);
    syncDisks();
  }

  /** Incomplete re-imports of a small image (2 layers of 2 KiB) in a Berth of their own, and /healthz beside them. */
  async smallReimports(count: number): Promise<Latencies> {
    const image = makeImage();
    const berth = await this.berth();
    try {
      await berth.createRepository(REPOSITORY);
      expectImported(await berth.importBuffer(REPOSITORY, await tarOf(dirEntries(image)), 'v1'), 'first import', true);
      const incomplete = await tarOf(dirEntries(image, { omit: image.layerDigests }));
      const into: Latencies = { reimport: [], health: [] };
      await settle(this.opts.settleSeconds);
      for (let i = 0; i < 5; i++) expectImported(await berth.importBuffer(REPOSITORY, incomplete, 'v1'), 'warm-up re-import', false);
      for (let i = 0; i < count; i++) {
        const result = await berth.importBuffer(REPOSITORY, incomplete, 'v1');
        expectImported(result, 'incomplete re-import', false);
        if (result.report.blobs?.filter((b) => image.layerDigests.includes(b.digest) && b.source === 'repository').length !== image.layerDigests.length) {
          throw new Error('the re-import did not take its layers from the repository');
        }
        into.reimport.push(result.ms);
      }
      for (let i = 0; i < count; i++) into.health.push(await berth.health());
      return into;
    } finally {
      await this.retire(berth);
    }
  }

  /** One import of `image` in a fresh Berth process; with `latencies`, the re-imports follow in the same process. */
  async importOnce(image: BenchImage, mode: 'multipart' | 'raw', latencies?: Latencies): Promise<ImportRun> {
    const berth = await this.berth();
    try {
      await berth.createRepository(REPOSITORY);
      const idleRss = berth.memory().hwm;
      await settle(this.opts.settleSeconds);
      const sampler = new RssSampler(berth.pid);
      const result = await berth.importFile(REPOSITORY, image.tar, 'v1', mode);
      const sampledRss = sampler.stop();
      expectImported(result, `${mode} import`, true);
      if (result.report.blobs?.some((b) => b.source !== 'upload')) throw new Error('the first import reused a blob');
      const peakRss = berth.memory().hwm;
      if (latencies) await this.reimports(berth, image, latencies);
      return { ms: result.ms, peakRss, sampledRss, idleRss };
    } finally {
      await this.retire(berth);
    }
  }

  /** The incomplete re-import (manifest and config only; the repository owns the layers), and /healthz beside it. */
  private async reimports(berth: BerthProcess, image: BenchImage, into: Latencies): Promise<void> {
    await settle(this.opts.settleSeconds);
    for (let i = 0; i < 2; i++) expectImported(await berth.importBuffer(REPOSITORY, image.incomplete, 'v1'), 'warm-up re-import', false);
    for (let i = 0; i < this.opts.runs; i++) {
      const result = await berth.importBuffer(REPOSITORY, image.incomplete, 'v1');
      expectImported(result, 'incomplete re-import', false);
      const layers = result.report.blobs?.filter((b) => image.layerDigests.includes(b.digest)) ?? [];
      if (layers.length !== image.layerDigests.length || layers.some((b) => b.source !== 'repository')) {
        throw new Error('the re-import did not take its layers from the repository');
      }
      into.reimport.push(result.ms);
    }
    for (let i = 0; i < this.opts.runs; i++) into.health.push(await berth.health());
  }

  /** Small imports at a concurrency level: per-import latency and imports per second. */
  async smallImports(concurrency: number): Promise<SmallRun> {
    const archives = await Promise.all(
      Array.from({ length: this.opts.smallImports }, (_, i) => tarOf(dirEntries(makeImage({ label: `c${concurrency}-${i}` })))),
    );
    const berth = await this.berth();
    try {
      const repos = Array.from({ length: concurrency }, (_, w) => `small/c${concurrency}-${w}`);
      for (const r of repos) await berth.createRepository(r);
      expectImported(await berth.importBuffer(repos[0]!, await tarOf(dirEntries(makeImage())), 'warm-up'), 'warm-up import', true);
      await settle(this.opts.settleSeconds);
      const latencies: number[] = [];
      let next = 0;
      const cpuBefore = berth.cpuTime();
      const started = performance.now();
      await Promise.all(
        repos.map(async (repo) => {
          while (next < archives.length) {
            const result = await berth.importBuffer(repo, archives[next++]!, 'latest');
            expectImported(result, 'small import', true);
            latencies.push(result.ms);
          }
        }),
      );
      const wall = performance.now() - started;
      return { latencies, perSecond: archives.length / (wall / 1000), cpuMs: (berth.cpuTime() - cpuBefore) / archives.length };
    } finally {
      await this.retire(berth);
    }
  }

  async peerPushPull(image: BenchImage): Promise<PushPull> {
    return peerPushPull(image, this.root, this.opts.settleSeconds);
  }

  async floorPushPull(image: BenchImage): Promise<PushPull> {
    return floorPushPull(image, this.root, this.opts.settleSeconds);
  }

  /** The same through Berth's /v2: skopeo pushes into a fresh Berth (create-on-push), then pulls it back. */
  async berthPushPull(image: BenchImage): Promise<PushPull> {
    const berth = await this.berth();
    try {
      return await berthPushPull(image, this.root, this.opts.settleSeconds, berth);
    } finally {
      await this.retire(berth);
    }
  }

  /** GETs of the image tarball stored as one blob, beside cat of its file, in a Berth of their own (SQLite). */
  async blobGets(file: string): Promise<BlobGets> {
    const dataDir = path.join(this.root, `berth-${this.serial++}`);
    try {
      const start = { repoDir: REPO_DIR, tsx: this.opts.tsx, nodeFlags: this.opts.nodeFlags, cpuProf: this.opts.cpuProf };
      return await blobGets(file, start, dataDir, Math.max(3, this.opts.rounds), this.opts.settleSeconds);
    } finally {
      await fs.rm(dataDir, { recursive: true, force: true });
      syncDisks();
    }
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (!opts) return;
  const root = path.join(opts.dir, `run-${process.pid}`);
  await fs.mkdir(root, { recursive: true });
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    void fs.rm(root, { recursive: true, force: true }).finally(() => process.exit(130));
  });
  try {
    await run(opts, root);
  } finally {
    if (!opts.keep && !interrupted) await fs.rm(root, { recursive: true, force: true });
  }
}

async function run(opts: BenchOptions, root: string): Promise<void> {
  if (!opts.tsx) {
    log('building dist/ (npm run build)');
    const built = spawnSync('npm', ['run', '--silent', 'build'], { cwd: REPO_DIR, stdio: 'inherit' });
    if (built.status !== 0) throw new Error('npm run build failed');
  }
  if (opts.cpuProf) await fs.mkdir(opts.cpuProf, { recursive: true });
  if (opts.smallOnly) return smallOnly(opts, root);
  if (opts.cli) {
    const { rows, header } = await cliBench(opts, root, REPO_DIR, log);
    const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
    process.stdout.write(['', command, `machine: ${machine()}; data folder filesystem: ${filesystemOf(root)}`, ...header, '', table(rows), ''].join('\n'));
    if (opts.json) await fs.writeFile(opts.json, `${JSON.stringify({ command, machine: machine(), options: opts, rows }, null, 2)}\n`);
    return;
  }
  const peer = opts.skipPeer ? { ok: false, why: '--skip-peer' } : peerAvailable();
  log(peer.ok ? `peer: ${peer.why}` : `no peer: ${peer.why}`);
  if (opts.registryOnly) return registryOnly(opts, root, peer);

  log(`generating a ${opts.sizeMiB} MiB image (${opts.layers} layers) and a ${opts.smallSizeMiB} MiB one under ${root}`);
  const big = await generateImage(path.join(root, 'big'), opts.sizeMiB, opts.layers, `big-${process.pid}`);
  const small = await generateImage(path.join(root, 'small'), opts.smallSizeMiB, opts.layers, `small-${process.pid}`);
  const floorDir = path.join(root, 'berth-floor');
  await fs.mkdir(floorDir);
  if (!(await sameFilesystem(floorDir, root))) throw new Error('the floor folder is not on the data folder filesystem');
  syncDisks();

  const bench = new Bench(opts, root);
  const floor: number[] = [];
  const sha: number[] = [];
  const multipart: ImportRun[] = [];
  const raw: ImportRun[] = [];
  const smallRuns: ImportRun[] = [];
  const pushes: PushPull[] = [];
  const berthPushes: PushPull[] = [];
  const floorPushes: PushPull[] = [];
  const latencies: Latencies = { reimport: [], health: [] };
  // Rounds interleave the contestants, so that a slow spell of a shared machine hits all of them.
  for (let round = 1; round <= opts.rounds; round++) {
    log(`round ${round}/${opts.rounds}: floor`);
    await settle(opts.settleSeconds);
    floor.push(await durableWrite(big.tar, floorDir));
    syncDisks();
    sha.push(sha256Of(big.tar));
    log(`round ${round}/${opts.rounds}: berth, curl -F`);
    multipart.push(await bench.importOnce(big, 'multipart', round === 1 ? latencies : undefined));
    log(`round ${round}/${opts.rounds}: berth, raw body`);
    raw.push(await bench.importOnce(big, 'raw'));
    log(`round ${round}/${opts.rounds}: berth, ${opts.smallSizeMiB} MiB, curl -F`);
    smallRuns.push(await bench.importOnce(small, 'multipart'));
    if (peer.ok) {
      log(`round ${round}/${opts.rounds}: reference registry push and pull`);
      pushes.push(await bench.peerPushPull(big));
      log(`round ${round}/${opts.rounds}: berth push and pull (skopeo, /v2)`);
      berthPushes.push(await bench.berthPushPull(big));
      log(`round ${round}/${opts.rounds}: push and pull, do-nothing registry`);
      floorPushes.push(await bench.floorPushPull(big));
    }
    log(
      `round ${round}: floor ${ms(floor.at(-1)!)}, sha256 ${ms(sha.at(-1)!)}, -F ${ms(multipart.at(-1)!.ms)}, raw ${ms(raw.at(-1)!.ms)}` +
        (peer.ok
          ? `, peer push ${ms(pushes.at(-1)!.push)} pull ${ms(pushes.at(-1)!.pull)}, berth push ${ms(berthPushes.at(-1)!.push)} pull ${ms(berthPushes.at(-1)!.pull)}`
          : ''),
    );
  }
  log(`blob GETs of ${mib(big.tarBytes)}, beside cat`);
  const gets = await bench.blobGets(big.tar);
  log('small imports, concurrency 1 and 8');
  const c1 = await bench.smallImports(1);
  const c8 = await bench.smallImports(8);

  const rows = figures({ opts, big, floor, sha, multipart, raw, smallRuns, pushes, berthPushes, floorPushes, gets, latencies, c1, c8 });
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  process.stdout.write(
    [
      '',
      `${command}`,
      `machine: ${machine()}; data folder filesystem: ${filesystemOf(root)}`,
      `berth runs as npm start does: ${berthCommand(await startCommand(REPO_DIR), opts.nodeFlags)}`,
      `image: ${opts.sizeMiB} MiB in ${opts.layers} layers, tarball ${mib(big.tarBytes)}; medians of ${opts.rounds} rounds, ${opts.settleSeconds} s of quiet before each; ${opts.runs} latency runs`,
      '',
      table(rows),
      '',
    ].join('\n'),
  );
  if (opts.json) {
    const data = { command, machine: machine(), options: opts, floor, sha, multipart, raw, smallRuns, pushes, berthPushes, floorPushes, gets, latencies, c1, c8, rows };
    await fs.writeFile(opts.json, `${JSON.stringify(data, null, 2)}\n`);
  }
}

/** `--registry-only`: push and pull with skopeo (Berth, the reference registry, the do-nothing floor) and the blob GETs. */
async function registryOnly(opts: BenchOptions, root: string, peer: { ok: boolean; why: string }): Promise<void> {
  if (!peer.ok) throw new Error(`--registry-only needs skopeo and the reference registry: ${peer.why}`);
  log(`generating a ${opts.sizeMiB} MiB image (${opts.layers} layers) under ${root}`);
  const big = await generateImage(path.join(root, 'big'), opts.sizeMiB, opts.layers, `big-${process.pid}`);
  syncDisks();
  const bench = new Bench(opts, root);
  const pushes: PushPull[] = [];
  const berthPushes: PushPull[] = [];
  const floorPushes: PushPull[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    log(`round ${round}/${opts.rounds}: reference registry, Berth, do-nothing registry: push and pull`);
    pushes.push(await bench.peerPushPull(big));
    berthPushes.push(await bench.berthPushPull(big));
    floorPushes.push(await bench.floorPushPull(big));
    const [p, b, f] = [pushes.at(-1)!, berthPushes.at(-1)!, floorPushes.at(-1)!];
    log(`round ${round}: push registry ${ms(p.push)} berth ${ms(b.push)} floor ${ms(f.push)}; pull registry ${ms(p.pull)} berth ${ms(b.pull)} floor ${ms(f.pull)}`);
  }
  log(`blob GETs of ${mib(big.tarBytes)}, beside cat`);
  const gets = await bench.blobGets(big.tar);
  const size = `${opts.sizeMiB} MiB`;
  const peerRss = Math.max(...pushes.map((p) => p.peakRss));
  const rows = [
    { figure: `peak RSS, registry during push and pull`, value: mib(peerRss), baseline: '' },
    ...registryRows(size, big.tarBytes, pushes, berthPushes, floorPushes, gets),
  ];
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  process.stdout.write(
    [
      '',
      command,
      `machine: ${machine()}; data folder filesystem: ${filesystemOf(root)}; load average at the end: ${loadAverage()}`,
      `berth runs as npm start does: ${berthCommand(await startCommand(REPO_DIR), opts.nodeFlags)}`,
      `image: ${opts.sizeMiB} MiB in ${opts.layers} layers; medians of ${opts.rounds} rounds, ${opts.settleSeconds} s of quiet before each step`,
      '',
      table(rows),
      '',
    ].join('\n'),
  );
  if (opts.json) await fs.writeFile(opts.json, `${JSON.stringify({ command, machine: machine(), options: opts, pushes, berthPushes, floorPushes, gets, rows }, null, 2)}\n`);
}

/** `--small-only`: the incomplete re-import and the small imports, nothing else. */
async function smallOnly(opts: BenchOptions, root: string): Promise<void> {
  const bench = new Bench(opts, root);
  log(`incomplete re-imports of a small image (${opts.smallImports})`);
  const latencies = await bench.smallReimports(opts.smallImports);
  log(`small imports, concurrency 1 and 8 (${opts.smallImports} each)`);
  const c1 = await bench.smallImports(1);
  const c8 = await bench.smallImports(8);
  const rows = smallRows(latencies, c1, c8);
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  process.stdout.write(
    [
      '',
      command,
      `machine: ${machine()}; data folder filesystem: ${filesystemOf(root)}; database: ${opts.databaseUrl ? 'PostgreSQL' : 'SQLite'}`,
      `berth runs as npm start does: ${berthCommand(await startCommand(REPO_DIR), opts.nodeFlags)}`,
      `load average at the end: ${loadAverage()}`,
      '',
      table(rows),
      '',
    ].join('\n'),
  );
  if (opts.json) await fs.writeFile(opts.json, `${JSON.stringify({ command, machine: machine(), options: opts, latencies, c1, c8, rows }, null, 2)}\n`);
}

function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

/** A fresh PostgreSQL database on the server of `base`, and how to drop it. */
async function freshDatabase(base: string, name: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = knexFactory({ client: 'pg', connection: base, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.raw(`CREATE DATABASE ${name}`);
  } finally {
    await admin.destroy();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const again = knexFactory({ client: 'pg', connection: base, pool: { min: 0, max: 1 } });
      try {
        await again.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await again.destroy();
      }
    },
  };
}

function filesystemOf(dir: string): string {
  const df = spawnSync('df', ['-h', '--output=source,fstype,size', dir], { encoding: 'utf8' });
  const line = df.stdout?.trim().split('\n')[1];
  return line ? line.split(/\s+/).join(' ') : 'unknown';
}

interface Figures {
  opts: BenchOptions;
  big: BenchImage;
  floor: number[];
  sha: number[];
  multipart: ImportRun[];
  raw: ImportRun[];
  smallRuns: ImportRun[];
  /** the reference registry's push and pull */
  pushes: PushPull[];
  /** Berth's push and pull through /v2 */
  berthPushes: PushPull[];
  /** the do-nothing registry's */
  floorPushes: PushPull[];
  gets: BlobGets;
  latencies: Latencies;
  c1: SmallRun;
  c8: SmallRun;
}

interface SmallRun {
  latencies: number[];
  perSecond: number;
  /** Berth's CPU time (user + system) per import */
  cpuMs: number;
}

function figures(f: Figures): Row[] {
  const size = `${f.opts.sizeMiB} MiB`;
  const floor = median(f.floor);
  const sha = median(f.sha);
  const mp = median(f.multipart.map((r) => r.ms));
  const raw = median(f.raw.map((r) => r.ms));
  const bytes = f.big.tarBytes;
  const peakMp = Math.max(...f.multipart.map((r) => r.peakRss));
  const peakRaw = Math.max(...f.raw.map((r) => r.peakRss));
  const peakSmall = Math.max(...f.smallRuns.map((r) => r.peakRss));
  const idle = Math.max(...[...f.multipart, ...f.raw, ...f.smallRuns].map((r) => r.idleRss));
  const rows: Row[] = [
    { figure: `import ${size}, curl -F`, value: `${ms(mp)} (${rate(bytes, mp)})`, baseline: `write+fsync ${ms(floor)}`, ratio: mp / floor, target: '≤ 1.25×', met: mp / floor <= 1.25 },
    { figure: `import ${size}, raw body`, value: `${ms(raw)} (${rate(bytes, raw)})`, baseline: `write+fsync ${ms(floor)}`, ratio: raw / floor, target: '≤ 1.25×', met: raw / floor <= 1.25 },
    { figure: `sha256 of the same bytes`, value: `${ms(sha)} (${rate(bytes, sha)})`, baseline: `write+fsync ${ms(floor)}`, ratio: sha / floor },
  ];
  if (f.pushes.length > 0) {
    const push = median(f.pushes.map((p) => p.push));
    rows.push(
      { figure: `import ${size}, curl -F vs registry`, value: ms(mp), baseline: `skopeo push ${ms(push)}`, ratio: mp / push, target: '≤ 0.55×', met: mp / push <= 0.55 },
      { figure: `import ${size}, raw body vs registry`, value: ms(raw), baseline: `skopeo push ${ms(push)}`, ratio: raw / push, target: '≤ 0.55×', met: raw / push <= 0.55 },
      // What the disk alone allows: no import can beat the durable write of its own bytes.
      { figure: `write+fsync vs registry`, value: ms(floor), baseline: `skopeo push ${ms(push)}`, ratio: floor / push },
    );
  }
  const smallSize = `${f.opts.smallSizeMiB} MiB`;
  rows.push(
    {
      figure: `peak RSS, ${size} curl -F`,
      value: mib(peakMp),
      baseline: `${smallSize}: ${mib(peakSmall)}`,
      ratio: peakMp / peakSmall,
      target: '≤ 100 MiB, ≤ 1.10×',
      met: peakMp <= 100 * MiB && peakMp / peakSmall <= 1.1 && peakSmall / peakMp <= 1.1,
    },
    { figure: `peak RSS, ${size} raw body`, value: mib(peakRaw), baseline: `${smallSize} -F: ${mib(peakSmall)}`, ratio: peakRaw / peakSmall, target: '≤ 100 MiB', met: peakRaw <= 100 * MiB },
    { figure: `peak RSS, ${smallSize} curl -F`, value: mib(peakSmall), baseline: `idle: ${mib(idle)}`, ratio: peakSmall / idle, target: '≤ 100 MiB', met: peakSmall <= 100 * MiB },
  );
  if (f.pushes.length > 0) {
    const peerRss = Math.max(...f.pushes.map((p) => p.peakRss));
    rows.push({ figure: `peak RSS, registry during push and pull`, value: mib(peerRss), baseline: `Berth -F: ${mib(peakMp)}`, ratio: peerRss / peakMp });
  }
  rows.push(...registryRows(size, bytes, f.pushes, f.berthPushes, f.floorPushes, f.gets));
  rows.push(...smallRows(f.latencies, f.c1, f.c8));
  return rows;
}

/** The incomplete re-import and small-import rows, each beside its baseline and against issue 17's targets. */
function smallRows(latencies: Latencies, c1: SmallRun, c8: SmallRun): Row[] {
  const re = latencies.reimport;
  const health = median(latencies.health);
  const healthP99 = percentile(latencies.health, 99);
  const rows: Row[] = [
    { figure: `incomplete re-import, median (n=${re.length})`, value: ms(median(re)), baseline: `GET /healthz ${ms(health)}`, ratio: median(re) / health, target: '≤ 5 ms', met: median(re) <= 5 },
    { figure: `incomplete re-import, p99`, value: ms(percentile(re, 99)), baseline: `GET /healthz p99 ${ms(healthP99)}`, ratio: percentile(re, 99) / healthP99, target: '≤ 15 ms', met: percentile(re, 99) <= 15 },
  ];
  for (const [level, run] of [
    [1, c1],
    [8, c8],
  ] as const) {
    const m = median(run.latencies);
    rows.push({
      figure: `small import, c=${level}, median / p99 (n=${run.latencies.length})`,
      value: `${ms(m)} / ${ms(percentile(run.latencies, 99))}`,
      baseline: `GET /healthz ${ms(health)}`,
      ratio: m / health,
      ...(level === 1 ? { target: 'median ≤ 5 ms', met: m <= 5 } : {}),
    });
  }
  rows.push(
    { figure: `Berth CPU per small import, c=1 / c=8`, value: `${ms(c1.cpuMs)} / ${ms(c8.cpuMs)}`, baseline: '' },
    { figure: `small imports per second, c=1`, value: c1.perSecond.toFixed(0), baseline: '' },
    { figure: `small imports per second, c=8`, value: c8.perSecond.toFixed(0), baseline: `c=1: ${c1.perSecond.toFixed(0)}`, ratio: c8.perSecond / c1.perSecond, target: '≥ 300/s', met: c8.perSecond >= 300 },
  );
  return rows;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});

function berthCommand(start: { flags: string[]; env: Record<string, string> }, extra: string[]): string {
  const env = Object.entries(start.env).map(([k, v]) => `${k}=${v}`);
  return [...env, 'node', ...start.flags, ...extra, 'dist/src/main.js'].join(' ');
}
