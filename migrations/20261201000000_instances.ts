// Live Berth processes. Each one upserts its row every few seconds (heartbeat_at, on the database's
// clock) and deletes it on a clean stop; an import whose instance_id has no fresh row here belongs to
// a process that is gone, so any process may fail it (INTERRUPTED) and remove its staging folder.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('instances', (t) => {
    t.string('id', 64).primary();
    t.string('hostname', 255).notNullable();
    t.integer('pid').notNullable();
    t.string('started_at', 32).notNullable();
    t.string('heartbeat_at', 32).notNullable();
    t.index(['heartbeat_at']);
  });
  await knex.schema.alterTable('imports', (t) => {
    t.index(['status', 'instance_id'], 'imports_status_instance_id_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('imports', (t) => {
    t.dropIndex(['status', 'instance_id'], 'imports_status_instance_id_index');
  });
  await knex.schema.dropTableIfExists('instances');
}
