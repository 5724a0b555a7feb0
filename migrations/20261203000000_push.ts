// The registry's write side: upload sessions (a resumable blob upload, its bytes in
// staging/uploads/<id>/data, so any process can continue it and it survives a restart), and what a
// manifest's referrers listing needs to know of each manifest a version holds (its subject,
// artifact type and annotations).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('upload_sessions', (t) => {
    t.string('id', 36).primary();
    t.integer('repository_id').notNullable().references('id').inTable('repositories').onDelete('CASCADE');
    t.bigInteger('size').notNullable().defaultTo(0);
    t.string('actor', 128).nullable();
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32).notNullable();
    t.index(['updated_at']);
  });
  await knex.schema.alterTable('repository_content', (t) => {
    t.string('subject', 71).nullable();
    t.string('artifact_type', 255).nullable();
    t.text('annotations').nullable();
    t.index(['repository_id', 'subject'], 'repository_content_subject_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('repository_content', (t) => {
    t.dropIndex(['repository_id', 'subject'], 'repository_content_subject_index');
    t.dropColumn('annotations');
    t.dropColumn('artifact_type');
    t.dropColumn('subject');
  });
  await knex.schema.dropTableIfExists('upload_sessions');
}
