// The registry's manifest writes (/v2 push side): a manifest PUT is one new repository version made
// by the one commit path (commit.ts), with a report in the same list as imports (format "push");
// a manifest DELETE (by digest or by tag) is a version without it. Also the OCI 1.1 referrers list.
import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Readable as ReadableStream } from 'node:stream';
import { type Digest, digestFromHex, parseDigest } from '../core/digest.js';
import { MAX_MANIFEST_BYTES, MediaType, type ParsedManifest, parseManifest, parseManifestJson } from '../core/manifest.js';
import { parseTag, type Tag } from '../core/names.js';
import type { StagingArea } from '../blobs/store.js';
import { now } from '../db/common.js';
import * as importsDb from '../db/imports.js';
import * as versionsDb from '../db/versions.js';
import { BerthError, toErrorBody } from '../errors.js';
import { commitVersion, type ContentToAdd, referrerFields } from './commit.js';
import type { Services } from './deps.js';
import type { ImportReport } from './imports.js';
import { deleteTag, getRepositoryRow, pushTarget } from './repositories.js';
import { PendingReport } from './report-row.js';

export interface PushedManifest {
  repository: string;
  digest: Digest;
  /** the manifest's subject (OCI 1.1), answered as OCI-Subject */
  subject?: Digest;
  report: ImportReport;
}

const isDigestReference = (reference: string): boolean => reference.includes(':');

/** Reads a manifest body, refusing more than 4 MiB (manifests are small JSON; blobs are never read so). */
async function readManifestBody(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_MANIFEST_BYTES) {
      // Read the rest away so the client gets the answer rather than a reset connection.
      body.resume();
      throw new BerthError('MANIFEST_INVALID', 'manifest is larger than 4 MiB', { limit: MAX_MANIFEST_BYTES });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/**
 * The media type a pushed manifest is stored and served with: the document's own `mediaType`; an OCI
 * document may leave it out, and then the request's Content-Type names it (when it is a manifest type
 * of the same shape). A Content-Type that contradicts the document is MANIFEST_INVALID.
 */
function storedMediaType(doc: unknown, parsed: ParsedManifest, contentType: string): string {
  const declared = typeof (doc as { mediaType?: unknown }).mediaType === 'string';
  const header = contentType.split(';')[0]!.trim().toLowerCase();
  if (header === '' || header === 'application/json' || header === 'application/octet-stream') return parsed.mediaType;
  if (declared) {
    if (header !== parsed.mediaType) {
      throw new BerthError('MANIFEST_INVALID', 'Content-Type does not match the manifest\'s mediaType', { content_type: header.slice(0, 200), media_type: parsed.mediaType });
    }
    return parsed.mediaType;
  }
  const sameShape = parsed.kind === 'index' ? [MediaType.OciIndex, MediaType.DockerManifestList] : [MediaType.OciManifest, MediaType.DockerManifest];
  if (!(sameShape as string[]).includes(header)) {
    throw new BerthError('MANIFEST_INVALID', 'Content-Type does not match the manifest\'s shape', { content_type: header.slice(0, 200), media_type: parsed.mediaType });
  }
  return header;
}

/** Reads and checks a manifest PUT's body: size, digest (for a digest reference), JSON, schema, type. */
async function checkManifest(reference: string, contentType: string, body: Readable) {
  const byDigest = isDigestReference(reference);
  const expected = byDigest ? parseDigest(reference) : undefined;
  const tag: Tag | undefined = byDigest ? undefined : parseTag(reference);
  const bytes = await readManifestBody(body);
  const digest = digestFromHex(createHash('sha256').update(bytes).digest('hex'));
  if (expected !== undefined && expected !== digest) {
    throw new BerthError('DIGEST_INVALID', 'the manifest does not hash to the digest it is put under', { expected, actual: digest });
  }
  const doc = parseManifestJson(bytes, 'manifest');
  const parsed = parseManifest(doc, 'manifest');
  return { bytes, digest, parsed, mediaType: storedMediaType(doc, parsed, contentType), tag };
}

/**
 * A manifest refused before it reached the commit still gets a failed report when its repository
 * exists (a refused push never creates one), so admins see what was refused and why.
 */
async function recordRejected(s: Services, rawName: string, err: unknown, actor: string, started: number): Promise<void> {
  if (!(err instanceof BerthError)) return;
  const repo = await getRepositoryRow(s, rawName).catch(() => undefined);
  if (!repo) return;
  const at = now();
  s.metrics.imports.inc({ status: 'failed', format: 'push', code: err.code });
  await importsDb.insertImport(s.db, {
    id: randomUUID(),
    repository: repo.name,
    status: 'failed',
    format: 'push',
    tag: null,
    version: null,
    new_version: null,
    manifests: '[]',
    blobs: '[]',
    bytes_received: 0,
    created_at: at,
    finished_at: at,
    duration_ms: Date.now() - started,
    error: JSON.stringify(toErrorBody(err)),
    instance_id: s.instanceId,
    actor,
  });
}

const blobsMissing = (digests: string[]) =>
  new BerthError('MANIFEST_BLOB_UNKNOWN', 'the manifest references blobs or manifests that the repository does not hold', { missing: digests });

/**
 * `PUT /v2/{name}/manifests/{reference}`: checks the body (size, JSON, schema, digest when the
 * reference is one), then commits it as one version holding the manifest, everything it references
 * (each of which the repository must hold already) and, for a tag reference, the tag.
 */
export async function putManifest(s: Services, rawName: string, reference: string, contentType: string, body: Readable, actor: string): Promise<PushedManifest> {
  const started = Date.now();
  let checked: { bytes: Buffer; digest: Digest; parsed: ParsedManifest; mediaType: string; tag: Tag | undefined };
  try {
    checked = await checkManifest(reference, contentType, body);
  } catch (err) {
    await recordRejected(s, rawName, err, actor, started);
    throw err;
  }
  const { bytes, digest, parsed, mediaType, tag } = checked;
  const repo = await pushTarget(s, rawName, actor);
  const id = randomUUID();
  const createdAt = now();
  // written completed in the commit, or failed after it (as running first only if the commit waits long)
  const pending = new PendingReport(s.db, s.log, {
    id,
    repository: repo.name,
    status: 'running',
    format: 'push',
    tag: tag ?? null,
    version: null,
    new_version: null,
    manifests: '[]',
    blobs: '[]',
    bytes_received: bytes.length,
    created_at: createdAt,
    finished_at: null,
    duration_ms: null,
    error: null,
    instance_id: s.instanceId,
    actor,
  });
  let staging: StagingArea | undefined;
  try {
    staging = await s.blobs.createStagingArea('imports', id);
    const staged = await staging.stage(ReadableStream.from([bytes]), digest);
    const references: ContentToAdd[] = [
      ...parsed.blobs.map((d) => ({ digest: d.digest, kind: 'blob' as const, mediaType: d.mediaType })),
      ...parsed.manifests.map((d) => ({ digest: d.digest, kind: 'manifest' as const, mediaType: d.mediaType })),
    ];
    let report: ImportReport | undefined;
    await commitVersion(s, {
      repository: repo,
      kind: 'push',
      actor,
      reportId: id,
      add: [{ digest, kind: 'manifest', mediaType, staged, ...referrerFields(parsed) }, ...references],
      tags: tag !== undefined ? [{ tag, digest }] : [],
      staging,
      missing: blobsMissing,
      finish: async (tx, outcome) => {
        const source = (d: string) => {
          const h = outcome.held.get(d);
          return h?.inVersion || h === undefined ? ('repository' as const) : h.heldAs === 'mount' ? ('mount' as const) : ('upload' as const);
        };
        const finishedAt = now();
        report = {
          id,
          repository: outcome.repository,
          status: 'completed',
          format: 'push',
          tag: tag ?? null,
          version: outcome.version,
          new_version: outcome.newVersion,
          manifests: [
            { digest, media_type: mediaType, source: 'upload' },
            ...parsed.manifests.map((d) => ({ digest: d.digest, media_type: d.mediaType, source: 'repository' as const })),
          ],
          blobs: parsed.blobs.map((d) => ({ digest: d.digest, size: d.size, source: source(d.digest) })),
          bytes_received: bytes.length,
          created_at: createdAt,
          finished_at: finishedAt,
          duration_ms: Date.now() - started,
          error: null,
          actor,
        };
        await pending.end(tx, {
          status: 'completed',
          version: report.version,
          new_version: report.new_version,
          manifests: JSON.stringify(report.manifests),
          blobs: JSON.stringify(report.blobs),
          finished_at: finishedAt,
          duration_ms: report.duration_ms,
        });
      },
    });
    s.metrics.imports.inc({ status: 'completed', format: 'push', code: '' });
    return { repository: repo.name, digest, ...(parsed.subject ? { subject: parsed.subject.digest } : {}), report: report! };
  } catch (err) {
    const error = toErrorBody(err);
    s.metrics.imports.inc({ status: 'failed', format: 'push', code: error.code });
    await pending
      .endFailed({ status: 'failed', error: JSON.stringify(error), finished_at: now(), duration_ms: Date.now() - started })
      .catch((dbErr: unknown) => s.log.error({ import_id: id, err: dbErr }, 'push report update failed'));
    throw err;
  } finally {
    await staging?.abort();
  }
}

/**
 * `DELETE /v2/{name}/manifests/{reference}`: by digest, a new version without the manifest and the
 * tags that point at it; by tag, a new version without the tag.
 */
export async function deleteManifest(s: Services, rawName: string, reference: string, actor: string): Promise<void> {
  if (!isDigestReference(reference)) {
    await deleteTag(s, rawName, reference, actor);
    return;
  }
  const repo = await getRepositoryRow(s, rawName);
  await commitVersion(s, { repository: repo, kind: 'delete', actor, reportId: null, removeManifests: [parseDigest(reference)] });
}

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** The manifests of the latest version whose subject is `rawDigest`, optionally of one artifact type. */
export async function listReferrers(s: Services, rawName: string, rawDigest: string, artifactType?: string): Promise<ReferrerDescriptor[]> {
  const repo = await getRepositoryRow(s, rawName);
  const digest = parseDigest(rawDigest);
  const rows = await versionsDb.referrersOf(s.db, repo.id, 'latest', digest);
  return rows
    .filter((r) => artifactType === undefined || r.artifact_type === artifactType)
    .map((r) => ({
      mediaType: r.media_type ?? MediaType.OciManifest,
      digest: r.digest,
      size: r.size,
      ...(r.artifact_type ? { artifactType: r.artifact_type } : {}),
      ...(r.annotations ? { annotations: JSON.parse(r.annotations) as Record<string, string> } : {}),
    }));
}
