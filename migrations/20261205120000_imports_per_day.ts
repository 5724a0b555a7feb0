// The imports page's chart counts reports per day and status with their bytes: an index holding
// exactly those columns lets both dialects answer it from the index alone, without reading the
// reports' wide rows (manifests, blobs, error).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('imports', (t) => {
    t.index(['created_at', 'status', 'bytes_received'], 'imports_per_day_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('imports', (t) => {
    t.dropIndex(['created_at', 'status', 'bytes_received'], 'imports_per_day_index');
  });
}
