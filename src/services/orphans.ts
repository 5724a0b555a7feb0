// Orphan cleanup: removes blobs that no repository version references and no repository holds
// (held blobs stay until their hold expires), and stored files that no blob row describes (left by
// an import that failed after moving its blobs in). It works in bounded batches, each its own short
// transaction holding the blob-store lock exclusively, so a version commit (which holds it shared
// while it moves blobs in) waits at most one batch. In-flight uploads hold hard-link pins on the
// stored blobs they reuse (see blobs/store.ts), so removing those is safe too.
import { parseDigest } from '../core/digest.js';
import * as blobRowsDb from '../db/blobs.js';
import { now } from '../db/common.js';
import * as heldDb from '../db/held-blobs.js';
import type { Services } from './deps.js';

export interface CleanupResult {
  removed_blobs: number;
  removed_files: number;
  freed_bytes: number;
  duration_ms: number;
}

/** Blob rows (or expired holds) handled per transaction. */
const BATCH = 500;

export async function cleanupOrphans(s: Services): Promise<CleanupResult> {
  const started = Date.now();
  let removedBlobs = 0;
  let removedFiles = 0;
  let freed = 0;

  while ((await heldDb.deleteExpiredHolds(s.db, now(), BATCH)) === BATCH);

  for (;;) {
    const batch = await s.db.transaction(async (tx) => {
      await blobRowsDb.lockBlobStoreExclusive(tx);
      const orphans = await blobRowsDb.findOrphanBlobs(tx, BATCH, now());
      await blobRowsDb.deleteBlobs(tx, orphans.map((o) => o.digest));
      for (const o of orphans) freed += await s.blobs.remove(parseDigest(o.digest));
      return orphans.length;
    });
    removedBlobs += batch;
    if (batch < BATCH) break;
  }

  for (let i = 0; i < 256; i++) {
    const prefix = i.toString(16).padStart(2, '0');
    if ((await s.blobs.listPrefix(prefix)).length === 0) continue;
    await s.db.transaction(async (tx) => {
      await blobRowsDb.lockBlobStoreExclusive(tx);
      // listed again under the lock: a commit may have moved a blob in since
      const stored = await s.blobs.listPrefix(prefix);
      const known = await blobRowsDb.knownBlobs(tx, stored);
      for (const digest of stored) {
        if (known.has(digest)) continue;
        freed += await s.blobs.remove(digest);
        removedFiles++;
      }
    });
  }
  const done = { removed_blobs: removedBlobs, removed_files: removedFiles, freed_bytes: freed, duration_ms: Date.now() - started };
  s.log.info(done, 'orphan cleanup finished');
  return done;
}
