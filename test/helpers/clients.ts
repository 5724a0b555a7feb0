// Real OCI clients for the round-trip tests: skopeo, podman, buildah and docker, run as child
// processes against a test server on 127.0.0.1 (plain HTTP, so TLS verification is turned off).
// Which of them are installed decides which tests run; .ci/run installs them all and sets
// BERTH_TEST_REQUIRE_CLIENTS=1, so a missing client fails there instead of skipping.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { ExecutionContext, TestFn } from 'ava';
import tar from 'tar-stream';
import { READERS } from '../../src/archive/formats/index.js';
import type { TestServer } from './server.js';

export const execFileP = promisify(execFile);

// BERTH_TEST_SAMPLES_DIR points the sample round trips at another folder of samples (made the same way).
export const SAMPLES = path.resolve(process.env.BERTH_TEST_SAMPLES_DIR ?? 'samples');

const answers = (cmd: string, args: string[]): boolean => spawnSync(cmd, args, { timeout: 10_000 }).status === 0;
export const have = {
  skopeo: answers('skopeo', ['--version']),
  podman: answers('podman', ['--version']),
  buildah: answers('buildah', ['--version']),
  /** a Docker daemon that answers (DOCKER_HOST, as .ci/run sets it, or the default socket) */
  docker: answers('docker', ['info']),
};

/**
 * `test` when `client` is here; otherwise a failing test under BERTH_TEST_REQUIRE_CLIENTS (CI), or
 * `test.skip` with a warning naming what to install (a developer's machine).
 */
export function withClient<C>(test: TestFn<C>, file: string, client: keyof typeof have, install: string): TestFn<C> {
  if (have[client]) return test;
  const message = `${client} is not available: ${install}`;
  if (process.env.BERTH_TEST_REQUIRE_CLIENTS) test(`${client} is available for the real-client tests`, (t) => t.fail(message));
  else console.warn(`${file}: ${client} tests SKIPPED: ${message}`);
  return test.skip as unknown as TestFn<C>;
}

/** The sample's path, when samples/ holds it and Berth reads its format; otherwise why it is skipped. */
export function sample(file: string, format: string): { file: string } | { skip: string } {
  if (!existsSync(path.join(SAMPLES, 'digests.json'))) return { skip: `${path.join(SAMPLES, 'digests.json')} does not exist yet` };
  if (!existsSync(path.join(SAMPLES, file))) return { skip: `${path.join(SAMPLES, file)} does not exist` };
  if (!READERS.some((r) => r.format === format)) return { skip: `no ${format} reader is registered in src/archive/formats/index.ts` };
  return { file: path.join(SAMPLES, file) };
}

/** What samples/digests.json says of a sample: its manifest digest, and its config then layer digests. */
export async function sampleDigests(file: string): Promise<{ manifest_digest: string; blobs: string[] }> {
  const digests = JSON.parse(await fs.readFile(path.join(SAMPLES, 'digests.json'), 'utf8')) as Array<{ file: string; manifest_digest: string; blobs: string[] }>;
  return digests.find((d) => d.file === file)!;
}

/**
 * `<cmd> login [flags] -u ci --password-stdin <registry>`: the secret goes through stdin, never on a
 * command line (`ps` would show it). Resolves with the exit code and what the client printed.
 */
export async function clientLogin(cmd: string, flags: string[], registry: string, secret: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const child = execFile(cmd, ['login', ...flags, '-u', 'ci', '--password-stdin', registry], { env });
  child.stdin!.end(secret);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stderr };
}

export async function skopeo(args: string[]): Promise<Buffer> {
  const { stdout } = await execFileP('skopeo', ['--insecure-policy', ...args], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, timeout: 120_000 });
  return stdout;
}

/** A temporary folder that goes when the test ends. */
export async function tempDir(t: ExecutionContext, prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `docker://127.0.0.1:<port>/<name>` */
export const dockerRef = (berth: TestServer, name: string): string => `docker://127.0.0.1:${berth.server.port}/${name}`;

/** The regular files of a tar (optionally under ./ or one top folder), by name without that prefix. */
export async function tarFiles(file: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c) => chunks.push(c as Buffer));
    stream.on('end', () => {
      if (header.type === 'file') files.set(header.name.replace(/^\.\//, ''), Buffer.concat(chunks));
      next();
    });
  });
  await pipeline(Readable.from([await fs.readFile(file)]), extract);
  const prefixes = new Set([...files.keys()].map((n) => (n.includes('/') ? n.slice(0, n.indexOf('/') + 1) : '')));
  const [prefix = ''] = prefixes.size === 1 ? prefixes : [''];
  return new Map([...files].map(([n, b]) => [n.slice(prefix.length), b]));
}

/** The files of a skopeo dir: folder, by name. */
export async function dirFiles(dir: string): Promise<Map<string, Buffer>> {
  const names = await fs.readdir(dir);
  return new Map(await Promise.all(names.map(async (n): Promise<[string, Buffer]> => [n, await fs.readFile(path.join(dir, n))])));
}
