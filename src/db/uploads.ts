// Registry upload sessions: one row per resumable blob upload (its bytes are in
// staging/uploads/<id>/data; `size` is how many of them are whole).
import type { Q } from './common.js';
import type { UploadSessionRow } from './rows.js';

export async function insertUpload(q: Q, row: UploadSessionRow): Promise<void> {
  await q('upload_sessions').insert(row);
}

export async function findUpload(q: Q, id: string): Promise<UploadSessionRow | undefined> {
  const row = await q<UploadSessionRow>('upload_sessions').where({ id }).first();
  return row === undefined ? undefined : { ...row, size: Number(row.size) };
}

/** Moves a session's size from `from` to `to`; false when another request moved it first. */
export async function advanceUpload(q: Q, id: string, from: number, to: number, at: string): Promise<boolean> {
  return (await q('upload_sessions').where({ id, size: from }).update({ size: to, updated_at: at })) > 0;
}

export async function deleteUpload(q: Q, id: string): Promise<void> {
  await q('upload_sessions').where({ id }).delete();
}

/** Ids of sessions idle since before `cutoff`. */
export async function listIdleUploads(q: Q, cutoff: string, limit: number): Promise<string[]> {
  const rows: Array<{ id: string }> = await q('upload_sessions').where('updated_at', '<', cutoff).select('id').limit(limit);
  return rows.map((r) => r.id);
}

/** Which of `ids` are sessions. */
export async function knownUploads(q: Q, ids: string[]): Promise<Set<string>> {
  const known = new Set<string>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows: Array<{ id: string }> = await q('upload_sessions').whereIn('id', ids.slice(i, i + 500)).select('id');
    for (const r of rows) known.add(r.id);
  }
  return known;
}
