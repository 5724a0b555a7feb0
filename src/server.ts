// Starts Berth from a config: data folder, database and migrations, recovery of what a previous
// process left behind, then the HTTP listener. Used by main.ts and by the tests.
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createApp } from './app.js';
import { BlobStore } from './blobs/store.js';
import type { Config } from './config.js';
import { connect, type Db, isPostgres, migrateLatest } from './db/connect.js';
import { failRunningImports } from './db/queries.js';
import type { Logger } from './log.js';
import { createMetrics } from './metrics.js';
import type { Services } from './services/deps.js';

export interface RunningServer {
  url: string;
  port: number;
  adminToken: string;
  services: Services;
  close(): Promise<void>;
}

/** The admin token: BERTH_ADMIN_TOKEN, or the one in `<dataDir>/admin-token`, made (mode 0600) when absent. */
async function adminToken(config: Config, log: Logger): Promise<string> {
  if (config.adminToken !== undefined) return config.adminToken;
  const file = path.join(config.dataDir, 'admin-token');
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
  }
  const token = randomBytes(32).toString('base64url');
  await fs.writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  log.warn({ file }, 'generated an admin token; read it from this file');
  return token;
}

/** Removes what a crashed process left: staging files, and imports it was running. */
async function recover(db: Db, blobs: BlobStore, log: Logger): Promise<void> {
  const error = JSON.stringify({ code: 'INTERRUPTED', message: 'the server stopped before the import finished', details: null });
  // With SQLite only one process uses the data folder, so everything running is ours from before.
  // With PostgreSQL other live processes may be importing; see README (several processes).
  const failed = isPostgres(db) ? 0 : await failRunningImports(db, error);
  const removed = isPostgres(db) ? 0 : await blobs.clearStaging();
  if (failed > 0 || removed > 0) log.warn({ failed_imports: failed, staging_entries: removed }, 'recovered from an unclean stop');
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  await fs.mkdir(config.dataDir, { recursive: true });
  const blobs = await BlobStore.open(config.dataDir);
  const db = connect({ databaseUrl: config.databaseUrl, sqliteFile: path.join(config.dataDir, 'berth.db') });
  try {
    await migrateLatest(db);
    await recover(db, blobs, log);
    const services: Services = { config, db, blobs, log, metrics: createMetrics(), instanceId: randomUUID() };
    const token = await adminToken(config, log);
    const app = createApp({ ...services, adminToken: token });
    const server: Server = app.listen(config.port, config.host);
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    // Uploads can be long; Node's default request timeout (5 min) would cut multi-GiB imports.
    server.requestTimeout = 0;
    const { port } = server.address() as AddressInfo;
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    log.info({ port, data_dir: config.dataDir, database: config.databaseUrl ? 'postgresql' : 'sqlite' }, 'listening');

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), config.shutdownGraceSeconds * 1000);
        await closed;
        clearTimeout(grace);
        await db.destroy();
      })());
    return { url: `http://${host}:${port}`, port, adminToken: token, services, close };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}
