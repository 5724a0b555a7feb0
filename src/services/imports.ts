// The import use case: stream an archive into staging, read it with the matching format reader,
// check ownership of everything it omits, and commit manifests, blobs, tags and the report as one
// new repository version in one transaction.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { StagingArea } from '../blobs/store.js';
import { type Digest } from '../core/digest.js';
import { MAX_MANIFEST_BYTES } from '../core/manifest.js';
import { parseTag, type Tag } from '../core/names.js';
import { pickReader } from '../archive/formats/index.js';
import type { ImportPlan, ReaderContext } from '../archive/plan.js';
import { blobsUnknown } from '../archive/plan-builder.js';
import { type ArchiveListing, claimedDigest, readArchive } from '../archive/read-archive.js';
import type { ReceivedBlob } from '../archive/sink.js';
import { now } from '../db/common.js';
import * as importsDb from '../db/imports.js';
import type { ImportRow } from '../db/rows.js';
import { BerthError, type ErrorBody, fromSystemError, isClientAbort, toErrorBody } from '../errors.js';
import { commitVersion, holdBlobs, referrerFields } from './commit.js';
import type { Services } from './deps.js';
import { holding } from './ownership.js';
import { getRepositoryRow, pushTarget } from './repositories.js';
import { PendingReport } from './report-row.js';
import type { ImportReport } from '../core/report.js';

export type { ImportReport };

export function reportFromRow(row: ImportRow): ImportReport {
  return {
    id: row.id,
    repository: row.repository,
    status: row.status,
    format: row.format,
    tag: row.tag,
    version: row.version,
    new_version: row.new_version === null ? null : Boolean(row.new_version),
    manifests: JSON.parse(row.manifests) as ImportReport['manifests'],
    blobs: JSON.parse(row.blobs) as ImportReport['blobs'],
    bytes_received: Number(row.bytes_received),
    created_at: row.created_at,
    finished_at: row.finished_at,
    duration_ms: row.duration_ms,
    error: row.error === null ? null : (JSON.parse(row.error) as ErrorBody),
    actor: row.actor ?? null,
  };
}

/** The error for a report id that does not exist, or that the caller may not see. */
export function importUnknown(id: string): BerthError {
  return new BerthError('IMPORT_UNKNOWN', 'no import with this id', { id: id.slice(0, 100) });
}

export async function getImport(s: Services, id: string): Promise<ImportReport> {
  const row = /^[0-9a-f-]{36}$/.test(id) ? await importsDb.findImport(s.db, id) : undefined;
  if (!row) throw importUnknown(id);
  return reportFromRow(row);
}

/** The repository an import or push report belongs to (what a request for the report is authorized on). */
export async function importRepository(s: Services, id: string): Promise<string> {
  return (await getImport(s, id)).repository;
}

const STATUSES = ['running', 'completed', 'failed'];

function checkFilter(f: importsDb.ImportFilter): void {
  if (f.status !== undefined && !STATUSES.includes(f.status)) {
    throw new BerthError('BODY_INVALID', 'status must be running, completed or failed', { status: f.status.slice(0, 50) });
  }
  for (const key of ['since', 'before'] as const) {
    const value = f[key];
    if (value !== undefined && (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+Z)?$/.test(value) || Number.isNaN(Date.parse(value)))) {
      throw new BerthError('BODY_INVALID', `${key} must be an ISO-8601 UTC date or time`, { [key]: value.slice(0, 50) });
    }
  }
}

/**
 * Reports newest first, narrowed by `f` (see db/imports.ts ImportFilter); with `older` or `newer`
 * (a report id), the page after or before that report (IMPORT_UNKNOWN for an unknown id).
 */
export async function listImports(
  s: Services,
  f: importsDb.ImportFilter & { limit: number; older?: string; newer?: string },
): Promise<ImportReport[]> {
  checkFilter(f);
  const { older, newer, ...filter } = f;
  const at = older ?? newer;
  let cursor: importsDb.ImportCursor | undefined;
  if (at !== undefined) {
    const row = await getImport(s, at);
    cursor = { created_at: row.created_at, id: row.id, direction: older !== undefined ? 'older' : 'newer' };
  }
  return (await importsDb.listImports(s.db, { ...filter, ...(cursor ? { cursor } : {}) })).map(reportFromRow);
}

/** Reports per UTC day and status with their bytes, oldest day first, narrowed by `f`. */
export async function importsPerDay(s: Services, f: importsDb.ImportFilter): Promise<importsDb.ImportDay[]> {
  checkFilter(f);
  return importsDb.importsPerDay(s.db, f);
}

/** An upload body as the HTTP layer reads it; the service drives it, so the session never leaves here. */
export interface ImportBody {
  /** a tag given beside the body (the query string), if any */
  tag?: string;
  /**
   * Reads the body to its end: `archive(stream)` for the archive (a file part or the raw body),
   * `field(name, value)` for each form field, in the order they arrive.
   */
  read(into: { archive(stream: Readable): Promise<void>; field(name: string, value: string): void }): Promise<void>;
  /** true when the client went away before its body was complete */
  aborted(): boolean;
}

/**
 * The import use case in one call: streams the body's archive into staging, reads it, checks it and
 * commits it as one version. Returns the completed report; on failure throws a BerthError whose body
 * is the failed report (a client that went away gets its abort error back instead).
 */
export async function importArchive(s: Services, rawName: string, body: ImportBody, actor: string, opts: { create?: boolean } = {}): Promise<ImportReport> {
  const session = await ImportSession.begin(s, rawName, actor, opts.create === true);
  try {
    if (body.tag !== undefined) session.setTag(body.tag);
    await body.read({
      archive: (stream) => session.receiveArchive(stream),
      field: (name, value) => {
        if (name !== 'tag') throw new BerthError('BODY_INVALID', 'unknown form field', { field: name.slice(0, 100) });
        // An empty tag field is no tag, as `?tag=` is: what an HTML form sends when the tag is left blank.
        if (value !== '') session.setTag(value);
      },
    });
    return await session.complete();
  } catch (err) {
    // A client that stopped sending (CLIENT_TIMEOUT) is still there to read its answer.
    const timedOut = err instanceof BerthError && err.code === 'CLIENT_TIMEOUT';
    const aborted = !timedOut && (body.aborted() || isClientAbort(err));
    const report = await session.fail(err, aborted);
    if (aborted) throw Object.assign(new Error('client aborted the upload'), { code: 'ECONNABORTED' });
    const known = fromSystemError(err);
    if (!known) s.log.error({ err, import_id: session.id }, 'import failed with an internal error');
    const cause = known ?? new BerthError('INTERNAL', 'internal error', null);
    throw new BerthError(cause.code, cause.message, cause.details, { headers: cause.headers, body: report });
  }
}

/** One upload in progress: fed the archive and the fields, then complete() or fail() ends it. */
class ImportSession {
  private listing: ArchiveListing | undefined;
  private tagField: Tag | undefined;
  private bytesReceived = 0;
  private format: string | null = null;
  private readonly started = Date.now();
  private ended = false;
  /** blobs that arrived whole and hash to the digest their entry names: held for the repository if the import fails */
  private readonly whole = new Map<Digest, ReceivedBlob>();
  private failure: Pick<ImportRow, 'status' | 'format' | 'tag' | 'bytes_received' | 'finished_at' | 'duration_ms' | 'error'> | undefined;

  private constructor(
    private readonly s: Services,
    readonly id: string,
    private readonly repository: { id: number; name: string },
    private readonly staging: StagingArea,
    private readonly report: PendingReport,
    private readonly createdAt: string,
    private readonly actor: string,
  ) {}

  /**
   * `create`: a repository that does not exist is made first (as a registry push makes it), so that
   * blobs arriving whole before a failure are held for it and the same command run again resumes.
   */
  static async begin(s: Services, rawName: string, actor: string, create: boolean): Promise<ImportSession> {
    const repo = create ? await pushTarget(s, rawName, actor) : await getRepositoryRow(s, rawName);
    // A disk below its headroom refuses the upload before anything is written, the report included.
    await s.blobs.ensureHeadroom();
    const id = randomUUID();
    const createdAt = now();
    // The report is written when the import ends (in its commit), or as running once it lasts.
    const report = new PendingReport(s.db, s.log, {
      id,
      repository: repo.name,
      status: 'running',
      format: null,
      tag: null,
      version: null,
      new_version: null,
      manifests: '[]',
      blobs: '[]',
      bytes_received: 0,
      created_at: createdAt,
      finished_at: null,
      duration_ms: null,
      error: null,
      instance_id: s.instanceId,
      actor,
    });
    let staging: StagingArea;
    try {
      staging = await s.blobs.createStagingArea('imports', id, { headroomChecked: true });
    } catch (err) {
      await report.endFailed({ status: 'failed', error: JSON.stringify(toErrorBody(err)), finished_at: now(), duration_ms: 0 }).catch(() => undefined);
      throw err;
    }
    s.log.info({ import_id: id, repository: repo.name }, 'import started');
    return new ImportSession(s, id, { id: repo.id, name: repo.name }, staging, report, createdAt, actor);
  }

  setTag(value: string): void {
    if (this.tagField !== undefined) throw new BerthError('TAG_INVALID', 'only one tag may be given', { tag: value.slice(0, 200) });
    this.tagField = parseTag(value);
  }

  /** Streams one archive into staging. An upload carries exactly one archive. */
  async receiveArchive(source: Readable): Promise<void> {
    if (this.listing !== undefined) {
      source.resume();
      throw new BerthError('BODY_INVALID', 'an import takes exactly one archive', null);
    }
    this.listing = await readArchive(source, this.staging, {
      maxBytes: this.s.config.maxUploadBytes,
      maxRatio: this.s.config.maxDecompressionRatio,
      ratioFloor: this.s.config.decompressionRatioFloorBytes,
      maxEntries: this.s.config.maxArchiveEntries,
      onBytes: (n) => {
        this.bytesReceived += n;
      },
      onFile: (name, blob) => {
        if (claimedDigest(name) === blob.digest) this.whole.set(blob.digest, blob);
      },
    });
  }

  private readerContext(): ReaderContext {
    // Read once per import: the reader's size lookups are hints, the commit decides ownership.
    let repository: ReturnType<typeof getRepositoryRow> | undefined;
    return {
      readSmall: (blob, where) =>
        this.staging.readBack(blob, MAX_MANIFEST_BYTES).then((buf) => {
          if (buf.length > MAX_MANIFEST_BYTES) {
            throw new BerthError('MANIFEST_INVALID', 'manifest is larger than 4 MiB', { entry: where, limit: MAX_MANIFEST_BYTES });
          }
          return buf;
        }),
      stageBytes: (bytes) => this.staging.stage(Readable.from([bytes])),
      repositoryBlob: async (digest) => {
        const repo = await (repository ??= getRepositoryRow(this.s, this.repository.name));
        const held = await holding(this.s.db, repo, digest);
        return held === undefined ? undefined : { size: held.size };
      },
    };
  }

  /** Reads, checks and commits. Returns the completed report; throws after recording a failure. */
  async complete(): Promise<ImportReport> {
    try {
      if (!this.listing) throw new BerthError('BODY_INVALID', 'the upload carries no archive file', null);
      const reader = pickReader(this.listing);
      this.format = reader.format;
      const plan = await reader.plan(this.listing, this.readerContext());
      const report = await this.commit(plan);
      this.s.log.info(
        { import_id: this.id, repository: this.repository.name, version: report.version, new_version: report.new_version, bytes: this.bytesReceived, duration_ms: report.duration_ms },
        'import completed',
      );
      this.record('completed', null);
      return report;
    } catch (err) {
      await this.fail(err);
      throw err;
    } finally {
      await this.staging.abort();
    }
  }

  private async commit(plan: ImportPlan): Promise<ImportReport> {
    if (this.tagField !== undefined && plan.roots.length > 1) {
      throw new BerthError('TAG_AMBIGUOUS', 'the archive holds several images; a tag field can name only one', { tag: this.tagField, images: plan.roots });
    }
    const tags: Array<{ tag: Tag; digest: Digest }> =
      this.tagField !== undefined ? plan.roots.map((digest) => ({ tag: this.tagField!, digest })) : plan.archiveTags;
    let report: ImportReport | undefined;
    await commitVersion(this.s, {
      repository: this.repository,
      kind: 'import',
      actor: this.actor,
      reportId: this.id,
      add: [
        ...plan.manifests.map((m) => ({ digest: m.digest, kind: 'manifest' as const, mediaType: m.mediaType, staged: m.blob, ...referrerFields(m.parsed) })),
        ...plan.ownedManifests.map((m) => ({ digest: m.digest, kind: 'manifest' as const, mediaType: m.mediaType })),
        ...plan.blobs.map((b) => ({ digest: b.digest, kind: 'blob' as const, mediaType: b.mediaType, ...(b.blob ? { staged: b.blob } : {}) })),
      ],
      tags,
      staging: this.staging,
      missing: blobsUnknown,
      finish: async (tx, outcome) => {
        report = {
          id: this.id,
          repository: outcome.repository,
          status: 'completed',
          format: plan.format,
          tag: tags.length > 0 ? tags.map((t) => t.tag).join(',') : null,
          version: outcome.version,
          new_version: outcome.newVersion,
          manifests: [
            ...plan.manifests.map((m) => ({ digest: m.digest, media_type: m.mediaType, source: 'upload' as const })),
            ...plan.ownedManifests.map((m) => ({ digest: m.digest, media_type: m.mediaType, source: 'repository' as const })),
          ],
          blobs: plan.blobs.map((b) => ({ digest: b.digest, size: b.size, source: b.blob ? ('upload' as const) : ('repository' as const) })),
          bytes_received: this.bytesReceived,
          created_at: this.createdAt,
          finished_at: now(),
          duration_ms: Date.now() - this.started,
          error: null,
          actor: this.actor,
        };
        const finished = await this.report.end(tx, {
          status: 'completed',
          format: report.format,
          tag: report.tag,
          version: report.version,
          new_version: report.new_version,
          manifests: JSON.stringify(report.manifests),
          blobs: JSON.stringify(report.blobs),
          bytes_received: this.bytesReceived,
          finished_at: report.finished_at,
          duration_ms: report.duration_ms,
        });
        // Another process took this one for gone and failed the import: its version must not appear.
        if (!finished) throw new BerthError('INTERRUPTED', 'the import was ended elsewhere before it could commit', null);
      },
    });
    this.ended = true;
    return report!;
  }

  private async holdWhole(): Promise<void> {
    if (this.whole.size === 0) return;
    const blobs = [...this.whole.values()].map((blob) => ({ digest: blob.digest, size: blob.size, staged: blob }));
    this.whole.clear();
    try {
      await holdBlobs(this.s, { repository: this.repository, blobs, source: 'import', staging: this.staging });
      this.s.log.info({ import_id: this.id, repository: this.repository.name, blobs: blobs.length }, 'import failed; whole blobs held for the repository');
    } catch (holdErr) {
      // The failure is recorded all the same; only the resume is lost.
      this.s.log.warn({ import_id: this.id, err: holdErr }, 'holding the whole blobs of a failed import failed');
    }
  }

  private record(status: 'completed' | 'failed', code: string | null): void {
    const { metrics } = this.s;
    metrics.imports.inc({ status, format: this.format ?? 'unknown', code: code ?? '' });
    metrics.importBytes.inc(this.bytesReceived);
    metrics.importDuration.observe({ status }, (Date.now() - this.started) / 1000);
  }

  /**
   * Records the failure in the report and removes the staging folder. Blobs that arrived whole and
   * verified are held for the repository first, so that sending the same archive again (after a
   * dropped connection, with a bad blob fixed) need not carry them. Safe to call twice.
   */
  async fail(err: unknown, aborted = false): Promise<ImportReport> {
    if (!this.ended) await this.holdWhole();
    await this.staging.abort();
    if (!this.ended) {
      this.ended = true;
      const body: ErrorBody =
        aborted || isClientAbort(err)
          ? { code: 'CLIENT_ABORTED', message: 'the client went away before the upload finished', details: null }
          : toErrorBody(err);
      const patch = {
        status: 'failed' as const,
        format: this.format,
        tag: this.tagField ?? null,
        bytes_received: this.bytesReceived,
        finished_at: now(),
        duration_ms: Date.now() - this.started,
        error: JSON.stringify(body),
      };
      this.failure = patch;
      try {
        // The first outcome recorded stands (a sweep may have failed it already).
        await this.report.endFailed(patch);
      } catch (dbErr) {
        this.s.log.error({ import_id: this.id, err: dbErr }, 'import report update failed');
      }
      this.record('failed', body.code);
      const level = body.code === 'INTERNAL' ? 'error' : 'warn';
      this.s.log[level]({ import_id: this.id, repository: this.repository.name, code: body.code, ...(body.code === 'INTERNAL' ? { err } : {}) }, 'import failed');
    }
    try {
      return await getImport(this.s, this.id);
    } catch (readErr) {
      // The database is out of reach: answer with the report as this process knows it; the
      // instance sweep records it once the database is back.
      if (!this.failure) throw readErr;
      return reportFromRow({ id: this.id, repository: this.repository.name, version: null, new_version: null, manifests: '[]', blobs: '[]', created_at: this.createdAt, instance_id: this.s.instanceId, actor: this.actor, ...this.failure });
    }
  }
}
