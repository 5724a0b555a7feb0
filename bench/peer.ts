// The peer: the reference distribution registry (Debian's docker-registry) on 127.0.0.1, pushed to
// and pulled from by skopeo, from and into a dir: folder. Every push is a first push: the registry starts on an
// empty storage folder and skopeo's blob-info cache is removed, so nothing is known to exist.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, memoryOf, stopChild, timedCommand, waitFor } from './processes.js';

export const REGISTRY = '/usr/bin/docker-registry';

export function peerAvailable(): { ok: boolean; why: string } {
  const skopeo = spawnSync('skopeo', ['--version'], { encoding: 'utf8' });
  if (skopeo.status !== 0) return { ok: false, why: 'skopeo is not installed' };
  const registry = spawnSync(REGISTRY, ['--version'], { encoding: 'utf8' });
  if (registry.status !== 0) return { ok: false, why: `${REGISTRY} is not installed` };
  return { ok: true, why: `${registry.stdout.trim()}; ${skopeo.stdout.trim()}` };
}

/** skopeo's blob-info caches (BoltDB before containers/image 5.25, SQLite after), root and rootless. */
function blobInfoCaches(): string[] {
  const dirs = [path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local/share'), 'containers/cache')];
  if (process.getuid?.() === 0) dirs.push('/var/lib/containers/cache');
  return dirs.flatMap((d) => ['blob-info-cache-v1.boltdb', 'blob-info-cache-v1.sqlite'].map((f) => path.join(d, f)));
}

/** One skopeo run: its wall time, and the CPU time (user + system) skopeo itself used, in milliseconds. */
export interface SkopeoRun {
  ms: number;
  cpuMs: number;
}

/**
 * Runs skopeo with `args` and reports its own CPU time beside the wall time: a shell runs it and then
 * prints `times` (its children's user and system time), so nothing else is counted.
 */
async function skopeo(args: string[]): Promise<SkopeoRun> {
  const { ms, stdout } = await timedCommand('sh', ['-c', 'skopeo "$@" || exit $?; times', 'sh', ...args]);
  // `times`: the shell's own user and system time, then its children's, e.g. "0m2.820000s 0m0.920000s"
  const children = stdout.trim().split('\n').at(-1) ?? '';
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  if (seconds.length !== 2) throw new Error(`cannot read skopeo's CPU time from: ${stdout.trim()}`);
  return { ms, cpuMs: (seconds[0]! + seconds[1]!) * 1000 };
}

/**
 * A first push of a skopeo dir folder to `reference` (host:port/name:tag) with `skopeo copy`, as a
 * pipeline would push it to any registry; skopeo's blob-info cache is removed first, so it HEADs and
 * uploads every blob.
 */
export async function skopeoPush(imageDir: string, reference: string, creds?: string): Promise<SkopeoRun> {
  await Promise.all(blobInfoCaches().map((f) => fs.rm(f, { force: true })));
  const auth = creds ? ['--dest-creds', creds] : [];
  return skopeo(['copy', '--quiet', '--dest-tls-verify=false', ...auth, `dir:${imageDir}`, `docker://${reference}`]);
}

/** A pull of `reference` into a new dir: folder `dest` with `skopeo copy` (every blob verified). */
export async function skopeoPull(reference: string, dest: string, creds?: string): Promise<SkopeoRun> {
  await fs.rm(dest, { recursive: true, force: true });
  const auth = creds ? ['--src-creds', creds] : [];
  return skopeo(['copy', '--quiet', '--src-tls-verify=false', ...auth, `docker://${reference}`, `dir:${dest}`]);
}

export class PeerRegistry {
  private constructor(private readonly child: ChildProcess, readonly port: number) {}

  get pid(): number {
    return this.child.pid!;
  }

  /** Starts a registry on an empty `root` folder; the config is Debian's default without auth. */
  static async start(root: string): Promise<PeerRegistry> {
    await fs.rm(root, { recursive: true, force: true });
    await fs.mkdir(path.join(root, 'storage'), { recursive: true });
    const port = await freePort();
    const config = path.join(root, 'config.yml');
    await fs.writeFile(
      config,
      [
        'version: 0.1',
        'log:',
        '  level: info',
        'storage:',
        '  cache:',
        '    blobdescriptor: inmemory',
        '  filesystem:',
        `    rootdirectory: ${path.join(root, 'storage')}`,
        'http:',
        `  addr: 127.0.0.1:${port}`,
        '',
      ].join('\n'),
    );
    const child = spawn(REGISTRY, ['serve', config], { stdio: ['ignore', 'ignore', 'ignore'] });
    const registry = new PeerRegistry(child, port);
    await waitFor('docker-registry', async () => (await fetch(`http://127.0.0.1:${port}/v2/`)).status === 200);
    return registry;
  }

  /** A first push of the skopeo dir folder as bench/app:v1. */
  async push(imageDir: string): Promise<SkopeoRun> {
    const run = await skopeoPush(imageDir, `127.0.0.1:${this.port}/bench/app:v1`);
    const check = await fetch(`http://127.0.0.1:${this.port}/v2/bench/app/manifests/v1`, {
      method: 'HEAD',
      headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    if (check.status !== 200) throw new Error(`the pushed manifest is not in the registry (${check.status})`);
    return run;
  }

  /** A pull of bench/app:v1 into a new dir: folder. */
  async pull(dest: string): Promise<SkopeoRun> {
    return skopeoPull(`127.0.0.1:${this.port}/bench/app:v1`, dest);
  }

  memory(): { rss: number; hwm: number } {
    return memoryOf(this.pid);
  }

  async stop(): Promise<void> {
    await stopChild(this.child);
  }
}
