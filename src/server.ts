// Starts Berth from a config: data folder (held alone with SQLite), database and migrations, the
// instance heartbeat and recovery of what a previous or a vanished process left behind, then the
// HTTP listener. Used by main.ts and by the tests.
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import sqlite3 from 'sqlite3';
import { createApp } from './app.js';
import { BlobStore } from './blobs/store.js';
import type { Config } from './config.js';
import { connect, type Db, migrateLatest } from './db/connect.js';
import type { Logger } from './log.js';
import { createMetrics } from './metrics.js';
import type { Services } from './services/deps.js';
import { Instance, recoverSingleProcess } from './services/instances.js';

export interface RunningServer {
  url: string;
  port: number;
  adminToken: string;
  services: Services;
  close(): Promise<void>;
}

/**
 * The admin token: BERTH_ADMIN_TOKEN, or the one in `<dataDir>/admin-token`, made (mode 0600) when
 * absent. The file appears whole (written aside, then hard-linked into place), so processes starting
 * at once on a shared data folder all end up with the one token that won.
 */
async function adminToken(config: Config, log: Logger): Promise<string> {
  if (config.adminToken !== undefined) return config.adminToken;
  const file = path.join(config.dataDir, 'admin-token');
  const read = async () => (await fs.readFile(file, 'utf8')).trim();
  try {
    return await read();
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
  }
  const token = randomBytes(32).toString('base64url');
  const aside = `${file}.${randomBytes(6).toString('hex')}`;
  await fs.writeFile(aside, `${token}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await fs.link(aside, file);
  } catch (err) {
    if ((err as { code?: string }).code === 'EEXIST') return read();
    throw err;
  } finally {
    await fs.rm(aside, { force: true });
  }
  log.warn({ file }, 'generated an admin token; read it from this file');
  return token;
}

/** Records of data folders this process holds, so a second server in the same process is refused too. */
const heldDataDirs = new Set<string>();

/** What `<dataDir>/berth.pid` holds: the process that uses the data folder with SQLite. */
interface PidFile {
  pid: number;
  hostname: string;
  started_at: string;
}

export class DataDirInUseError extends Error {}

async function readPidFile(file: string): Promise<{ holder: Partial<PidFile> } | undefined> {
  try {
    const text = await fs.readFile(file, 'utf8');
    try {
      return { holder: JSON.parse(text) as Partial<PidFile> };
    } catch {
      return { holder: {} }; // a torn write
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
}


/**
 * An exclusive lock on `<dataDir>/berth.lock` for the life of the process: SQLite's own file lock
 * (fcntl), taken by a connection in exclusive locking mode inside a transaction it never ends. The
 * operating system drops it when the process ends, however it ends (kill -9 included); removing
 * berth.pid does not defeat it. Resolves to the holding connection, or undefined when another
 * process holds the lock.
 */
function takeOsLock(file: string): Promise<sqlite3.Database | undefined> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, (openErr) => {
      if (openErr) return reject(openErr);
      db.exec('PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = OFF; BEGIN EXCLUSIVE;', (err) => {
        if (!err) return resolve(db);
        db.close(() => ((err as { code?: string }).code === 'SQLITE_BUSY' ? resolve(undefined) : reject(err)));
      });
    });
  });
}

/**
 * SQLite and one data folder make one process. The exclusive OS-level lock on `berth.lock` decides
 * (see takeOsLock); `<dataDir>/berth.pid` only tells operators (and a refused start) who holds the
 * folder, and is touched every heartbeat. Returns the touch and release functions.
 */
async function lockDataDir(dataDir: string): Promise<{ touch(): Promise<void>; release(): Promise<void> }> {
  const file = path.join(dataDir, 'berth.pid');
  if (heldDataDirs.has(dataDir)) {
    throw new DataDirInUseError(`the data folder ${dataDir} is already used by a server in this process; SQLite takes one process per data folder`);
  }
  const lock = await takeOsLock(path.join(dataDir, 'berth.lock'));
  if (!lock) {
    const holder = (await readPidFile(file).catch(() => undefined))?.holder ?? {};
    throw new DataDirInUseError(
      `the data folder ${dataDir} is in use by another Berth process (pid ${String(holder.pid ?? 'unknown')} on ${String(holder.hostname ?? 'unknown')}, ` +
        `started ${String(holder.started_at ?? 'unknown')}; it holds ${path.join(dataDir, 'berth.lock')}); with SQLite one process uses a data folder — ` +
        `stop that one, or use PostgreSQL (DATABASE_URL) to run several processes on one shared data folder.`,
    );
  }
  // The lock is ours, so whatever berth.pid says is left from a process that is gone.
  const mine: PidFile = { pid: process.pid, hostname: os.hostname(), started_at: new Date().toISOString() };
  await fs.writeFile(file, `${JSON.stringify(mine)}\n`, { mode: 0o644 });
  heldDataDirs.add(dataDir);
  return {
    touch: async () => {
      const at = new Date();
      await fs.utimes(file, at, at).catch(() => undefined);
    },
    release: async () => {
      heldDataDirs.delete(dataDir);
      const current = await readPidFile(file).catch(() => undefined);
      if (current?.holder.pid === mine.pid && current.holder.started_at === mine.started_at) await fs.rm(file, { force: true });
      await new Promise<void>((resolve) => lock.close(() => resolve()));
    },
  };
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  await fs.mkdir(config.dataDir, { recursive: true });
  const sqlite = config.databaseUrl === undefined;
  const dataDirLock = sqlite ? await lockDataDir(config.dataDir) : undefined;
  let db: Db | undefined;
  let instance: Instance | undefined;
  try {
    const blobs = await BlobStore.open(config.dataDir, { minFreeBytes: config.minFreeBytes });
    db = connect({ databaseUrl: config.databaseUrl, sqliteFile: path.join(config.dataDir, 'berth.db'), log });
    await migrateLatest(db);
    const services: Services = { config, db, blobs, log, metrics: createMetrics(), instanceId: randomUUID() };
    // SQLite: the data folder lock makes this the only process, so everything left running is ours
    // from before. PostgreSQL: other live processes may be importing; only the imports of instances
    // whose heartbeat stopped are failed (services/instances.ts).
    const recovered = sqlite ? await recoverSingleProcess(services) : { interrupted: 0, staging_removed: 0 };
    instance = new Instance(services, dataDirLock?.touch);
    const swept = await instance.start();
    const failed = recovered.interrupted + swept.interrupted;
    const removed = recovered.staging_removed + swept.staging_removed;
    if (failed > 0 || removed > 0) log.warn({ failed_imports: failed, staging_entries: removed }, 'recovered from an unclean stop');

    const token = await adminToken(config, log);
    const app = createApp({ ...services, adminToken: token });
    // Expired headers and requests are looked for every second (Node's default: every 30 s).
    const server: Server = http.createServer({ connectionsCheckingInterval: 1000 }, app.callback());
    server.listen(config.port, config.host);
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    // Headers must come quickly (a client sending them a byte at a time holds nothing for long); a
    // whole request may take BERTH_REQUEST_TIMEOUT_SECONDS (multi-GiB uploads are long), and an upload
    // that stops sending fails sooner, after BERTH_UPLOAD_IDLE_SECONDS (http/request-body.ts).
    server.headersTimeout = config.headersTimeoutSeconds * 1000;
    server.requestTimeout = config.requestTimeoutSeconds * 1000;
    const { port } = server.address() as AddressInfo;
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    log.info(
      { port, data_dir: config.dataDir, database: sqlite ? 'sqlite' : 'postgresql', instance_id: services.instanceId },
      'listening',
    );

    const [opened, running] = [db, instance];
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), config.shutdownGraceSeconds * 1000);
        await closed;
        clearTimeout(grace);
        await running.stop();
        await opened.destroy();
        await dataDirLock?.release();
      })());
    return { url: `http://${host}:${port}`, port, adminToken: token, services, close };
  } catch (err) {
    await instance?.stop();
    await db?.destroy();
    await dataDirLock?.release();
    throw err;
  }
}
