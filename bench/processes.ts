// Child processes the bench measures: memory read from /proc, timed commands, waiting for readiness.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** VmRSS and VmHWM (peak RSS) of a live process, in bytes. */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(match[1]) * 1024;
  };
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/** CPU time (user + system) a live process has used so far, in milliseconds (/proc/<pid>/stat, clock ticks of 10 ms). */
export function cpuTimeOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Samples VmRSS of a process every `everyMs` until stopped; `max` is the largest sample. */
export class RssSampler {
  max = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, everyMs = 20) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.sample();
  }

  private sample(): void {
    try {
      this.max = Math.max(this.max, memoryOf(this.pid).rss);
    } catch {
      // the process is gone
    }
  }

  stop(): number {
    this.sample();
    clearInterval(this.timer);
    return this.max;
  }
}

/** Flushes every dirty page, so that one measurement does not pay for the previous one's writeback. */
export function syncDisks(): void {
  spawnSync('sync', { stdio: 'ignore' });
}

/**
 * Syncs, then waits. On a VM whose freed memory goes back to the host a moment later (free page
 * reporting), page cache is cheap right after a big delete and dear a few seconds on; waiting puts
 * every timed step in the same state, that of a server whose memory was freed long ago.
 */
export async function settle(seconds: number): Promise<void> {
  syncDisks();
  if (seconds > 0) await new Promise((r) => setTimeout(r, seconds * 1000));
}

export interface Timed {
  ms: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end and times it; fails on a non-zero exit. */
export function timedCommand(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - started;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${stderr.trim() || stdout.trim()}`));
      else resolve({ ms, stdout, stderr });
    });
  });
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Sends SIGTERM and waits for the exit (SIGKILL after `graceMs`). */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An exclusive flock on `file`, held by a child `flock` until release() (closing its stdin). */
export async function exclusiveLock(file: string): Promise<() => void> {
  const child = spawn('flock', ['-x', '-w', '900', file, 'sh', '-c', 'echo locked; cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`flock ${file} ended (${String(code)}) before locking`)));
  });
  return () => child.stdin.end();
}
