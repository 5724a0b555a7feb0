// Tags of repository versions, kept as intervals of versions like content.
import { type At, type Q, inVersion, byteOrder } from './common.js';
import { isPostgres } from './connect.js';
import type { TagRow } from './rows.js';

export async function listTags(q: Q, repositoryId: number, n: At): Promise<TagRow[]> {
  return inVersion(q<TagRow>('repository_tags').where({ repository_id: repositoryId }), n).orderBy('name');
}

export async function findTag(q: Q, repositoryId: number, n: At, name: string): Promise<TagRow | undefined> {
  return inVersion(q<TagRow>('repository_tags').where({ repository_id: repositoryId, name }), n).first();
}

/**
 * The tags version `n` added and removed, by name. Read through the (repository_id, version_added)
 * and (repository_id, version_removed) indexes, so the cost is that of the change: ordered plainly by
 * `name`, SQLite's planner walked `repository_tags_name` instead (every tag of the repository, in
 * order, to skip a sort), which grew with the repository. `+name` (same value and collation) keeps
 * that index out of the ORDER BY; PostgreSQL has no unary + on text and plans by its statistics.
 */
export async function tagChanges(q: Q, repositoryId: number, n: number): Promise<{ added: TagRow[]; removed: TagRow[] }> {
  const byName = isPostgres(q) ? q.raw('??', ['name']) : q.raw('+??', ['name']);
  return {
    added: await q<TagRow>('repository_tags').where({ repository_id: repositoryId, version_added: n }).orderByRaw(byName),
    removed: await q<TagRow>('repository_tags').where({ repository_id: repositoryId, version_removed: n }).orderByRaw(byName),
  };
}

/**
 * Closes the open row of `name` (if any) at `version` and opens one pointing at `digest` (if given).
 * `hasOpen: false` says the caller knows there is no open row (read under the repository lock).
 */
export async function setTag(q: Q, repositoryId: number, version: number, name: string, digest: string | null, hasOpen = true): Promise<void> {
  if (hasOpen) await q('repository_tags').where({ repository_id: repositoryId, name }).whereNull('version_removed').update({ version_removed: version });
  if (digest !== null) {
    await q('repository_tags').insert({ repository_id: repositoryId, name, digest, version_added: version, version_removed: null });
  }
}

/** Up to `limit` tags of version `n` whose names come after `after`, in byte order. */
export async function listTagPage(q: Q, repositoryId: number, n: At, opts: { limit: number; after?: string }): Promise<Array<{ name: string; digest: string }>> {
  const query = inVersion(q('repository_tags').where({ repository_id: repositoryId }), n)
    .select('name', 'digest')
    .orderByRaw(byteOrder(q, 'name'))
    .limit(opts.limit);
  if (opts.after !== undefined) query.where(byteOrder(q, 'name'), '>', opts.after);
  return query;
}

/** The tags of version `n` that point at one of `digests`. */
export async function tagsPointingAt(q: Q, repositoryId: number, n: At, digests: string[]): Promise<TagRow[]> {
  if (digests.length === 0) return [];
  return inVersion(q<TagRow>('repository_tags').where({ repository_id: repositoryId }), n).whereIn('digest', digests).orderBy('name');
}
