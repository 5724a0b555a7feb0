// Blobs held for a repository outside its versions, and who made each change.
// - held_blobs: a blob a repository holds before any of its versions references it (a pushed or
//   mounted blob, a blob that arrived whole in an import that then failed). It counts for that
//   repository's ownership rule until `expires_at`; orphan cleanup keeps its blob until then.
// - actor on versions and reports: the name of the token that made the change.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('held_blobs', (t) => {
    t.integer('repository_id').notNullable().references('id').inTable('repositories').onDelete('CASCADE');
    t.string('digest', 71).notNullable().references('digest').inTable('blobs');
    t.string('source', 16).notNullable();
    t.string('held_at', 32).notNullable();
    t.string('expires_at', 32).notNullable();
    t.primary(['repository_id', 'digest']);
    t.index(['digest']);
    t.index(['expires_at']);
  });
  await knex.schema.alterTable('repository_versions', (t) => {
    t.string('actor', 128).nullable();
  });
  await knex.schema.alterTable('imports', (t) => {
    t.string('actor', 128).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('imports', (t) => {
    t.dropColumn('actor');
  });
  await knex.schema.alterTable('repository_versions', (t) => {
    t.dropColumn('actor');
  });
  await knex.schema.dropTableIfExists('held_blobs');
}
