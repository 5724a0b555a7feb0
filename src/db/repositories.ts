// Repositories: one row per repository, with the number of its latest version.
import type { Knex } from 'knex';
import { isPostgres } from './connect.js';
import type { NameFilter } from '../core/policy.js';
import { type Q, now, byteOrder, whereNames } from './common.js';
import type { RepositoryRow } from './rows.js';

export async function findRepository(q: Q, name: string): Promise<RepositoryRow | undefined> {
  return q<RepositoryRow>('repositories').where({ name }).first();
}

/** Locks the repository row for the rest of the transaction (PostgreSQL); SQLite has one writer already. */
export async function lockRepository(tx: Knex.Transaction, id: number): Promise<RepositoryRow | undefined> {
  const query = tx<RepositoryRow>('repositories').where({ id }).first();
  if (isPostgres(tx)) query.forUpdate();
  return query;
}

export async function listRepositories(q: Q, opts: { limit: number; after?: string; visible: NameFilter }): Promise<RepositoryRow[]> {
  const query = whereNames(q<RepositoryRow>('repositories'), 'name', opts.visible).orderBy('name').limit(opts.limit);
  if (opts.after !== undefined) query.where('name', '>', opts.after);
  return query;
}

/** Inserts a repository row at latest_version 0; its version 0 is written by the commit service. */
export async function insertRepository(q: Q, name: string, at: string): Promise<RepositoryRow> {
  await q('repositories').insert({ name, latest_version: 0, created_at: at, updated_at: at });
  const row = await findRepository(q, name);
  if (!row) throw new Error('repository vanished after insert');
  return row;
}

/** Moves the repository's latest version. */
export async function setLatestVersion(q: Q, id: number, number: number, at: string): Promise<void> {
  await q('repositories').where({ id }).update({ latest_version: number, updated_at: at });
}

export async function deleteRepository(q: Q, id: number): Promise<void> {
  await q('held_blobs').where({ repository_id: id }).delete();
  await q('repository_tags').where({ repository_id: id }).delete();
  await q('repository_content').where({ repository_id: id }).delete();
  await q('repository_versions').where({ repository_id: id }).delete();
  await q('repositories').where({ id }).delete();
}

/** Up to `limit` repository names after `after` that `visible` lets through, in byte order. */
export async function listRepositoryNames(q: Q, opts: { limit: number; after?: string; visible: NameFilter }): Promise<string[]> {
  const query = whereNames(q('repositories'), 'name', opts.visible).select('name').orderByRaw(byteOrder(q, 'name')).limit(opts.limit);
  if (opts.after !== undefined) query.where(byteOrder(q, 'name'), '>', opts.after);
  const rows: Array<{ name: string }> = await query;
  return rows.map((r) => r.name);
}
