// Blob rows (digest, size) and the blob-store lock: commits hold it shared, orphan cleanup exclusive
// (PostgreSQL advisory locks, released with the transaction). SQLite's single connection already runs
// one transaction at a time, so there is nothing to take there.
import type { Knex } from 'knex';
import { isPostgres } from './connect.js';
import { type Q, now } from './common.js';

export async function insertBlobs(q: Q, blobs: Array<{ digest: string; size: number }>): Promise<void> {
  if (blobs.length === 0) return;
  const at = now();
  for (let i = 0; i < blobs.length; i += 200) {
    const chunk = blobs.slice(i, i + 200).map((b) => ({ digest: b.digest, size: b.size, created_at: at }));
    await q('blobs').insert(chunk).onConflict('digest').ignore();
  }
}

const BLOB_STORE_LOCK = 0x62657274; // 'bert'

export async function lockBlobStoreShared(tx: Knex.Transaction): Promise<void> {
  if (isPostgres(tx)) await tx.raw('SELECT pg_advisory_xact_lock_shared(?)', [BLOB_STORE_LOCK]);
}

export async function lockBlobStoreExclusive(tx: Knex.Transaction): Promise<void> {
  if (isPostgres(tx)) await tx.raw('SELECT pg_advisory_xact_lock(?)', [BLOB_STORE_LOCK]);
}

/** Blobs that no version of any repository references and no repository holds unexpired at `at`. */
export async function findOrphanBlobs(q: Q, limit: number, at: string): Promise<Array<{ digest: string; size: number }>> {
  const rows: Array<{ digest: string; size: number | string }> = await q('blobs as b')
    .whereNotExists((w) => w.select(q.raw('1')).from('repository_content as c').whereRaw('c.digest = b.digest'))
    .whereNotExists((w) => w.select(q.raw('1')).from('held_blobs as h').whereRaw('h.digest = b.digest').andWhere('h.expires_at', '>', at))
    .select('b.digest', 'b.size')
    .limit(limit);
  return rows.map((r) => ({ digest: r.digest, size: Number(r.size) }));
}

export async function deleteBlobs(q: Q, digests: string[]): Promise<void> {
  for (let i = 0; i < digests.length; i += 500) await q('blobs').whereIn('digest', digests.slice(i, i + 500)).delete();
}

/** Which of `digests` have a blob row. */
export async function knownBlobs(q: Q, digests: string[]): Promise<Set<string>> {
  const known = new Set<string>();
  for (let i = 0; i < digests.length; i += 500) {
    const rows: Array<{ digest: string }> = await q('blobs').whereIn('digest', digests.slice(i, i + 500)).select('digest');
    for (const r of rows) known.add(r.digest);
  }
  return known;
}
