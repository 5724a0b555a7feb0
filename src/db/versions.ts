// Repository versions and their content (manifests and blobs), kept as intervals of versions:
// a row is in version n when version_added <= n and (version_removed is null or version_removed > n).
import { type At, type Q, now, inVersion } from './common.js';
import type { ContentRow, RepositoryRow, VersionRow } from './rows.js';

/** Writes version `number` of a repository (the repository row's latest_version is moved separately). */
export async function insertVersion(q: Q, row: VersionRow): Promise<void> {
  await q('repository_versions').insert(row);
}

/** Versions newest first: `offset` rows in, or (keyset) those numbered below `before`. */
export async function listVersions(q: Q, repositoryId: number, opts: { limit: number; offset?: number; before?: number }): Promise<VersionRow[]> {
  const query = q<VersionRow>('repository_versions').where({ repository_id: repositoryId });
  if (opts.before !== undefined) query.where('number', '<', opts.before);
  return query
    .orderBy('number', 'desc')
    .limit(opts.limit)
    .offset(opts.offset ?? 0);
}

export async function findVersion(q: Q, repositoryId: number, number: number): Promise<VersionRow | undefined> {
  return q<VersionRow>('repository_versions').where({ repository_id: repositoryId, number }).first();
}

/** Which of `digests` the repository's version `n` holds (as manifest or blob), with their sizes. */
export async function contentIn(q: Q, repositoryId: number, n: At, digests: string[]): Promise<Map<string, ContentRow & { size: number }>> {
  const found = new Map<string, ContentRow & { size: number }>();
  for (let i = 0; i < digests.length; i += 500) {
    const rows: Array<ContentRow & { size: number | string }> = await inVersion(
      q('repository_content as c').join('blobs as b', 'b.digest', 'c.digest').where('c.repository_id', repositoryId),
      n,
    )
      .whereIn('c.digest', digests.slice(i, i + 500))
      .select('c.digest', 'c.kind', 'c.media_type', 'c.version_added', 'c.version_removed', 'b.size');
    for (const row of rows) found.set(row.digest, { ...row, size: Number(row.size) });
  }
  return found;
}

export async function insertContent(
  q: Q,
  repositoryId: number,
  version: number,
  rows: Array<Pick<ContentRow, 'digest' | 'kind' | 'media_type' | 'subject' | 'artifact_type' | 'annotations'>>,
): Promise<void> {
  for (let i = 0; i < rows.length; i += 200) {
    const chunk = rows.slice(i, i + 200).map((r) => ({ ...r, repository_id: repositoryId, version_added: version, version_removed: null }));
    await q('repository_content').insert(chunk);
  }
}

/**
 * Up to `limit` manifests or blobs of version `n`, in the order they were added, after the row `after`
 * (the `id` of the last row of the page before).
 */
export async function listContentPage(
  q: Q,
  repositoryId: number,
  n: At,
  kind: 'manifest' | 'blob',
  opts: { limit: number; after?: number },
): Promise<Array<ContentRow & { id: number; size: number }>> {
  const query = inVersion(
    q('repository_content as c').join('blobs as b', 'b.digest', 'c.digest').where({ 'c.repository_id': repositoryId, 'c.kind': kind }),
    n,
  )
    .select('c.id', 'c.digest', 'c.kind', 'c.media_type', 'c.version_added', 'c.version_removed', 'b.size')
    .orderBy('c.id')
    .limit(opts.limit);
  if (opts.after !== undefined) query.where('c.id', '>', opts.after);
  const rows: Array<ContentRow & { id: number | string; size: number | string }> = await query;
  return rows.map((r) => ({ ...r, id: Number(r.id), size: Number(r.size) }));
}

export async function contentChanges(
  q: Q,
  repositoryId: number,
  n: number,
): Promise<{ added: Array<ContentRow & { size: number }>; removed: Array<ContentRow & { size: number }> }> {
  const base = () =>
    q('repository_content as c')
      .join('blobs as b', 'b.digest', 'c.digest')
      .where('c.repository_id', repositoryId)
      .select('c.digest', 'c.kind', 'c.media_type', 'c.version_added', 'c.version_removed', 'b.size')
      .orderBy('c.id');
  const fix = (rows: Array<ContentRow & { size: number | string }>) => rows.map((r) => ({ ...r, size: Number(r.size) }));
  return {
    added: fix(await base().where('c.version_added', n)),
    removed: fix(await base().where('c.version_removed', n)),
  };
}

/** Closes the open content rows of `digests` at `version` (they are not in it any more). */
export async function removeContent(q: Q, repositoryId: number, version: number, digests: string[]): Promise<void> {
  for (let i = 0; i < digests.length; i += 500) {
    await q('repository_content')
      .where({ repository_id: repositoryId })
      .whereNull('version_removed')
      .whereIn('digest', digests.slice(i, i + 500))
      .update({ version_removed: version });
  }
}

/** The manifests of version `n` whose subject is `digest` (the OCI referrers of `digest`), with sizes. */
export async function referrersOf(q: Q, repositoryId: number, n: At, digest: string): Promise<Array<ContentRow & { size: number }>> {
  const rows: Array<ContentRow & { size: number | string }> = await inVersion(
    q('repository_content as c').join('blobs as b', 'b.digest', 'c.digest').where({ 'c.repository_id': repositoryId, 'c.subject': digest, 'c.kind': 'manifest' }),
    n,
  )
    .select('c.digest', 'c.kind', 'c.media_type', 'c.artifact_type', 'c.annotations', 'b.size')
    .orderBy('c.id');
  return rows.map((r) => ({ ...r, size: Number(r.size) }));
}
