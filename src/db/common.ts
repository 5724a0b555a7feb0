// What the query files share: the handle type, timestamps, the version-interval filter and byte-order
// sorting. Each query function takes the knex handle or transaction it runs in, so a service owns the
// transaction and a change writes exactly one version.
import type { Knex } from 'knex';
import type { NameFilter } from '../core/policy.js';
import { isPostgres } from './connect.js';

export type Q = Knex | Knex.Transaction;

export const now = (): string => new Date().toISOString();

/**
 * A repository version: its number, or `'latest'`. The latest version's rows are exactly the open
 * ones (`version_removed IS NULL`), which the partial indexes `repository_tags_open` and
 * `repository_content_open` cover, so a read of the latest version costs the same at 10 versions and at
 * 10,000; a past version needs the interval test.
 */
export type At = number | 'latest';

/**
 * Rows of a content or tag table that belong to version `n`. For a past version the `version_added`
 * test is written `+version_added` so that neither planner picks the `version_added` index for it
 * (a range over every row added before `n`, then a sort): the query is led by the index that gives
 * its order (name, or kind and id) and stops after one page.
 */
export function inVersion(q: Knex.QueryBuilder, n: At): Knex.QueryBuilder {
  if (n === 'latest') return q.whereNull('version_removed');
  return q.whereRaw('+?? <= ?', ['version_added', n]).andWhere((w) => w.whereNull('version_removed').orWhere('version_removed', '>', n));
}

/**
 * `column` sorted in byte order on both dialects (PostgreSQL would otherwise use the database's
 * collation), so that `last` pagination of /v2 listings is the same everywhere.
 */
export function byteOrder(q: Q, column: string): Knex.Raw {
  return isPostgres(q) ? q.raw('?? COLLATE "C"', [column]) : q.raw('??', [column]);
}

/** Only rows whose `column` (a repository name) passes `filter`: all, or exact names and prefixes. */
export function whereNames<Q extends Knex.QueryBuilder>(query: Q, column: string, filter: NameFilter): Q {
  if (filter.all) return query;
  return query.where((w) => {
    w.whereRaw('1 = 0');
    if (filter.exact.length > 0) w.orWhereIn(column, filter.exact);
    for (const prefix of filter.prefixes) w.orWhereRaw('substr(??, 1, ?) = ?', [column, prefix.length, prefix]);
  }) as Q;
}
