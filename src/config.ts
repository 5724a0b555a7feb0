// The only reader of process.env: a typed, frozen configuration that fails fast naming the variable.
import path from 'node:path';

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** admin token from BERTH_ADMIN_TOKEN; when absent one is generated into `<dataDir>/admin-token` */
  readonly adminToken: string | undefined;
  /** postgres://… selects PostgreSQL; otherwise SQLite at `<dataDir>/berth.db` */
  readonly databaseUrl: string | undefined;
  readonly logLevel: string;
  /** largest accepted upload after gzip decompression, in bytes */
  readonly maxUploadBytes: number;
  /** seconds to wait for in-flight requests on SIGTERM */
  readonly shutdownGraceSeconds: number;
  /**
   * a process whose heartbeat is older than this is gone: another process (or the next start) fails
   * its running imports with INTERRUPTED and removes their staging folders; heartbeats come every third of it
   */
  readonly instanceTimeoutSeconds: number;
  /**
   * how long a blob stays held for a repository without being in one of its versions (a pushed blob
   * no manifest uses yet, a blob an interrupted import left whole), and how long an idle upload
   * session lives
   */
  readonly uploadTtlSeconds: number;
}

export class ConfigError extends Error {}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const adminToken = env.BERTH_ADMIN_TOKEN === '' ? undefined : env.BERTH_ADMIN_TOKEN;
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError('BERTH_ADMIN_TOKEN must be at least 16 characters');
  }
  const databaseUrl = env.DATABASE_URL === '' ? undefined : env.DATABASE_URL;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// URL (leave it unset for the embedded SQLite)');
  }
  return Object.freeze({
    port: integer(env, 'PORT', 8080, 0, 65535),
    host: env.HOST ?? '0.0.0.0',
    dataDir: path.resolve(env.BERTH_DATA_DIR ?? './data'),
    adminToken,
    databaseUrl,
    logLevel: env.BERTH_LOG_LEVEL ?? 'info',
    maxUploadBytes: integer(env, 'BERTH_MAX_UPLOAD_BYTES', 64 * 1024 ** 3, 1024, Number.MAX_SAFE_INTEGER),
    shutdownGraceSeconds: integer(env, 'BERTH_SHUTDOWN_GRACE_SECONDS', 30, 0, 3600),
    instanceTimeoutSeconds: integer(env, 'BERTH_INSTANCE_TIMEOUT_SECONDS', 30, 2, 3600),
    uploadTtlSeconds: integer(env, 'BERTH_UPLOAD_TTL_SECONDS', 24 * 3600, 1, 365 * 24 * 3600),
  });
}
