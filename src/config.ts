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
  /** request headers must arrive whole within this many seconds (slow-header clients are cut off) */
  readonly headersTimeoutSeconds: number;
  /** a whole request (headers and body) must arrive within this many seconds; 0: no limit */
  readonly requestTimeoutSeconds: number;
  /** an upload body that sends no byte for this long fails with CLIENT_TIMEOUT */
  readonly uploadIdleSeconds: number;
  /** uploads (imports, /v2 blob and manifest bodies) in flight at once in this process; more are 503 */
  readonly maxConcurrentUploads: number;
  /** uploads in flight at once for one token (actor); more are 429 */
  readonly maxUploadsPerToken: number;
  /** a gzip upload may decompress to at most this many times the bytes received… */
  readonly maxDecompressionRatio: number;
  /** …once it has decompressed to more than this many bytes */
  readonly decompressionRatioFloorBytes: number;
  /** uploads fail with INSUFFICIENT_STORAGE while the data folder's filesystem has less free space than this */
  readonly minFreeBytes: number;
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
    headersTimeoutSeconds: integer(env, 'BERTH_HEADERS_TIMEOUT_SECONDS', 20, 1, 3600),
    requestTimeoutSeconds: integer(env, 'BERTH_REQUEST_TIMEOUT_SECONDS', 6 * 3600, 0, 7 * 24 * 3600),
    uploadIdleSeconds: integer(env, 'BERTH_UPLOAD_IDLE_SECONDS', 60, 1, 24 * 3600),
    maxConcurrentUploads: integer(env, 'BERTH_MAX_CONCURRENT_UPLOADS', 64, 1, 100_000),
    maxUploadsPerToken: integer(env, 'BERTH_MAX_UPLOADS_PER_TOKEN', 16, 1, 100_000),
    maxDecompressionRatio: integer(env, 'BERTH_MAX_DECOMPRESSION_RATIO', 100, 1, 1_000_000),
    decompressionRatioFloorBytes: integer(env, 'BERTH_DECOMPRESSION_RATIO_FLOOR_BYTES', 256 * 1024 ** 2, 0, Number.MAX_SAFE_INTEGER),
    minFreeBytes: integer(env, 'BERTH_MIN_FREE_BYTES', 512 * 1024 ** 2, 0, Number.MAX_SAFE_INTEGER),
  });
}
