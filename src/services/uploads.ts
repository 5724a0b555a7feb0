// Registry blob uploads (the push side of /v2): monolithic, resumable sessions (POST, PATCH…, PUT),
// and cross-repository mounts. Every path streams into staging and verifies the digest before a blob
// is kept; a kept blob is held by the repository (commit.ts holdBlobs) until a manifest puts it in a
// version or its hold expires. A session is a row plus staging/uploads/<id>/data, so it survives a
// restart and any process can continue it.
import type { Hash } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { type Digest, digestFromHex, parseDigest } from '../core/digest.js';
import { may, type Principal } from '../core/policy.js';
import { now } from '../db/common.js';
import * as reposDb from '../db/repositories.js';
import type { RepositoryRow } from '../db/rows.js';
import * as uploadsDb from '../db/uploads.js';
import { BerthError } from '../errors.js';
import { holdBlobs } from './commit.js';
import type { Services } from './deps.js';
import { holding } from './ownership.js';
import { getRepositoryRow, pushTarget } from './repositories.js';

export interface UploadState {
  id: string;
  repository: string;
  /** bytes received and whole */
  size: number;
}

/**
 * Running hashes of the sessions this process has fed, so a chunk does not re-read what came before.
 * A session continued by another process (or after a restart) is hashed again from its file.
 */
const running = new Map<string, { hash: Hash; size: number }>();
/** One request at a time per session in this process (PATCH and PUT of one session never interleave). */
const busy = new Map<string, Promise<unknown>>();

async function serialized<T>(id: string, work: () => Promise<T>): Promise<T> {
  const before = busy.get(id) ?? Promise.resolve();
  const next = before.catch(() => undefined).then(work);
  busy.set(id, next);
  try {
    return await next;
  } finally {
    if (busy.get(id) === next) busy.delete(id);
  }
}

const uploadUnknown = (id: string) => new BerthError('BLOB_UPLOAD_UNKNOWN', 'no such upload session in this repository', { session: id.slice(0, 64) });

export async function startUpload(s: Services, rawName: string, actor: string): Promise<UploadState> {
  const repo = await pushTarget(s, rawName, actor);
  const id = randomUUID();
  const at = now();
  await fs.mkdir(s.blobs.stagingDir('uploads'), { recursive: true });
  await s.blobs.createStagingArea('uploads', id);
  await fs.writeFile(s.blobs.uploadFile(id), '');
  await uploadsDb.insertUpload(s.db, { id, repository_id: repo.id, size: 0, actor, created_at: at, updated_at: at });
  running.set(id, { hash: (await s.blobs.hashUpload(id, 0)), size: 0 });
  return { id, repository: repo.name, size: 0 };
}

/** The session `id` of repository `rawName`; BLOB_UPLOAD_UNKNOWN for another repository's or an ended one. */
export async function getUpload(s: Services, rawName: string, id: string): Promise<UploadState> {
  const repo = await getRepositoryRow(s, rawName);
  const row = /^[0-9a-f-]{36}$/.test(id) ? await uploadsDb.findUpload(s.db, id) : undefined;
  if (!row || row.repository_id !== repo.id) throw uploadUnknown(id);
  return { id, repository: repo.name, size: row.size };
}

/** The hash of the session's first `size` bytes: this process's running one, or read again from disk. */
async function hashAt(s: Services, id: string, size: number): Promise<Hash> {
  const known = running.get(id);
  if (known && known.size === size) return known.hash;
  return s.blobs.hashUpload(id, size);
}

/**
 * Appends a chunk. `range` (from Content-Range) must start where the session ends, else 416 with the
 * session's current Range.
 */
export async function appendUpload(s: Services, rawName: string, id: string, body: Readable, range?: { start: number; end: number }): Promise<UploadState> {
  const state = await getUpload(s, rawName, id);
  return serialized(id, async () => {
    const current = await getUpload(s, rawName, id);
    if (range && range.start !== current.size) {
      body.resume();
      throw new BerthError('UPLOAD_RANGE_INVALID', 'chunk does not continue where the upload ends', { size: current.size, range: `${range.start}-${range.end}` }, {
        headers: uploadHeaders({ ...state, size: current.size }),
      });
    }
    const hash = await hashAt(s, id, current.size);
    running.delete(id);
    const size = await s.blobs.appendToUpload(id, body, current.size, hash, s.config.maxUploadBytes);
    if (!(await uploadsDb.advanceUpload(s.db, id, current.size, size, now()))) throw uploadUnknown(id);
    running.set(id, { hash, size });
    return { ...current, size };
  });
}

/** Ends a session with its last chunk (if any): the bytes must hash to `rawDigest`; the blob is then held. */
export async function finishUpload(s: Services, rawName: string, id: string, rawDigest: string | undefined, body: Readable | undefined): Promise<Digest> {
  const digest = parseDigest(rawDigest);
  const state = body ? await appendUpload(s, rawName, id, body) : await getUpload(s, rawName, id);
  return serialized(id, async () => {
    const repo = await getRepositoryRow(s, rawName);
    const hash = await hashAt(s, id, state.size);
    const actual = digestFromHex(hash.copy().digest('hex'));
    try {
      if (actual !== digest) throw new BerthError('DIGEST_INVALID', 'uploaded bytes do not hash to the digest given', { expected: digest, actual });
      const staging = s.blobs.openStagingArea('uploads', id);
      const staged = await staging.adopt('data', digest, state.size);
      await holdBlobs(s, { repository: repo, blobs: [{ digest, size: state.size, staged }], source: 'upload', staging });
    } finally {
      await endSession(s, id);
    }
    return digest;
  });
}

/** One request, one blob: the body must hash to `rawDigest`; the blob is then held by the repository. */
export async function uploadMonolithic(s: Services, rawName: string, rawDigest: string, body: Readable, actor: string): Promise<Digest> {
  const digest = parseDigest(rawDigest);
  const repo = await pushTarget(s, rawName, actor);
  const staging = await s.blobs.createStagingArea('uploads', randomUUID());
  try {
    const staged = await staging.stage(body, digest);
    if (staged.digest !== digest) throw new BerthError('DIGEST_INVALID', 'uploaded bytes do not hash to the digest given', { expected: digest, actual: staged.digest });
    if (staged.size > s.config.maxUploadBytes) throw new BerthError('UPLOAD_TOO_LARGE', 'blob is larger than the configured limit', { limit: s.config.maxUploadBytes });
    await holdBlobs(s, { repository: repo, blobs: [{ digest, size: staged.size, staged }], source: 'upload', staging });
    return digest;
  } finally {
    await staging.abort();
  }
}

/**
 * A cross-repository mount: true (and the blob held by `rawName`) only when `principal` may pull
 * `from` and `from` holds the digest — proof of ownership. Otherwise false, and the caller opens an
 * ordinary session, never telling whether `from` holds the blob.
 */
export async function mountBlob(s: Services, rawName: string, rawDigest: string, from: string, principal: Principal): Promise<boolean> {
  const digest = parseDigest(rawDigest);
  if (!may(principal, 'pull', from)) return false;
  const source = await reposDb.findRepository(s.db, from);
  const held = source ? await holding(s.db, source, digest) : undefined;
  if (!held) return false;
  const repo = await pushTarget(s, rawName, principal.name);
  await holdBlobs(s, { repository: repo, blobs: [{ digest, size: held.size }], source: 'mount' });
  return true;
}

export async function cancelUpload(s: Services, rawName: string, id: string): Promise<void> {
  await getUpload(s, rawName, id);
  await serialized(id, () => endSession(s, id));
}

async function endSession(s: Services, id: string): Promise<void> {
  running.delete(id);
  await uploadsDb.deleteUpload(s.db, id);
  await s.blobs.removeStaging('uploads', id);
}

/**
 * Ends sessions idle for longer than the upload TTL, and removes upload folders that belong to no
 * session (a crash between the two writes of a start or an end), once they are that old too.
 */
export async function expireUploads(s: Pick<Services, 'db' | 'blobs' | 'config'>): Promise<number> {
  const ttlMs = s.config.uploadTtlSeconds * 1000;
  const cutoff = new Date(Date.now() - ttlMs).toISOString();
  let removed = 0;
  for (const id of await uploadsDb.listIdleUploads(s.db, cutoff, 1000)) {
    running.delete(id);
    await uploadsDb.deleteUpload(s.db, id);
    await s.blobs.removeStaging('uploads', id);
    removed++;
  }
  const folders = await s.blobs.stagingEntries('uploads');
  const known = await uploadsDb.knownUploads(s.db, folders);
  for (const name of folders) {
    if (known.has(name)) continue;
    const age = await s.blobs.stagingAge('uploads', name);
    if (age === undefined || age < ttlMs) continue;
    await s.blobs.removeStaging('uploads', name);
    removed++;
  }
  return removed;
}

/** The headers every answer about a session carries. */
export function uploadHeaders(state: UploadState): Record<string, string> {
  return {
    Location: `/v2/${state.repository}/blobs/uploads/${state.id}`,
    'Docker-Upload-UUID': state.id,
    Range: `0-${Math.max(0, state.size - 1)}`,
  };
}
