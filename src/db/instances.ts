// Instances: one row per live process, its heartbeat on the database's clock.
import { isPostgres } from './connect.js';
import { type Q, now } from './common.js';
import type { InstanceRow } from './rows.js';

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
