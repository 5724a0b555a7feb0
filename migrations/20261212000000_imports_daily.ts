// The imports page's chart of reports per day and outcome, kept as counts: `imports_daily` holds,
// for each day (UTC, the first ten characters of `created_at`), repository, status, format and actor,
// how many finished reports (completed or failed) there are and the bytes they received. Triggers on
// `imports` keep it exact whatever statement changes a report — insert, finish, the sweeps that fail
// many at once, delete — in the same transaction, on SQLite and PostgreSQL alike. Running reports are
// not counted here (they are few and change often; the chart counts them from `imports` itself), so
// starting an import touches no counter. The chart then reads one row per day and kind instead of one
// per report: 10,000 reports of one day are a handful of rows. It replaces imports_per_day_index,
// which only the chart read.
import type { Knex } from 'knex';

const KEY = ['day', 'repository', 'status', 'format', 'actor'] as const;

/** `row` (NEW or OLD) as the counter's key columns. */
const keyOf = (row: string) => `substr(${row}.created_at, 1, 10), ${row}.repository, ${row}.status, coalesce(${row}.format, ''), coalesce(${row}.actor, '')`;
const matches = (row: string) =>
  `day = substr(${row}.created_at, 1, 10) AND repository = ${row}.repository AND status = ${row}.status AND format = coalesce(${row}.format, '') AND actor = coalesce(${row}.actor, '')`;
const add = (row: string, table = 'imports_daily') =>
  `INSERT INTO imports_daily (${KEY.join(', ')}, count, bytes) VALUES (${keyOf(row)}, 1, ${row}.bytes_received)
   ON CONFLICT (${KEY.join(', ')}) DO UPDATE SET count = ${table}.count + 1, bytes = ${table}.bytes + excluded.bytes`;
const remove = (row: string) => `UPDATE imports_daily SET count = count - 1, bytes = bytes - ${row}.bytes_received WHERE ${matches(row)}`;
/** the columns a counter depends on: an update of any other (error, finished_at…) fires nothing */
const COUNTED = 'status, bytes_received, format, actor, created_at, repository';

export async function up(knex: Knex): Promise<void> {
  const pg = knex.client.config.client === 'pg';
  await knex.schema.createTable('imports_daily', (t) => {
    t.string('day', 10).notNullable();
    t.string('repository', 255).notNullable();
    t.string('status', 16).notNullable();
    t.string('format', 32).notNullable();
    t.string('actor', 128).notNullable();
    t.bigInteger('count').notNullable();
    t.bigInteger('bytes').notNullable();
    t.primary([...KEY]);
  });
  if (pg) {
    await knex.raw(`
      CREATE FUNCTION imports_daily_count() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP <> 'INSERT' THEN
          IF OLD.status <> 'running' THEN ${remove('OLD')}; END IF;
        END IF;
        IF TG_OP <> 'DELETE' THEN
          IF NEW.status <> 'running' THEN ${add('NEW')}; END IF;
        END IF;
        RETURN NULL;
      END $$`);
    await knex.raw('CREATE TRIGGER imports_daily_insert_delete AFTER INSERT OR DELETE ON imports FOR EACH ROW EXECUTE FUNCTION imports_daily_count()');
    await knex.raw(`CREATE TRIGGER imports_daily_update AFTER UPDATE OF ${COUNTED} ON imports FOR EACH ROW EXECUTE FUNCTION imports_daily_count()`);
  } else {
    await knex.raw(`CREATE TRIGGER imports_daily_insert AFTER INSERT ON imports WHEN NEW.status <> 'running' BEGIN ${add('NEW')}; END`);
    await knex.raw(`CREATE TRIGGER imports_daily_update_old AFTER UPDATE OF ${COUNTED} ON imports WHEN OLD.status <> 'running' BEGIN ${remove('OLD')}; END`);
    await knex.raw(`CREATE TRIGGER imports_daily_update_new AFTER UPDATE OF ${COUNTED} ON imports WHEN NEW.status <> 'running' BEGIN ${add('NEW')}; END`);
    await knex.raw(`CREATE TRIGGER imports_daily_delete AFTER DELETE ON imports WHEN OLD.status <> 'running' BEGIN ${remove('OLD')}; END`);
  }
  // The reports there are already.
  await knex.raw(`
    INSERT INTO imports_daily (${KEY.join(', ')}, count, bytes)
    SELECT substr(created_at, 1, 10), repository, status, coalesce(format, ''), coalesce(actor, ''), count(*), coalesce(sum(bytes_received), 0)
    FROM imports WHERE status <> 'running'
    GROUP BY substr(created_at, 1, 10), repository, status, coalesce(format, ''), coalesce(actor, '')`);
  await knex.schema.alterTable('imports', (t) => {
    t.dropIndex(['created_at', 'status', 'bytes_received'], 'imports_per_day_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  const pg = knex.client.config.client === 'pg';
  await knex.schema.alterTable('imports', (t) => {
    t.index(['created_at', 'status', 'bytes_received'], 'imports_per_day_index');
  });
  if (pg) {
    await knex.raw('DROP TRIGGER IF EXISTS imports_daily_update ON imports');
    await knex.raw('DROP TRIGGER IF EXISTS imports_daily_insert_delete ON imports');
    await knex.raw('DROP FUNCTION IF EXISTS imports_daily_count()');
  } else {
    for (const name of ['imports_daily_insert', 'imports_daily_update_old', 'imports_daily_update_new', 'imports_daily_delete']) {
      await knex.raw(`DROP TRIGGER IF EXISTS ${name}`);
    }
  }
  await knex.schema.dropTable('imports_daily');
}
