// knex connection for the embedded SQLite file or PostgreSQL, and the migrations that shape both.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';

export type Db = Knex;
export type Tx = Knex.Transaction;

export interface DbOptions {
  /** postgres://… or undefined for SQLite */
  databaseUrl: string | undefined;
  /** SQLite file path, used when databaseUrl is undefined */
  sqliteFile: string;
}

const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

export function isPostgres(db: Db): boolean {
  return db.client.config.client === 'pg';
}

export function connect(options: DbOptions): Db {
  if (options.databaseUrl) {
    return knexFactory({
      client: 'pg',
      connection: options.databaseUrl,
      pool: { min: 0, max: 10 },
      acquireConnectionTimeout: 10_000,
    });
  }
  return knexFactory({
    client: 'sqlite3',
    connection: { filename: options.sqliteFile },
    useNullAsDefault: true,
    // One connection: SQLite has one writer, and a single connection makes knex queue transactions
    // instead of failing them with SQLITE_BUSY.
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: { run: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, conn: unknown) => void) {
        conn.run('PRAGMA journal_mode = WAL', (e1) => {
          if (e1) return done(e1, conn);
          conn.run('PRAGMA foreign_keys = ON', (e2) => {
            if (e2) return done(e2, conn);
            conn.run('PRAGMA busy_timeout = 10000', (e3) => done(e3, conn));
          });
        });
      },
    },
  });
}

export async function migrateLatest(db: Db): Promise<void> {
  await db.migrate.latest({ directory: MIGRATIONS_DIR, loadExtensions: ['.js', '.ts'] });
}

export async function migrateDown(db: Db): Promise<void> {
  await db.migrate.rollback({ directory: MIGRATIONS_DIR, loadExtensions: ['.js', '.ts'] }, true);
}
