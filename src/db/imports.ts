// Import (and push) reports: one row per upload, from running to completed or failed.
import type { Knex } from 'knex';
import type { NameFilter } from '../core/policy.js';
import { type Q, now, whereNames } from './common.js';
import { isPostgres } from './connect.js';
import type { ImportRow } from './rows.js';

export async function insertImport(q: Q, row: ImportRow): Promise<void> {
  await q('imports').insert(row);
}

/**
 * Inserts a running import's row without waiting for the disk: a crash may lose it, which costs
 * nothing (the import was never acknowledged, and its staging folder goes with the next start or
 * sweep), and the commit that ends the import is durable and makes everything before it durable too
 * (the SQLite WAL and the PostgreSQL WAL are each written in order and flushed up to the commit).
 * SQLite: the insert runs with `synchronous = NORMAL` on the one connection, held meanwhile so that
 * no other statement runs between the two PRAGMAs; PostgreSQL: `SET LOCAL synchronous_commit = off`.
 */
export async function insertRunningImport(db: Knex, row: ImportRow): Promise<void> {
  if (isPostgres(db)) {
    await db.transaction(async (tx) => {
      await tx.raw('SET LOCAL synchronous_commit = off');
      await tx('imports').insert(row).onConflict('id').ignore();
    });
    return;
  }
  const connection: unknown = await db.client.acquireConnection();
  try {
    await db.raw('PRAGMA synchronous = NORMAL').connection(connection);
    try {
      await db('imports').insert(row).onConflict('id').ignore().connection(connection);
    } finally {
      await db.raw('PRAGMA synchronous = FULL').connection(connection);
    }
  } finally {
    await db.client.releaseConnection(connection);
  }
}

export async function updateImport(q: Q, id: string, patch: Partial<ImportRow>): Promise<void> {
  await q('imports').where({ id }).update(patch);
}

/**
 * Writes an import's end: inserts the whole row, or completes its running row (services/report-row.ts
 * writes that one only for an upload that lasts, and it may still be on its way: it then finds this
 * row and leaves it alone). False when the row exists and is no longer running (another process
 * already ended it): the first outcome recorded stands.
 */
export async function endImport(q: Q, row: ImportRow): Promise<boolean> {
  const { id, repository, created_at, instance_id, actor, ...end } = row;
  const written = await q('imports')
    .insert(row)
    .onConflict('id')
    .merge(Object.keys(end) as Array<keyof typeof end>)
    .where('imports.status', 'running')
    .returning('id');
  return written.length > 0;
}

/** Ends a running import; false when it is no longer running (another process already ended it). */
export async function finishImport(q: Q, id: string, patch: Partial<ImportRow>): Promise<boolean> {
  return (await q('imports').where({ id, status: 'running' }).update(patch)) > 0;
}

export async function findImport(q: Q, id: string): Promise<ImportRow | undefined> {
  return q<ImportRow>('imports').where({ id }).first();
}

/** Which reports a listing takes; every field narrows it. Times are ISO-8601 UTC strings. */
export interface ImportFilter {
  /** the repositories the caller may pull (core/policy.ts pullable) */
  visible: NameFilter;
  repository?: string;
  status?: string;
  format?: string;
  actor?: string;
  /** created at or after this time */
  since?: string;
  /** created before this time */
  before?: string;
}

/** A position in the newest-first order: the reports after it (older) or before it (newer). */
export interface ImportCursor {
  created_at: string;
  id: string;
  direction: 'older' | 'newer';
}

function filtered(q: Q, f: ImportFilter): Knex.QueryBuilder {
  const query = whereNames(q('imports'), 'repository', f.visible);
  if (f.repository !== undefined) query.where('repository', f.repository);
  if (f.status !== undefined) query.where('status', f.status);
  if (f.format !== undefined) query.where('format', f.format);
  if (f.actor !== undefined) query.where('actor', f.actor);
  if (f.since !== undefined) query.where('created_at', '>=', f.since);
  if (f.before !== undefined) query.where('created_at', '<', f.before);
  return query;
}

/**
 * Reports newest first; with a cursor, the `limit` next to it (keyset paging: as fast on the
 * hundredth page as on the first). A `newer` page comes back newest first too.
 */
export async function listImports(q: Q, f: ImportFilter & { limit: number; cursor?: ImportCursor }): Promise<ImportRow[]> {
  const query = filtered(q, f).limit(f.limit);
  const c = f.cursor;
  if (c === undefined) return query.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]);
  const older = c.direction === 'older';
  query
    .where('created_at', older ? '<=' : '>=', c.created_at)
    .andWhere((w) => w.where('created_at', older ? '<' : '>', c.created_at).orWhere('id', older ? '<' : '>', c.id));
  const order = older ? 'desc' : 'asc';
  const rows: ImportRow[] = await query.orderBy([{ column: 'created_at', order }, { column: 'id', order }]);
  return older ? rows : rows.reverse();
}

export interface ImportDay {
  /** YYYY-MM-DD (UTC) */
  day: string;
  status: ImportRow['status'];
  count: number;
  bytes: number;
}

/**
 * Reports per day (UTC) and status, with the bytes they received, oldest day first. Finished reports
 * are read from the counters `imports_daily` (kept by triggers on `imports`: see its migration), so
 * the cost is one row per day and kind of report, not one per report; running ones from `imports`.
 * A time bound that is not the start of a day falls back to counting the reports themselves.
 */
export async function importsPerDay(q: Q, f: ImportFilter): Promise<ImportDay[]> {
  const sinceDay = f.since !== undefined ? dayStart(f.since) : undefined;
  const beforeDay = f.before !== undefined ? dayStart(f.before) : undefined;
  if ((f.since !== undefined && sinceDay === undefined) || (f.before !== undefined && beforeDay === undefined)) return importsPerDayFromReports(q, f);
  const days: ImportDay[] = [];
  if (f.status !== 'running') {
    const query = whereNames(q('imports_daily'), 'repository', f.visible);
    if (f.repository !== undefined) query.where('repository', f.repository);
    if (f.status !== undefined) query.where('status', f.status);
    if (f.format !== undefined) query.where('format', f.format);
    if (f.actor !== undefined) query.where('actor', f.actor);
    if (sinceDay !== undefined) query.where('day', '>=', sinceDay);
    if (beforeDay !== undefined) query.where('day', '<', beforeDay);
    const rows: Array<{ day: string; status: ImportRow['status']; count: number | string; bytes: number | string | null }> = await query
      .select('day', 'status')
      .sum({ count: 'count' })
      .sum({ bytes: 'bytes' })
      .groupBy('day', 'status');
    for (const r of rows) if (Number(r.count) > 0) days.push({ day: r.day, status: r.status, count: Number(r.count), bytes: Number(r.bytes ?? 0) });
  }
  if (f.status === undefined || f.status === 'running') days.push(...(await importsPerDayFromReports(q, { ...f, status: 'running' })));
  return days.sort(byDay);
}

/** The day of an ISO-8601 time that is the start of that day (UTC), else undefined. */
function dayStart(iso: string): string | undefined {
  return /^(\d{4}-\d{2}-\d{2})T00:00:00(?:\.0+)?Z$/.exec(iso)?.[1];
}

const byDay = (a: ImportDay, b: ImportDay): number => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.status < b.status ? -1 : a.status > b.status ? 1 : 0);

/** The same answer counted from the reports themselves (any time bounds; the running reports). */
export async function importsPerDayFromReports(q: Q, f: ImportFilter): Promise<ImportDay[]> {
  const day = 'substr(created_at, 1, 10)';
  const rows: Array<{ day: string; status: ImportRow['status']; count: number | string; bytes: number | string | null }> = await filtered(q, f)
    .select(q.raw(`${day} as day`), 'status')
    .count({ count: '*' })
    .sum({ bytes: 'bytes_received' })
    .groupByRaw(`${day}, status`);
  // Sorted here rather than in SQL, so that the database may group by hashing.
  return rows.map((r) => ({ day: r.day, status: r.status, count: Number(r.count), bytes: Number(r.bytes ?? 0) })).sort(byDay);
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
