// Starts a real Berth per test file (or per test): temporary data folder, a real SQLite file (or a
// fresh PostgreSQL database when BERTH_TEST_DATABASE_URL is set), 127.0.0.1 on an ephemeral port.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import type { DestinationStream } from 'pino';
import { type Config, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { type RunningServer, startServer } from '../../src/server.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface TestServer {
  url: string;
  dataDir: string;
  server: RunningServer;
  databaseUrl: string | undefined;
  /** the configuration the server was started with (peers start from it) */
  config: Config;
  /** JSON API call with the admin token */
  api(method: string, pathname: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  /** multipart import: the file part and the tag field, in the order given */
  importMultipart(repo: string, archive: Buffer, opts?: { tag?: string; tagFirst?: boolean; filename?: string }): Promise<{ status: number; body: any }>;
  importRaw(repo: string, archive: Buffer, opts?: { tag?: string; contentType?: string }): Promise<{ status: number; body: any }>;
  /** makes a token (with the admin token) and returns its id and secret */
  token(name: string, scopes: Array<{ repositories: string; actions: string[] }>, expiresAt?: string): Promise<{ id: number; secret: string }>;
  /** creates a new repository `<prefix>-<n>` (n counts per server) and returns its name */
  newRepository(prefix: string): Promise<string>;
  /** the repository's latest version number */
  latestVersion(repo: string): Promise<number>;
  stagingEntries(): Promise<string[]>;
  blobExists(digest: string): Promise<boolean>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** A fresh PostgreSQL database for one server, when the suite runs on PostgreSQL. */
export async function freshPostgres(base: string): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `berth_test_${randomBytes(6).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: base, pool: { min: 0, max: 1 } });
  await admin.raw(`CREATE DATABASE ${name}`);
  await admin.destroy();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const again = knexFactory({ client: 'pg', connection: base, pool: { min: 0, max: 1 } });
      await again.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await again.destroy();
    },
  };
}

/** A test server's config: `dataDir`, 127.0.0.1 on an ephemeral port, the test admin token, quiet logs; `env` wins. */
export function testConfig(dataDir: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    BERTH_DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    BERTH_ADMIN_TOKEN: ADMIN_TOKEN,
    BERTH_LOG_LEVEL: process.env.BERTH_TEST_LOG_LEVEL ?? 'silent',
    BERTH_SHUTDOWN_GRACE_SECONDS: '2',
    ...env,
  });
}

/** A Berth on a fresh data folder (and database); `opts.log` receives its log lines instead of stdout. */
export async function startBerth(env: Record<string, string> = {}, opts: { log?: DestinationStream } = {}): Promise<TestServer> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-test-'));
  const pgBase = process.env.BERTH_TEST_DATABASE_URL;
  const pg = pgBase ? await freshPostgres(pgBase) : undefined;
  const config = testConfig(dataDir, { ...(pg ? { DATABASE_URL: pg.url } : {}), ...env });
  const log = createLogger(config.logLevel, opts.log);
  let server = await startServer(config, log);

  let repositories = 0;
  const t: TestServer = {
    get url() {
      return server.url;
    },
    dataDir,
    get server() {
      return server;
    },
    databaseUrl: pg?.url,
    config,
    async api(method, pathname, body, headers = {}) {
      const res = await fetch(`${server.url}${pathname}`, {
        method,
        headers: {
          Authorization: `Bearer ${ADMIN_TOKEN}`,
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
    async importMultipart(repo, archive, opts = {}) {
      const form = new FormData();
      const file = new Blob([new Uint8Array(archive)], { type: 'application/x-tar' });
      if (opts.tag !== undefined && opts.tagFirst) form.append('tag', opts.tag);
      form.append('file', file, opts.filename ?? 'image.tar');
      if (opts.tag !== undefined && !opts.tagFirst) form.append('tag', opts.tag);
      const res = await fetch(`${server.url}/api/v1/repositories/${repo}/imports`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
        body: form,
      });
      return { status: res.status, body: await res.json() };
    },
    async importRaw(repo, archive, opts = {}) {
      const query = opts.tag !== undefined ? `?tag=${encodeURIComponent(opts.tag)}` : '';
      const res = await fetch(`${server.url}/api/v1/repositories/${repo}/imports${query}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': opts.contentType ?? 'application/x-tar' },
        body: new Uint8Array(archive),
      });
      return { status: res.status, body: await res.json() };
    },
    async token(name, scopes, expiresAt) {
      const res = await t.api('POST', '/api/v1/tokens', { name, scopes, ...(expiresAt !== undefined ? { expires_at: expiresAt } : {}) });
      if (res.status !== 201) throw new Error(`making token ${name} failed: ${res.status} ${JSON.stringify(res.body)}`);
      return { id: res.body.id, secret: res.body.secret };
    },
    async newRepository(prefix) {
      const name = `${prefix}-${++repositories}`;
      const res = await t.api('POST', '/api/v1/repositories', { name });
      if (res.status !== 201) throw new Error(`creating ${name} failed: ${res.status}`);
      return name;
    },
    async latestVersion(repo) {
      return (await t.api('GET', `/api/v1/repositories/${repo}`)).body.latest_version;
    },
    async stagingEntries() {
      return fs.readdir(path.join(dataDir, 'staging', 'imports'));
    },
    async blobExists(digest) {
      const hex = digest.replace(/^sha256:/, '');
      return fs.stat(path.join(dataDir, 'blobs', 'sha256', hex.slice(0, 2), hex)).then(
        () => true,
        () => false,
      );
    },
    async restart() {
      await server.close();
      server = await startServer(config, log);
    },
    async close() {
      await server.close();
      await pg?.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}

/**
 * Another server in this process on the same database and data folder as `berth` (PostgreSQL: a
 * second instance; SQLite refuses it). The caller closes it.
 */
export async function startPeer(berth: TestServer, env: Record<string, string> = {}): Promise<RunningServer> {
  const config = testConfig(berth.dataDir, {
    BERTH_LOG_LEVEL: berth.config.logLevel,
    BERTH_INSTANCE_TIMEOUT_SECONDS: String(berth.config.instanceTimeoutSeconds),
    ...(berth.databaseUrl ? { DATABASE_URL: berth.databaseUrl } : {}),
    ...env,
  });
  return startServer(config, createLogger(config.logLevel));
}
