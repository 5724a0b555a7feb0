// Starts Berth as a real child process (`node --import tsx src/main.ts`), the way an operator runs
// it, for tests that need several processes on one database and one data folder. The port comes
// from the process's own "listening" log line, so PORT=0 never races for a free port.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs/promises';
import os from 'node:os';
import type { ExecutionContext } from 'ava';
import { ADMIN_TOKEN, freshPostgres } from './server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface BerthProcess {
  url: string;
  pid: number;
  /** stdout and stderr so far */
  output(): string;
  /** SIGTERM, then waits for the exit */
  stop(): Promise<void>;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function launch(env: Record<string, string>): { child: ChildProcess; out: { stdout: string; stderr: string }; exited: Promise<Exit> } {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && k !== 'PORT' && k !== 'HOST' && !k.startsWith('BERTH_')),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...inherited,
      PORT: '0',
      HOST: '127.0.0.1',
      BERTH_ADMIN_TOKEN: ADMIN_TOKEN,
      BERTH_LOG_LEVEL: 'info',
      BERTH_SHUTDOWN_GRACE_SECONDS: '2',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
  const exited = new Promise<Exit>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout: out.stdout, stderr: out.stderr })),
  );
  return { child, out, exited };
}

/** Starts one Berth process and resolves once it listens; rejects with its output if it exits first. */
export async function spawnBerth(env: Record<string, string>, timeoutMs = 30_000): Promise<BerthProcess> {
  const { child, out, exited } = launch(env);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`berth did not start within ${timeoutMs} ms:\n${out.stdout}${out.stderr}`));
    }, timeoutMs);
    const onData = () => {
      for (const line of out.stdout.split('\n')) {
        if (!line.includes('"listening"')) continue;
        const parsed = JSON.parse(line) as { msg?: string; port?: number };
        if (parsed.msg === 'listening' && typeof parsed.port === 'number') {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          resolve(parsed.port);
          return;
        }
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`berth exited (${String(e.code ?? e.signal)}) before listening:\n${e.stdout}${e.stderr}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    output: () => out.stdout + out.stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs a Berth process that is expected to exit on its own (a refused start); kills it after `timeoutMs`. */
export async function runBerthToExit(env: Record<string, string>, timeoutMs = 30_000): Promise<Exit> {
  const { child, exited } = launch(env);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `src/fsck.ts` (what `npm run fsck` runs) as its own process on the data folder and database
 * `env` names (BERTH_DATA_DIR, DATABASE_URL), none inherited from this process; its JSON report.
 */
export async function runFsck(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; report: any; stderr: string }> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && !k.startsWith('BERTH_')));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/fsck.ts'), ...args], { cwd: ROOT, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, report: stdout.trim() ? JSON.parse(stdout) : undefined, stderr };
}

/**
 * A data folder, and with BERTH_TEST_DATABASE_URL a fresh PostgreSQL database, for the Berth
 * processes of one test (killed and restarted on the same state), both removed after it; the
 * environment that points a process at them.
 */
export async function processState(t: ExecutionContext, prefix: string): Promise<Record<string, string>> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  const pg = process.env.BERTH_TEST_DATABASE_URL ? await freshPostgres(process.env.BERTH_TEST_DATABASE_URL) : undefined;
  t.teardown(async () => {
    await pg?.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  return { BERTH_DATA_DIR: dataDir, BERTH_INSTANCE_TIMEOUT_SECONDS: '2', ...(pg ? { DATABASE_URL: pg.url } : {}) };
}
