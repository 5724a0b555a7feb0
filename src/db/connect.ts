// knex connection for the embedded SQLite file or PostgreSQL, and the migrations that shape both.
// On PostgreSQL, losing the database (refused, terminated, unreachable) surfaces as one error,
// DATABASE_UNAVAILABLE, wherever a query or a connection fails; other errors pass through untouched.
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import { BerthError } from '../errors.js';
import type { Logger } from '../log.js';

export type Db = Knex;
export type Tx = Knex.Transaction;

export interface DbOptions {
  /** postgres://… or undefined for SQLite */
  databaseUrl: string | undefined;
  /** SQLite file path, used when databaseUrl is undefined */
  sqliteFile: string;
  /** where knex's own warnings go (pool errors); console when absent */
  log?: Logger;
}

const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

/** How long a query may wait for a pool connection before it fails with DATABASE_UNAVAILABLE. */
const ACQUIRE_TIMEOUT_MS = 10_000;
/** How long opening one PostgreSQL connection may take (a silent network would otherwise hang it). */
const CONNECT_TIMEOUT_MS = 5_000;

export function isPostgres(db: Db | Tx): boolean {
  return db.client.config.client === 'pg';
}

// SQLSTATE classes and codes that mean the server cannot be used right now, rather than that a
// statement was wrong: 08 connection exception, 57P01-57P03 shutdown / cannot connect now,
// 53300 too many connections, 55000 with "not currently accepting connections" (ALLOW_CONNECTIONS false).
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** True when `err` from the pg driver or knex's pool says the database cannot be reached. */
export function isDatabaseUnreachable(err: unknown): boolean {
  if (err instanceof BerthError) return err.code === 'DATABASE_UNAVAILABLE';
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (SOCKET_ERRORS.has(code)) return true;
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return true;
    if (code === '55000' && /not currently accepting connections/.test(err.message)) return true;
  }
  if (err.name === 'KnexTimeoutError' && /acquiring a connection/.test(err.message)) return true;
  // node-postgres reports a dropped socket without a code
  return /Connection terminated|connection error and is not queryable|Client was closed and is not queryable|timeout expired/.test(err.message);
}

function unavailable(err: unknown): BerthError {
  const reason = (err as { code?: unknown }).code;
  const error = new BerthError('DATABASE_UNAVAILABLE', 'the database is unreachable; try again later', {
    reason: typeof reason === 'string' ? reason : null,
  });
  Object.defineProperty(error, 'cause', { value: err, enumerable: false });
  return error;
}

const require = createRequire(import.meta.url);
const KnexPgClient = require('knex/lib/dialects/postgres/index.js') as typeof Knex.Client;

/**
 * knex's PostgreSQL client, with connection-level failures turned into DATABASE_UNAVAILABLE. Both
 * methods are where every query passes: acquireConnection (pool, transactions) and query (inside
 * transactions too, since knex builds a transaction's client from this prototype).
 */
class PgClient extends KnexPgClient {
  constructor(config: Knex.Config) {
    // config.client stays 'pg', as query code checks it to pick PostgreSQL-only SQL.
    super({ ...config, client: 'pg' });
  }

  override async acquireConnection(): Promise<unknown> {
    try {
      return await super.acquireConnection();
    } catch (err) {
      // A pool that was destroyed (shutdown) is not an outage.
      if (err instanceof Error && err.message === 'Unable to acquire a connection') throw err;
      throw unavailable(err);
    }
  }

  override async query(connection: unknown, obj: unknown): Promise<unknown> {
    try {
      return await super.query(connection, obj);
    } catch (err) {
      throw isDatabaseUnreachable(err) ? unavailable(err) : err;
    }
  }
}

const KnexSqliteClient = require('knex/lib/dialects/sqlite3/index.js') as typeof Knex.Client;

/**
 * knex's SQLite client. SQLite rolls a transaction back by itself when a statement fails with
 * SQLITE_FULL (or an I/O error); knex's own ROLLBACK then fails with "no transaction is active" and
 * that error would replace the cause (a full disk answered as a 500). Such a ROLLBACK counts as done.
 */
class SqliteClient extends KnexSqliteClient {
  /** the SQLite file's identity when first opened: a file removed or replaced under us is another one */
  private identity: { dev: number; ino: number } | undefined;
  private lostReported = false;

  constructor(config: Knex.Config) {
    super({ ...config, client: 'sqlite3' });
  }

  private get file(): string {
    return (this.config.connection as { filename: string }).filename;
  }

  /**
   * Every query and transaction first checks that the SQLite file is still the one opened (same
   * device and inode). Once it was removed or replaced, writes would go to a file no one will see
   * again: everything fails DATABASE_UNAVAILABLE (so /healthz answers 503) until a restart.
   */
  override async acquireConnection(): Promise<unknown> {
    if (this.identity) {
      let current: { dev: number; ino: number } | undefined;
      try {
        current = statSync(this.file);
      } catch {
        current = undefined;
      }
      if (!current || current.dev !== this.identity.dev || current.ino !== this.identity.ino) {
        if (!this.lostReported) {
          this.lostReported = true;
          (this as unknown as { logger: { error(m: string): void } }).logger.error(`the SQLite file ${this.file} was removed or replaced while Berth runs; restart Berth`);
        }
        throw new BerthError('DATABASE_UNAVAILABLE', 'the SQLite file was removed or replaced while Berth runs; it refuses every change until it is restarted', {
          reason: current ? 'replaced' : 'removed',
        });
      }
    }
    const connection = await super.acquireConnection();
    if (!this.identity) {
      const { dev, ino } = statSync(this.file);
      this.identity = { dev, ino };
    }
    return connection;
  }

  override async query(connection: unknown, obj: unknown): Promise<unknown> {
    try {
      return await super.query(connection, obj);
    } catch (err) {
      const sql = typeof obj === 'string' ? obj : (obj as { sql?: unknown } | null)?.sql;
      if (typeof sql === 'string' && /^ROLLBACK\b/i.test(sql) && /no transaction is active/.test((err as Error).message)) return undefined;
      throw err;
    }
  }
}

function knexLog(log: Logger | undefined): Knex.Config['log'] {
  if (!log) return undefined;
  return {
    warn: (message: unknown) => log.warn({ detail: String(message).slice(0, 500) }, 'database warning'),
    error: (message: unknown) => log.error({ detail: String(message).slice(0, 500) }, 'database error'),
    deprecate: () => undefined,
    debug: () => undefined,
  };
}

export function connect(options: DbOptions): Db {
  if (options.databaseUrl) {
    return knexFactory({
      client: PgClient,
      connection: { connectionString: options.databaseUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true },
      pool: { min: 0, max: 10 },
      acquireConnectionTimeout: ACQUIRE_TIMEOUT_MS,
      log: knexLog(options.log),
    });
  }
  return knexFactory({
    client: SqliteClient,
    connection: { filename: options.sqliteFile },
    useNullAsDefault: true,
    log: knexLog(options.log),
    // One connection: SQLite has one writer, and a single connection makes knex queue transactions
    // instead of failing them with SQLITE_BUSY.
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: { run: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, conn: unknown) => void) {
        conn.run('PRAGMA journal_mode = WAL', (e1) => {
          if (e1) return done(e1, conn);
          // FULL: every commit fsyncs the WAL, so a commit that returned survives a power cut (NORMAL
          // would leave the last commits to the next checkpoint). Only the running-import row is
          // inserted with NORMAL (db/imports.ts insertRunningImport), made durable by the commit after it.
          conn.run('PRAGMA synchronous = FULL', (e2) => {
            if (e2) return done(e2, conn);
            conn.run('PRAGMA foreign_keys = ON', (e3) => {
              if (e3) return done(e3, conn);
              conn.run('PRAGMA busy_timeout = 5000', (e4) => done(e4, conn));
            });
          });
        });
      },
    },
  });
}

const pings = new WeakMap<Db, Promise<boolean>>();

/**
 * Whether the database answers `select 1` within `timeoutMs`. Concurrent callers share one probe,
 * so a health checker polling during an outage does not pile queries up behind the pool's acquire
 * timeout; the answer itself never takes longer than `timeoutMs`.
 */
export function pingDatabase(db: Db, timeoutMs: number): Promise<boolean> {
  const running = pings.get(db);
  if (running) return running;
  let timer: NodeJS.Timeout | undefined;
  const probe = Promise.race([
    // .timeout() also retires a connection whose query never comes back (a silent network).
    db
      .raw('select 1')
      .timeout(timeoutMs)
      .then(
        () => true,
        () => false,
      ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    }),
  ]).finally(() => {
    clearTimeout(timer);
    pings.delete(db);
  });
  pings.set(db, probe);
  return probe;
}

const MIGRATION_LOCK = 0x62657275; // 'beru'

/**
 * Runs the migrations not yet run. On PostgreSQL several processes may start at once: knex's own
 * lock row fails the losers ("already locked", or racing to create its tables), so the starts queue
 * on an advisory lock held by a wrapping transaction while knex migrates on other connections.
 */
export async function migrateLatest(db: Db): Promise<void> {
  const run = () => db.migrate.latest({ directory: MIGRATIONS_DIR, loadExtensions: ['.js', '.ts'] });
  if (!isPostgres(db)) {
    await run();
    return;
  }
  await db.transaction(async (tx) => {
    await tx.raw('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK]);
    await run();
  });
}

export async function migrateDown(db: Db): Promise<void> {
  await db.migrate.rollback({ directory: MIGRATIONS_DIR, loadExtensions: ['.js', '.ts'] }, true);
}
