// Blobs held for a repository outside its versions (see migrations/20261202000000_held_blobs_and_actors.ts):
// pushed or mounted blobs no manifest references yet, and blobs an interrupted import left whole.
import type { Q } from './common.js';
import type { HeldBlobRow } from './rows.js';

/** Which of `digests` repository `repositoryId` holds unexpired at `at`, with their sizes. */
export async function heldIn(q: Q, repositoryId: number, digests: string[], at: string): Promise<Map<string, { size: number; source: HeldBlobRow['source'] }>> {
  const found = new Map<string, { size: number; source: HeldBlobRow['source'] }>();
  for (let i = 0; i < digests.length; i += 500) {
    const rows: Array<{ digest: string; size: number | string; source: HeldBlobRow['source'] }> = await q('held_blobs as h')
      .join('blobs as b', 'b.digest', 'h.digest')
      .where('h.repository_id', repositoryId)
      .whereIn('h.digest', digests.slice(i, i + 500))
      .where('h.expires_at', '>', at)
      .select('h.digest', 'b.size', 'h.source');
    for (const r of rows) found.set(r.digest, { size: Number(r.size), source: r.source });
  }
  return found;
}

/** Holds `digests` for the repository until `expiresAt` (a blob held already gets the later expiry). */
export async function holdBlobs(q: Q, rows: Array<Omit<HeldBlobRow, 'repository_id'>>, repositoryId: number): Promise<void> {
  for (let i = 0; i < rows.length; i += 200) {
    await q('held_blobs')
      .insert(rows.slice(i, i + 200).map((r) => ({ ...r, repository_id: repositoryId })))
      .onConflict(['repository_id', 'digest'])
      .merge(['source', 'held_at', 'expires_at']);
  }
}

/** Ends the holds of `digests` for the repository (they entered one of its versions). */
export async function releaseBlobs(q: Q, repositoryId: number, digests: string[]): Promise<void> {
  for (let i = 0; i < digests.length; i += 500) {
    await q('held_blobs').where('repository_id', repositoryId).whereIn('digest', digests.slice(i, i + 500)).delete();
  }
}

/** Removes up to `limit` holds that expired before `at`; returns how many. */
export async function deleteExpiredHolds(q: Q, at: string, limit: number): Promise<number> {
  const rows: Array<{ repository_id: number; digest: string }> = await q('held_blobs').where('expires_at', '<=', at).select('repository_id', 'digest').limit(limit);
  for (const r of rows) await q('held_blobs').where(r).delete();
  return rows.length;
}
