// Push and pull through the registry API, and blob GETs: skopeo pushes the image into and pulls it from
// Berth, the reference registry (docker-registry) and a do-nothing registry (the floor: skopeo's own
// time); curl GETs a blob of the whole image's size from Berth beside `cat` of the same file.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { BerthProcess, type BerthStartOptions } from './berth.js';
import type { BenchImage } from './image.js';
import { NullRegistry } from './null-registry.js';
import { PeerRegistry, type SkopeoRun, skopeoPull, skopeoPush } from './peer.js';
import { RssSampler, settle, syncDisks, timedCommand } from './processes.js';
import { median, mib, MiB, ms, rate, type Row } from './report.js';

const REPOSITORY = 'bench/app';

/** One registry's first push of the image with skopeo, then a pull of it into a new folder. */
export interface PushPull {
  push: number;
  pull: number;
  /** the registry's peak RSS (VmHWM) after both; for the do-nothing registry, that of the bench process */
  peakRss: number;
  /** CPU milliseconds (user + system) the registry used during the push, and during the pull */
  pushCpu: number;
  pullCpu: number;
  /** CPU milliseconds skopeo itself used */
  skopeoPushCpu: number;
  skopeoPullCpu: number;
}

/** CPU time (user + system) a live process has used so far, in milliseconds (clock ticks of 10 ms). */
function processCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Times `step` with the CPU `cpu()` counts across it. */
async function measured(cpu: () => number, step: () => Promise<SkopeoRun>): Promise<{ run: SkopeoRun; cpu: number }> {
  const before = cpu();
  const run = await step();
  return { run, cpu: cpu() - before };
}

function pushPull(push: { run: SkopeoRun; cpu: number }, pull: { run: SkopeoRun; cpu: number }, peakRss: number): PushPull {
  return {
    push: push.run.ms,
    pull: pull.run.ms,
    peakRss,
    pushCpu: push.cpu,
    pullCpu: pull.cpu,
    skopeoPushCpu: push.run.cpuMs,
    skopeoPullCpu: pull.run.cpuMs,
  };
}

/** The reference registry, started on an empty folder: push, then pull. */
export async function peerPushPull(image: BenchImage, root: string, settleSeconds: number): Promise<PushPull> {
  const registry = await PeerRegistry.start(path.join(root, 'peer'));
  const pulled = path.join(root, 'pulled');
  try {
    const cpu = () => processCpu(registry.pid);
    await settle(settleSeconds);
    const push = await measured(cpu, () => registry.push(image.dir));
    await settle(settleSeconds);
    const pull = await measured(cpu, () => registry.pull(pulled));
    return pushPull(push, pull, registry.memory().hwm);
  } finally {
    await registry.stop();
    await fs.rm(path.join(root, 'peer'), { recursive: true, force: true });
    await fs.rm(pulled, { recursive: true, force: true });
    syncDisks();
  }
}

/** The same through Berth's /v2: skopeo pushes into `berth` (create-on-push), then pulls it back. */
export async function berthPushPull(image: BenchImage, root: string, settleSeconds: number, berth: BerthProcess): Promise<PushPull> {
  const pulled = path.join(root, 'pulled');
  const reference = `${berth.url.replace(/^http:\/\//, '')}/${REPOSITORY}:v1`;
  const creds = `bench:${berth.token}`;
  try {
    const cpu = () => processCpu(berth.pid);
    await settle(settleSeconds);
    const push = await measured(cpu, () => skopeoPush(image.dir, reference, creds));
    const latest = await berth.latestVersion(REPOSITORY);
    if (latest !== 1) throw new Error(`the push made no version (latest ${latest})`);
    await settle(settleSeconds);
    const pull = await measured(cpu, () => skopeoPull(reference, pulled, creds));
    return pushPull(push, pull, berth.memory().hwm);
  } finally {
    await fs.rm(pulled, { recursive: true, force: true });
  }
}

/** The floor: the same push and pull with a registry that stores nothing and serves from the image folder. */
export async function floorPushPull(image: BenchImage, root: string, settleSeconds: number): Promise<PushPull> {
  const registry = await NullRegistry.start(image.dir);
  const pulled = path.join(root, 'pulled');
  const reference = `127.0.0.1:${registry.port}/${REPOSITORY}:v1`;
  try {
    const cpu = () => {
      const used = process.cpuUsage();
      return (used.user + used.system) / 1000;
    };
    await settle(settleSeconds);
    const push = await measured(cpu, () => skopeoPush(image.dir, reference));
    await settle(settleSeconds);
    const pull = await measured(cpu, () => skopeoPull(reference, pulled));
    return pushPull(push, pull, 0);
  } finally {
    await registry.stop();
    await fs.rm(pulled, { recursive: true, force: true });
  }
}

/** GETs of one big blob from Berth with curl into /dev/null, beside `cat` of the blob's file. */
export interface BlobGets {
  bytes: number;
  curl: number[];
  cat: number[];
  /** VmHWM of a Berth restarted on the data folder, before the GETs and after them */
  idleRss: number;
  peakRss: number;
  /** the largest VmRSS sampled during the GETs */
  sampledRss: number;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: MiB })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** Runs a command with its stdout into /dev/null; milliseconds. */
function timedToNull(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${cmd} exited with ${code}: ${stderr.trim()}`))));
  });
}

/**
 * `file` uploaded whole as one blob (monolithic POST), then Berth restarted on its data folder so that
 * its peak RSS starts from idle; then `runs` times: `cat` of the stored blob file and a curl GET of it,
 * both into /dev/null, the page cache warm.
 */
export async function blobGets(file: string, start: Omit<BerthStartOptions, 'dataDir'>, dataDir: string, runs: number, settleSeconds: number): Promise<BlobGets> {
  const digest = await sha256File(file);
  const bytes = (await fs.stat(file)).size;
  const blobFile = path.join(dataDir, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7));
  let berth = await BerthProcess.start({ ...start, dataDir });
  try {
    const upload = await timedCommand('curl', [
      '-sS', '-o', '/dev/null', '-w', '%{http_code}', '-u', `bench:${berth.token}`, '-X', 'POST', '-H', 'Content-Type: application/octet-stream',
      '-T', file, `${berth.url}/v2/${REPOSITORY}/blobs/uploads?digest=${digest}`,
    ]);
    if (upload.stdout !== '201') throw new Error(`the blob upload answered ${upload.stdout}`);
    await berth.stop();
    berth = await BerthProcess.start({ ...start, dataDir });
    const url = `${berth.url}/v2/${REPOSITORY}/blobs/${digest}`;
    const auth = ['-u', `bench:${berth.token}`];
    const head = await timedCommand('curl', ['-sS', '-I', '-o', '/dev/null', '-w', '%{http_code}', ...auth, url]);
    if (head.stdout !== '200') throw new Error(`HEAD of the blob answered ${head.stdout}`);
    await timedToNull('cat', [blobFile]);
    const idleRss = berth.memory().hwm;
    await settle(settleSeconds);
    const curl: number[] = [];
    const cat: number[] = [];
    const sampler = new RssSampler(berth.pid);
    for (let i = 0; i < runs; i++) {
      cat.push(await timedToNull('cat', [blobFile]));
      curl.push(await timedToNull('curl', ['-sS', '--fail', '-o', '/dev/null', ...auth, url]));
    }
    const sampledRss = sampler.stop();
    return { bytes, curl, cat, idleRss, peakRss: berth.memory().hwm, sampledRss };
  } finally {
    await berth.stop();
  }
}

const GB = 1e9;

export function registryRows(size: string, bytes: number, peer: PushPull[], berth: PushPull[], floor: PushPull[], gets?: BlobGets): Row[] {
  const rows: Row[] = [];
  const med = (runs: PushPull[], pick: (p: PushPull) => number) => median(runs.map(pick));
  if (peer.length > 0 && berth.length > 0) {
    const peerPush = med(peer, (p) => p.push);
    const peerPull = med(peer, (p) => p.pull);
    const berthPush = med(berth, (p) => p.push);
    const berthPull = med(berth, (p) => p.pull);
    const peerRss = Math.max(...peer.map((p) => p.peakRss));
    const berthRss = Math.max(...berth.map((p) => p.peakRss));
    rows.push(
      { figure: `skopeo push ${size} into Berth`, value: `${ms(berthPush)} (${rate(bytes, berthPush)})`, baseline: `registry ${ms(peerPush)}`, ratio: berthPush / peerPush, target: '≤ 0.8×', met: berthPush / peerPush <= 0.8 },
      { figure: `skopeo pull ${size} from Berth`, value: `${ms(berthPull)} (${rate(bytes, berthPull)})`, baseline: `registry ${ms(peerPull)}`, ratio: berthPull / peerPull, target: '≤ 0.9×', met: berthPull / peerPull <= 0.9 },
      { figure: `peak RSS, Berth during push and pull`, value: mib(berthRss), baseline: `registry ${mib(peerRss)}`, ratio: berthRss / peerRss, target: '≤ 100 MiB', met: berthRss <= 100 * MiB },
      { figure: `Berth CPU per push / pull`, value: `${ms(med(berth, (p) => p.pushCpu))} / ${ms(med(berth, (p) => p.pullCpu))}`, baseline: `registry ${ms(med(peer, (p) => p.pushCpu))} / ${ms(med(peer, (p) => p.pullCpu))}`, ratio: med(berth, (p) => p.pushCpu) / med(peer, (p) => p.pushCpu) },
    );
    if (floor.length > 0) {
      const floorPush = med(floor, (p) => p.push);
      const floorPull = med(floor, (p) => p.pull);
      rows.push(
        { figure: `skopeo push, do-nothing registry (floor)`, value: ms(floorPush), baseline: `registry ${ms(peerPush)}`, ratio: floorPush / peerPush },
        { figure: `skopeo pull, do-nothing registry (floor)`, value: ms(floorPull), baseline: `registry ${ms(peerPull)}`, ratio: floorPull / peerPull },
        { figure: `skopeo's own CPU per push / pull`, value: `${ms(med(floor, (p) => p.skopeoPushCpu))} / ${ms(med(floor, (p) => p.skopeoPullCpu))}`, baseline: `registry ${ms(peerPush)} / ${ms(peerPull)}`, ratio: med(floor, (p) => p.skopeoPushCpu) / peerPush },
      );
    }
  }
  if (gets) {
    const curl = median(gets.curl);
    const cat = median(gets.cat);
    const gbps = gets.bytes / GB / (curl / 1000);
    rows.push(
      { figure: `GET ${mib(gets.bytes)} blob, curl > /dev/null (n=${gets.curl.length})`, value: `${ms(curl)} (${gbps.toFixed(2)} GB/s)`, baseline: `cat of the file ${ms(cat)} (${(gets.bytes / GB / (cat / 1000)).toFixed(2)} GB/s)`, ratio: curl / cat, target: '≥ 1 GB/s', met: gbps >= 1 },
      { figure: `peak RSS, Berth during the GETs`, value: mib(gets.peakRss), baseline: `restarted, idle: ${mib(gets.idleRss)}`, ratio: gets.peakRss / gets.idleRss, target: 'unchanged (≤ +4 MiB)', met: gets.peakRss - gets.idleRss <= 4 * MiB },
    );
  }
  return rows;
}
