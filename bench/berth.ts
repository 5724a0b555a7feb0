// A Berth server as a child process of its own (so its memory is its own), with its own data folder
// and admin token, on 127.0.0.1 and a port it picks itself and logs.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { cpuTimeOf, memoryOf, stopChild, timedCommand } from './processes.js';

export interface BerthStartOptions {
  /** the repository checkout: dist/src/main.js or src/main.ts under it */
  repoDir: string;
  dataDir: string;
  tsx: boolean;
  nodeFlags: string[];
  cpuProf: string | undefined;
  /** more environment, e.g. DATABASE_URL to run on PostgreSQL */
  env?: Record<string, string>;
}

/**
 * The node flags and environment that `npm start` runs Berth with (package.json's start script:
 * `[VAR=value …] node [flags …] dist/src/main.js`), so that the bench measures what users run.
 */
export async function startCommand(repoDir: string): Promise<{ flags: string[]; env: Record<string, string> }> {
  const pkg = JSON.parse(await fs.readFile(path.join(repoDir, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.split('&&').pop()!.trim().split(/\s+/);
  const env: Record<string, string> = {};
  while (/^[A-Z_]+=/.test(words[0] ?? '')) {
    const [name, value] = words.shift()!.split('=') as [string, string];
    env[name] = value;
  }
  const main = words.indexOf('dist/src/main.js');
  if (words[0] !== 'node' || main < 0) throw new Error(`cannot read the start script: ${pkg.scripts.start}`);
  return { flags: words.slice(1, main), env };
}

export interface ImportResult {
  ms: number;
  status: number;
  report: { status: string; new_version: boolean | null; blobs?: Array<{ digest: string; source: string }>; error?: unknown };
}

export class BerthProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly token: string,
    readonly dataDir: string,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  static async start(opts: BerthStartOptions): Promise<BerthProcess> {
    await fs.mkdir(opts.dataDir, { recursive: true });
    const token = randomBytes(24).toString('hex');
    const start = await startCommand(opts.repoDir);
    const nodeArgs = [
      ...start.flags,
      ...opts.nodeFlags,
      ...(opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProf] : []),
      ...(opts.tsx ? ['--import', 'tsx', path.join(opts.repoDir, 'src/main.ts')] : [path.join(opts.repoDir, 'dist/src/main.js')]),
    ];
    const child = spawn(process.execPath, nodeArgs, {
      cwd: opts.repoDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: '0',
        HOST: '127.0.0.1',
        BERTH_DATA_DIR: opts.dataDir,
        BERTH_ADMIN_TOKEN: token,
        BERTH_LOG_LEVEL: 'info',
        BERTH_SHUTDOWN_GRACE_SECONDS: '5',
        ...start.env,
        ...opts.env,
      },
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const port = await new Promise<number>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        try {
          const entry = JSON.parse(line) as { msg?: string; port?: number };
          if (entry.msg === 'listening' && typeof entry.port === 'number') resolve(entry.port);
        } catch {
          // not a log line
        }
      });
      child.once('exit', (code) => reject(new Error(`berth exited with ${code} before listening: ${stderr.trim()}`)));
    });
    return new BerthProcess(child, `http://127.0.0.1:${port}`, token, opts.dataDir);
  }

  /** CPU milliseconds (user + system) the process has used so far. */
  cpuTime(): number {
    return cpuTimeOf(this.pid);
  }

  memory(): { rss: number; hwm: number } {
    return memoryOf(this.pid);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { Authorization: `Bearer ${this.token}`, ...extra };
  }

  async createRepository(name: string): Promise<void> {
    const res = await fetch(`${this.url}/api/v1/repositories`, {
      method: 'POST',
      headers: this.headers({ 'Content-Type': 'application/json' }),
      body: JSON.stringify({ name }),
    });
    if (res.status !== 201) throw new Error(`creating ${name}: ${res.status} ${await res.text()}`);
  }

  /** The repository's latest version number. */
  async latestVersion(name: string): Promise<number> {
    const res = await fetch(`${this.url}/api/v1/repositories/${name}`, { headers: this.headers() });
    if (res.status !== 200) throw new Error(`reading ${name}: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { latest_version: number }).latest_version;
  }

  /** One HTTP round trip that touches nothing: the floor under any request's latency. */
  async health(): Promise<number> {
    const started = performance.now();
    const res = await fetch(`${this.url}/healthz`);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`healthz answered ${res.status}`);
    return performance.now() - started;
  }

  /** A raw-body import of an in-memory archive, timed from the request to the whole answer. */
  async importBuffer(repository: string, archive: Buffer, tag: string): Promise<ImportResult> {
    const started = performance.now();
    const res = await fetch(`${this.url}/api/v1/repositories/${repository}/imports?tag=${tag}`, {
      method: 'POST',
      headers: this.headers({ 'Content-Type': 'application/x-tar' }),
      body: new Uint8Array(archive),
    });
    const report = (await res.json()) as ImportResult['report'];
    return { ms: performance.now() - started, status: res.status, report };
  }

  /** An import of a tarball on disk with curl, as a pipeline would send it: `-F` multipart or a raw body. */
  async importFile(repository: string, file: string, tag: string, mode: 'multipart' | 'raw'): Promise<ImportResult> {
    const url = `${this.url}/api/v1/repositories/${repository}/imports`;
    const common = ['-sS', '-w', '\n%{http_code}', '-H', `Authorization: Bearer ${this.token}`];
    const args =
      mode === 'multipart'
        ? [...common, '-F', `file=@${file};type=application/x-tar`, '-F', `tag=${tag}`, url]
        : [...common, '-H', 'Content-Type: application/x-tar', '-T', file, '-X', 'POST', `${url}?tag=${tag}`];
    const { ms, stdout } = await timedCommand('curl', args);
    const cut = stdout.lastIndexOf('\n');
    return { ms, status: Number(stdout.slice(cut + 1)), report: JSON.parse(stdout.slice(0, cut)) as ImportResult['report'] };
  }

  async stop(): Promise<void> {
    await stopChild(this.child);
  }
}

/** Fails unless the answer is a completed import that carried every blob it names. */
export function expectImported(result: ImportResult, what: string, newVersion: boolean): void {
  const ok = result.status === 201 && result.report.status === 'completed' && result.report.new_version === newVersion;
  if (!ok) throw new Error(`${what}: unexpected answer ${result.status} ${JSON.stringify(result.report).slice(0, 500)}`);
}
