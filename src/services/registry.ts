// The registry's read side (/v2): resolves tags and digests within a repository's latest version.
// Ownership on read (services/ownership.ts): a digest is served only by a repository that holds it,
// even when the bytes sit in the shared blob store for another repository.
import { type Digest, parseDigest } from '../core/digest.js';
import { MAX_MANIFEST_BYTES } from '../core/manifest.js';
import { parseTag } from '../core/names.js';
import type { NameFilter } from '../core/policy.js';
import type { BlobSender } from '../blobs/store.js';
import * as reposDb from '../db/repositories.js';
import * as tagsDb from '../db/tags.js';
import type { RepositoryRow } from '../db/rows.js';
import { BerthError } from '../errors.js';
import type { Services } from './deps.js';
import { holding } from './ownership.js';
import { getRepositoryRow } from './repositories.js';

export interface StoredContent {
  repository: string;
  digest: Digest;
  size: number;
}

export interface ManifestRef extends StoredContent {
  mediaType: string;
}

/** A byte range, both ends inclusive, already checked against the blob's size. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface Page {
  /** at most this many names; 0 answers an empty page */
  n: number;
  /** names strictly after this one */
  last?: string;
}

export interface PageResult {
  names: string[];
  /** true when names remain after this page */
  more: boolean;
}

const isDigestReference = (reference: string): boolean => reference.includes(':');

/** The store's size of content a repository row claims; a file gone from the store reads as unknown. */
async function storedSize(s: Pick<Services, 'blobs' | 'log'>, repo: RepositoryRow, digest: Digest): Promise<number | undefined> {
  const size = await s.blobs.stat(digest);
  if (size === undefined) s.log.warn({ repository: repo.name, digest }, 'repository content missing from the blob store');
  return size;
}

/** The manifest a tag or digest names in the repository's latest version. */
export async function resolveManifest(s: Services, rawName: string, reference: string): Promise<ManifestRef> {
  const repo = await getRepositoryRow(s, rawName);
  let digest: Digest;
  if (isDigestReference(reference)) {
    digest = parseDigest(reference);
  } else {
    // A reference that cannot be a tag names no manifest: 404, as for any tag the repository lacks.
    let tag: string;
    try {
      tag = parseTag(reference);
    } catch {
      throw new BerthError('TAG_UNKNOWN', 'repository has no such tag', { name: repo.name, tag: reference.slice(0, 200) });
    }
    const row = await tagsDb.findTag(s.db, repo.id, 'latest', tag);
    if (!row) throw new BerthError('TAG_UNKNOWN', 'repository has no such tag', { name: repo.name, tag });
    digest = parseDigest(row.digest);
  }
  const unknown = () => new BerthError('MANIFEST_UNKNOWN', 'repository holds no manifest with this digest', { name: repo.name, digest });
  const content = await holding(s.db, repo, digest);
  if (content?.kind !== 'manifest' || !content.inVersion || content.mediaType === null) throw unknown();
  const size = await storedSize(s, repo, digest);
  if (size === undefined) throw unknown();
  return { repository: repo.name, digest, size, mediaType: content.mediaType };
}

/** The exact stored bytes of a resolved manifest (manifests are JSON capped at 4 MiB, so buffered). */
export async function readManifest(s: Services, manifest: ManifestRef): Promise<Buffer> {
  try {
    const bytes = await s.blobs.readSmall(s.blobs.blobPath(manifest.digest), MAX_MANIFEST_BYTES);
    if (bytes.length !== manifest.size) throw new Error('stored manifest changed size while read');
    return bytes;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
    throw new BerthError('MANIFEST_UNKNOWN', 'repository holds no manifest with this digest', { name: manifest.repository, digest: manifest.digest });
  }
}

/**
 * A blob (or manifest, read as a blob) that the repository holds. Clients fetch
 * config and layers here; the bytes existing in the store for another repository does not count.
 */
export async function resolveBlob(s: Services, rawName: string, rawDigest: string): Promise<StoredContent> {
  const repo = await getRepositoryRow(s, rawName);
  const digest = parseDigest(rawDigest);
  const unknown = () => new BerthError('BLOB_NOT_FOUND', 'repository holds no blob with this digest', { name: repo.name, digest });
  if (!(await holding(s.db, repo, digest))) throw unknown();
  const size = await storedSize(s, repo, digest);
  if (size === undefined) throw unknown();
  return { repository: repo.name, digest, size };
}

/**
 * Opens a resolved blob to send it, optionally a range. Resolves once the file is open, so a blob that
 * vanished (its repository deleted and cleaned up since) is a 404 and not a broken body.
 */
export async function openBlob(s: Services, blob: StoredContent, range?: ByteRange): Promise<BlobSender> {
  const sender = await s.blobs.openForSending(blob.digest, range ?? { start: 0, end: blob.size - 1 });
  if (!sender) throw new BerthError('BLOB_NOT_FOUND', 'repository holds no blob with this digest', { name: blob.repository, digest: blob.digest });
  return sender;
}

async function page(fetch: (limit: number) => Promise<string[]>, n: number): Promise<PageResult> {
  if (n === 0) return { names: [], more: false };
  const names = await fetch(n + 1);
  return { names: names.slice(0, n), more: names.length > n };
}

/** One page of the tags of the repository's latest version, in byte order. */
export async function listTagsPage(s: Services, rawName: string, p: Page): Promise<PageResult & { repository: string }> {
  const repo = await getRepositoryRow(s, rawName);
  const result = await page(
    async (limit) => (await tagsDb.listTagPage(s.db, repo.id, 'latest', { limit, ...(p.last !== undefined ? { after: p.last } : {}) })).map((t) => t.name),
    p.n,
  );
  return { repository: repo.name, ...result };
}

/** One page of the repository names `visible` lets through (what the caller may pull), in byte order. */
export async function catalogPage(s: Services, p: Page, visible: NameFilter): Promise<PageResult> {
  return page((limit) => reposDb.listRepositoryNames(s.db, { limit, visible, ...(p.last !== undefined ? { after: p.last } : {}) }), p.n);
}
