// One error class for every layer below http, and the single table that maps each stable code
// to its HTTP status and (for /v2) its OCI distribution error code.

export type ErrorDetails = Record<string, unknown> | null;

/** What an error may carry to its response besides code, message and details. */
export interface ErrorExtras {
  /** response headers the error answer carries (Range, Location, Retry-After, WWW-Authenticate…) */
  headers?: Readonly<Record<string, string>>;
  /** a body that replaces the standard error body on /api (a failed import answers with its report) */
  body?: unknown;
}

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = null, extras: ErrorExtras = {}) {
    super(message);
    this.name = 'BerthError';
    this.code = code;
    this.details = details;
    this.headers = extras.headers ?? {};
    this.body = extras.body;
  }

  /** The same error with more response headers. */
  withHeaders(headers: Record<string, string>): BerthError {
    return new BerthError(this.code, this.message, this.details, { headers: { ...this.headers, ...headers }, body: this.body });
  }
}

interface ErrorDescriptor {
  status: number;
  oci: string;
  /** seconds a client should wait before trying again (the answer's Retry-After header) */
  retryAfter?: number;
}

/** code → HTTP status and OCI error code. The codes are part of the API contract: never rename one. */
export const ERRORS = {
  UNAUTHORIZED: { status: 401, oci: 'UNAUTHORIZED' },
  DENIED: { status: 403, oci: 'DENIED' },
  // a change sent with the web pages' session cookie but without its CSRF token (or with a wrong one)
  CSRF_INVALID: { status: 403, oci: 'DENIED' },
  NOT_FOUND: { status: 404, oci: 'NOT_FOUND' },
  NAME_INVALID: { status: 400, oci: 'NAME_INVALID' },
  NAME_UNKNOWN: { status: 404, oci: 'NAME_UNKNOWN' },
  REPOSITORY_EXISTS: { status: 409, oci: 'DENIED' },
  // tokens: a name that is taken (also by a revoked token, or `admin`), an id that names no token
  TOKEN_EXISTS: { status: 409, oci: 'DENIED' },
  TOKEN_UNKNOWN: { status: 404, oci: 'NOT_FOUND' },
  TAG_INVALID: { status: 400, oci: 'TAG_INVALID' },
  TAG_AMBIGUOUS: { status: 400, oci: 'TAG_INVALID' },
  TAG_UNKNOWN: { status: 404, oci: 'MANIFEST_UNKNOWN' },
  VERSION_UNKNOWN: { status: 404, oci: 'NOT_FOUND' },
  IMPORT_UNKNOWN: { status: 404, oci: 'NOT_FOUND' },
  MANIFEST_UNKNOWN: { status: 404, oci: 'MANIFEST_UNKNOWN' },
  MANIFEST_INVALID: { status: 400, oci: 'MANIFEST_INVALID' },
  MANIFEST_UNSUPPORTED: { status: 400, oci: 'MANIFEST_INVALID' },
  BLOB_UNKNOWN: { status: 400, oci: 'BLOB_UNKNOWN' },
  DIGEST_INVALID: { status: 400, oci: 'DIGEST_INVALID' },
  SIZE_INVALID: { status: 400, oci: 'SIZE_INVALID' },
  RANGE_INVALID: { status: 416, oci: 'RANGE_INVALID' },
  // /v2 reads: a digest the repository's latest version does not hold (BLOB_UNKNOWN is the import's 400)
  BLOB_NOT_FOUND: { status: 404, oci: 'BLOB_UNKNOWN' },
  // push: an upload session that does not exist, ended, expired, or belongs to another repository
  BLOB_UPLOAD_UNKNOWN: { status: 404, oci: 'BLOB_UPLOAD_UNKNOWN' },
  // push: a chunk that does not continue where the session ends (the answer carries its Range)
  UPLOAD_RANGE_INVALID: { status: 416, oci: 'BLOB_UPLOAD_INVALID' },
  // push: a manifest names blobs or child manifests the repository does not hold
  MANIFEST_BLOB_UNKNOWN: { status: 400, oci: 'MANIFEST_BLOB_UNKNOWN' },
  PAGINATION_NUMBER_INVALID: { status: 400, oci: 'PAGINATION_NUMBER_INVALID' },
  METHOD_NOT_ALLOWED: { status: 405, oci: 'UNSUPPORTED' },
  ARCHIVE_INVALID: { status: 400, oci: 'UNSUPPORTED' },
  UNSUPPORTED_ARCHIVE: { status: 400, oci: 'UNSUPPORTED' },
  ENTRY_UNSAFE: { status: 400, oci: 'UNSUPPORTED' },
  ENTRY_DUPLICATE: { status: 400, oci: 'UNSUPPORTED' },
  BODY_INVALID: { status: 400, oci: 'UNSUPPORTED' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, oci: 'UNSUPPORTED' },
  UPLOAD_TOO_LARGE: { status: 413, oci: 'SIZE_INVALID' },
  INSUFFICIENT_STORAGE: { status: 507, oci: 'UNSUPPORTED' },
  // a path that is not valid percent-encoded UTF-8
  PATH_INVALID: { status: 400, oci: 'NAME_INVALID' },
  // an upload whose client sent nothing for BERTH_UPLOAD_IDLE_SECONDS
  CLIENT_TIMEOUT: { status: 408, oci: 'UNSUPPORTED' },
  // uploads in flight: BERTH_MAX_UPLOADS_PER_TOKEN for one token, BERTH_MAX_CONCURRENT_UPLOADS in all
  TOO_MANY_UPLOADS: { status: 429, oci: 'TOOMANYREQUESTS', retryAfter: 5 },
  UPLOADS_BUSY: { status: 503, oci: 'TOOMANYREQUESTS', retryAfter: 5 },
  CLIENT_ABORTED: { status: 499, oci: 'UNSUPPORTED' },
  INTERRUPTED: { status: 500, oci: 'UNKNOWN' },
  UNAVAILABLE: { status: 503, oci: 'UNAVAILABLE', retryAfter: 5 },
  // the metadata database cannot be reached (refused, terminated, timed out, locked by another
  // process), or its SQLite file was removed or replaced under the running service; retry later
  DATABASE_UNAVAILABLE: { status: 503, oci: 'UNAVAILABLE', retryAfter: 5 },
  INTERNAL: { status: 500, oci: 'UNKNOWN' },
} as const satisfies Record<string, ErrorDescriptor>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details: ErrorDetails;
}

/**
 * System and driver errors that have an answer of their own, whichever layer met them: a full disk
 * (the blob store's or SQLite's), a database locked or busy, a path that does not decode.
 */
export function fromSystemError(err: unknown): BerthError | undefined {
  if (err instanceof BerthError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
    case 'SQLITE_FULL':
      return new BerthError('INSUFFICIENT_STORAGE', 'no space left on the data folder\'s disk', null);
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return new BerthError('DATABASE_UNAVAILABLE', 'the database is locked by another process; try again later', { reason: code });
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_READONLY':
      return new BerthError('DATABASE_UNAVAILABLE', 'the database file cannot be written; try again later', { reason: code });
  }
  if (err instanceof URIError) return new BerthError('PATH_INVALID', 'the path is not valid percent-encoded UTF-8', null);
  return undefined;
}

/** Turns anything thrown into the `{ code, message, details }` that responses and reports carry. */
export function toErrorBody(err: unknown): ErrorBody {
  const known = fromSystemError(err);
  if (known) return { code: known.code, message: known.message, details: known.details };
  return { code: 'INTERNAL', message: 'internal error', details: null };
}

/** The headers an error's answer carries: its own, and Retry-After from the table. */
export function errorHeaders(err: unknown): Record<string, string> {
  const known = fromSystemError(err);
  if (!known) return {};
  const retry = (ERRORS[known.code] as ErrorDescriptor).retryAfter;
  return { ...(retry !== undefined ? { 'Retry-After': String(retry) } : {}), ...known.headers };
}

export function isClientAbort(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}
