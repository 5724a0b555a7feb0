// Query functions. Each takes the knex handle or transaction it runs in, so a service owns the
// transaction and a change writes exactly one version.
import type { Knex } from 'knex';
import { isPostgres } from './connect.js';
import type { ContentRow, ImportRow, InstanceRow, RepositoryRow, TagRow, VersionRow } from './rows.js';

type Q = Knex | Knex.Transaction;

export const now = (): string => new Date().toISOString();

/** Rows of `table` that belong to version `n`. */
function inVersion(q: Knex.QueryBuilder, n: number): Knex.QueryBuilder {
  return q.where('version_added', '<=', n).andWhere((w) => w.whereNull('version_removed').orWhere('version_removed', '>', n));
}

// repositories

export async function findRepository(q: Q, name: string): Promise<RepositoryRow | undefined> {
  return q<RepositoryRow>('repositories').where({ name }).first();
}

/** Locks the repository row for the rest of the transaction (PostgreSQL); SQLite has one writer already. */
export async function lockRepository(tx: Knex.Transaction, id: number): Promise<RepositoryRow | undefined> {
  const query = tx<RepositoryRow>('repositories').where({ id }).first();
  if (isPostgres(tx)) query.forUpdate();
  return query;
}

export async function listRepositories(q: Q, opts: { limit: number; after?: string }): Promise<RepositoryRow[]> {
  const query = q<RepositoryRow>('repositories').orderBy('name').limit(opts.limit);
  if (opts.after !== undefined) query.where('name', '>', opts.after);
  return query;
}

export async function insertRepository(q: Q, name: string): Promise<RepositoryRow> {
  const at = now();
  await q('repositories').insert({ name, latest_version: 0, created_at: at, updated_at: at });
  const row = await findRepository(q, name);
  if (!row) throw new Error('repository vanished after insert');
  await q('repository_versions').insert({ repository_id: row.id, number: 0, kind: 'create', import_id: null, created_at: at });
  return row;
}

export async function deleteRepository(q: Q, id: number): Promise<void> {
  await q('repository_tags').where({ repository_id: id }).delete();
  await q('repository_content').where({ repository_id: id }).delete();
  await q('repository_versions').where({ repository_id: id }).delete();
  await q('repositories').where({ id }).delete();
}

export async function insertVersion(
  q: Q,
  repo: RepositoryRow,
  kind: VersionRow['kind'],
  importId: string | null,
): Promise<number> {
  const number = repo.latest_version + 1;
  const at = now();
  await q('repository_versions').insert({ repository_id: repo.id, number, kind, import_id: importId, created_at: at });
  await q('repositories').where({ id: repo.id }).update({ latest_version: number, updated_at: at });
  return number;
}

export async function listVersions(q: Q, repositoryId: number, opts: { limit: number; offset: number }): Promise<VersionRow[]> {
  return q<VersionRow>('repository_versions')
    .where({ repository_id: repositoryId })
    .orderBy('number', 'desc')
    .limit(opts.limit)
    .offset(opts.offset);
}

export async function findVersion(q: Q, repositoryId: number, number: number): Promise<VersionRow | undefined> {
  return q<VersionRow>('repository_versions').where({ repository_id: repositoryId, number }).first();
}

// blobs

export async function insertBlobs(q: Q, blobs: Array<{ digest: string; size: number }>): Promise<void> {
  if (blobs.length === 0) return;
  const at = now();
  for (let i = 0; i < blobs.length; i += 200) {
    const chunk = blobs.slice(i, i + 200).map((b) => ({ digest: b.digest, size: b.size, created_at: at }));
    await q('blobs').insert(chunk).onConflict('digest').ignore();
  }
}

// content

/** Which of `digests` the repository's version `n` holds (as manifest or blob). */
export async function contentIn(q: Q, repositoryId: number, n: number, digests: string[]): Promise<Map<string, ContentRow>> {
  const found = new Map<string, ContentRow>();
  for (let i = 0; i < digests.length; i += 500) {
    const chunk = digests.slice(i, i + 500);
    const rows: ContentRow[] = await inVersion(q('repository_content').where({ repository_id: repositoryId }), n).whereIn('digest', chunk);
    for (const row of rows) found.set(row.digest, row);
  }
  return found;
}

export async function insertContent(
  q: Q,
  repositoryId: number,
  version: number,
  rows: Array<{ digest: string; kind: ContentRow['kind']; media_type: string | null }>,
): Promise<void> {
  for (let i = 0; i < rows.length; i += 200) {
    const chunk = rows.slice(i, i + 200).map((r) => ({ ...r, repository_id: repositoryId, version_added: version, version_removed: null }));
    await q('repository_content').insert(chunk);
  }
}

/** The size of a blob that version `n` of a repository holds, or undefined when it does not hold it. */
export async function findContentBlobSize(q: Q, repositoryId: number, n: number, digest: string): Promise<number | undefined> {
  const row = (await inVersion(
    q('repository_content as c').join('blobs as b', 'b.digest', 'c.digest').where({ 'c.repository_id': repositoryId, 'c.digest': digest }),
    n,
  )
    .first('b.size')) as { size: number | string } | undefined;
  return row === undefined ? undefined : Number(row.size);
}

export async function listContent(q: Q, repositoryId: number, n: number): Promise<Array<ContentRow & { size: number }>> {
  const rows = await inVersion(
    q('repository_content as c').join('blobs as b', 'b.digest', 'c.digest').where('c.repository_id', repositoryId),
    n,
  )
    .select('c.digest', 'c.kind', 'c.media_type', 'c.version_added', 'c.version_removed', 'b.size')
    .orderBy('c.id');
  return rows.map((r: ContentRow & { size: number | string }) => ({ ...r, size: Number(r.size) }));
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

// tags

export async function listTags(q: Q, repositoryId: number, n: number): Promise<TagRow[]> {
  return inVersion(q<TagRow>('repository_tags').where({ repository_id: repositoryId }), n).orderBy('name');
}

export async function findTag(q: Q, repositoryId: number, n: number, name: string): Promise<TagRow | undefined> {
  return inVersion(q<TagRow>('repository_tags').where({ repository_id: repositoryId, name }), n).first();
}

export async function tagChanges(q: Q, repositoryId: number, n: number): Promise<{ added: TagRow[]; removed: TagRow[] }> {
  return {
    added: await q<TagRow>('repository_tags').where({ repository_id: repositoryId, version_added: n }).orderBy('name'),
    removed: await q<TagRow>('repository_tags').where({ repository_id: repositoryId, version_removed: n }).orderBy('name'),
  };
}

/** Closes the open row of `name` (if any) at `version` and opens one pointing at `digest` (if given). */
export async function setTag(q: Q, repositoryId: number, version: number, name: string, digest: string | null): Promise<void> {
  await q('repository_tags').where({ repository_id: repositoryId, name }).whereNull('version_removed').update({ version_removed: version });
  if (digest !== null) {
    await q('repository_tags').insert({ repository_id: repositoryId, name, digest, version_added: version, version_removed: null });
  }
}

// imports

export async function insertImport(q: Q, row: ImportRow): Promise<void> {
  await q('imports').insert(row);
}

export async function updateImport(q: Q, id: string, patch: Partial<ImportRow>): Promise<void> {
  await q('imports').where({ id }).update(patch);
}

/** Ends a running import; false when it is no longer running (another process already ended it). */
export async function finishImport(q: Q, id: string, patch: Partial<ImportRow>): Promise<boolean> {
  return (await q('imports').where({ id, status: 'running' }).update(patch)) > 0;
}

export async function findImport(q: Q, id: string): Promise<ImportRow | undefined> {
  return q<ImportRow>('imports').where({ id }).first();
}

export async function listImports(
  q: Q,
  opts: { repository?: string; status?: string; limit: number; before?: string },
): Promise<ImportRow[]> {
  const query = q<ImportRow>('imports').orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(opts.limit);
  if (opts.repository !== undefined) query.where('repository', opts.repository);
  if (opts.status !== undefined) query.where('status', opts.status);
  if (opts.before !== undefined) query.where('created_at', '<', opts.before);
  return query;
}

/** Marks every running import failed (SQLite: they are all from before this start); returns how many. */
export async function failRunningImports(q: Q, error: string): Promise<number> {
  return q('imports').where({ status: 'running' }).update({ status: 'failed', error, finished_at: now() } as never) as unknown as Promise<number>;
}

/** Of `ids`, the running imports; marks them failed with `error` and returns how many changed. */
export async function failImports(q: Q, ids: string[], error: string): Promise<number> {
  let changed = 0;
  for (let i = 0; i < ids.length; i += 500) {
    changed += (await q('imports')
      .whereIn('id', ids.slice(i, i + 500))
      .where({ status: 'running' })
      .update({ status: 'failed', error, finished_at: now() } as never)) as unknown as number;
  }
  return changed;
}

/** Ids of the imports `instanceId` has running. */
export async function listRunningImportIds(q: Q, instanceId: string): Promise<string[]> {
  const rows: Array<{ id: string }> = await q('imports').where({ status: 'running', instance_id: instanceId }).select('id');
  return rows.map((r) => r.id);
}

/** The status of each of `ids` that has an import row. */
export async function importStatuses(q: Q, ids: string[]): Promise<Map<string, ImportRow['status']>> {
  const found = new Map<string, ImportRow['status']>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows: Array<Pick<ImportRow, 'id' | 'status'>> = await q('imports').whereIn('id', ids.slice(i, i + 500)).select('id', 'status');
    for (const r of rows) found.set(r.id, r.status);
  }
  return found;
}

/**
 * Running imports whose process is gone: their instance has no row with a heartbeat at or after
 * `cutoff` (it stopped, crashed, or never registered). `ownId`'s imports are never among them.
 */
export async function findAbandonedImports(q: Q, cutoff: string, ownId: string): Promise<Array<{ id: string; instance_id: string | null }>> {
  return q('imports as m')
    .where('m.status', 'running')
    .andWhere((w) =>
      w.whereNull('m.instance_id').orWhere((w2) =>
        w2
          .whereNot('m.instance_id', ownId)
          .whereNotExists((sub) => sub.select(q.raw('1')).from('instances as i').whereRaw('i.id = m.instance_id').andWhere('i.heartbeat_at', '>=', cutoff)),
      ),
    )
    .select('m.id', 'm.instance_id');
}

// instances: one row per live process, its heartbeat on the database's clock

/**
 * The database's clock as an ISO-8601 UTC string (PostgreSQL), so that processes on several hosts
 * judge heartbeat ages by one clock. SQLite is one process on one host: its own clock.
 */
export async function databaseNow(q: Q): Promise<string> {
  if (!isPostgres(q)) return now();
  const result: { rows: Array<{ now: string }> } = await q.raw(
    `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS now`,
  );
  return result.rows[0]!.now;
}

/** Inserts the instance's row or moves its heartbeat to now; returns the heartbeat time. */
export async function touchInstance(q: Q, instance: Omit<InstanceRow, 'heartbeat_at'>): Promise<string> {
  const at = await databaseNow(q);
  await q('instances')
    .insert({ ...instance, heartbeat_at: at })
    .onConflict('id')
    .merge(['heartbeat_at']);
  return at;
}

export async function deleteInstance(q: Q, id: string): Promise<void> {
  await q('instances').where({ id }).delete();
}

/** Removes instance rows whose heartbeat is older than `cutoff`; with no cutoff, every row but `keep`'s. */
export async function deleteStaleInstances(q: Q, cutoff: string | undefined, keep?: string): Promise<number> {
  const query = q('instances');
  if (cutoff !== undefined) query.where('heartbeat_at', '<', cutoff);
  if (keep !== undefined) query.whereNot('id', keep);
  return query.delete() as unknown as Promise<number>;
}

// blob-store lock: import commits hold it shared, orphan cleanup exclusive (PostgreSQL advisory
// locks, released with the transaction). SQLite's single connection already runs one transaction at
// a time, so there is nothing to take there.

const BLOB_STORE_LOCK = 0x62657274; // 'bert'

export async function lockBlobStoreShared(tx: Knex.Transaction): Promise<void> {
  if (isPostgres(tx)) await tx.raw('SELECT pg_advisory_xact_lock_shared(?)', [BLOB_STORE_LOCK]);
}

export async function lockBlobStoreExclusive(tx: Knex.Transaction): Promise<void> {
  if (isPostgres(tx)) await tx.raw('SELECT pg_advisory_xact_lock(?)', [BLOB_STORE_LOCK]);
}

/** Blobs that no version of any repository references. */
export async function findOrphanBlobs(q: Q, limit: number): Promise<Array<{ digest: string; size: number }>> {
  const rows: Array<{ digest: string; size: number | string }> = await q('blobs as b')
    .whereNotExists((w) => w.select(q.raw('1')).from('repository_content as c').whereRaw('c.digest = b.digest'))
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

// registry listings (/v2 tags/list and _catalog): names in byte order on both dialects, so that
// `last` pagination is the same everywhere (PostgreSQL would otherwise use the database's collation)

function byteOrder(q: Q, column: string): Knex.Raw {
  return isPostgres(q) ? q.raw('?? COLLATE "C"', [column]) : q.raw('??', [column]);
}

/** Up to `limit` repository names after `after`, in byte order. */
export async function listRepositoryNames(q: Q, opts: { limit: number; after?: string }): Promise<string[]> {
  const query = q('repositories').select('name').orderByRaw(byteOrder(q, 'name')).limit(opts.limit);
  if (opts.after !== undefined) query.where(byteOrder(q, 'name'), '>', opts.after);
  const rows: Array<{ name: string }> = await query;
  return rows.map((r) => r.name);
}

/** Up to `limit` tag names of version `n` after `after`, in byte order. */
export async function listTagNames(q: Q, repositoryId: number, n: number, opts: { limit: number; after?: string }): Promise<string[]> {
  const query = inVersion(q('repository_tags').where({ repository_id: repositoryId }), n)
    .select('name')
    .orderByRaw(byteOrder(q, 'name'))
    .limit(opts.limit);
  if (opts.after !== undefined) query.where(byteOrder(q, 'name'), '>', opts.after);
  const rows: Array<{ name: string }> = await query;
  return rows.map((r) => r.name);
}
