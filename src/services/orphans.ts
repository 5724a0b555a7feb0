// Orphan cleanup: removes blobs that no repository version references, and stored files that no
// blob row describes (left by an import that failed after moving its blobs in). It holds the
// blob-store lock exclusively, so no import commit runs meanwhile; in-flight uploads hold hard-link
// pins on the stored blobs they reuse (see blobs/store.ts), so removing those is safe too.
import { parseDigest } from '../core/digest.js';
import * as blobRowsDb from '../db/blobs.js';
import type { Services } from './deps.js';

export interface CleanupResult {
  removed_blobs: number;
  removed_files: number;
  freed_bytes: number;
  duration_ms: number;
}

const BATCH = 1000;

export async function cleanupOrphans(s: Services): Promise<CleanupResult> {
  const started = Date.now();
  const result = await s.db.transaction(async (tx) => {
    await blobRowsDb.lockBlobStoreExclusive(tx);
    let removedBlobs = 0;
    let removedFiles = 0;
    let freed = 0;
    for (;;) {
      const orphans = await blobRowsDb.findOrphanBlobs(tx, BATCH);
      if (orphans.length === 0) break;
      await blobRowsDb.deleteBlobs(tx, orphans.map((o) => o.digest));
      for (const o of orphans) freed += await s.blobs.remove(parseDigest(o.digest));
      removedBlobs += orphans.length;
    }
    for (let i = 0; i < 256; i++) {
      const prefix = i.toString(16).padStart(2, '0');
      const stored = await s.blobs.listPrefix(prefix);
      if (stored.length === 0) continue;
      const known = await blobRowsDb.knownBlobs(tx, stored);
      for (const digest of stored) {
        if (known.has(digest)) continue;
        freed += await s.blobs.remove(digest);
        removedFiles++;
      }
    }
    return { removed_blobs: removedBlobs, removed_files: removedFiles, freed_bytes: freed };
  });
  const done = { ...result, duration_ms: Date.now() - started };
  s.log.info(done, 'orphan cleanup finished');
  return done;
}
