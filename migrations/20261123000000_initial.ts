// Initial schema. Repository content is kept as intervals of versions: a row is in version n when
// version_added <= n and (version_removed is null or version_removed > n). Making a version writes
// rows only for what changed, never a copy of the repository.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('repositories', (t) => {
    t.increments('id').primary();
    t.string('name', 255).notNullable().unique();
    t.integer('latest_version').notNullable().defaultTo(0);
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32).notNullable();
  });

  await knex.schema.createTable('repository_versions', (t) => {
    t.integer('repository_id').notNullable().references('id').inTable('repositories').onDelete('CASCADE');
    t.integer('number').notNullable();
    t.string('kind', 16).notNullable();
    t.string('import_id', 36).nullable();
    t.string('created_at', 32).notNullable();
    t.primary(['repository_id', 'number']);
  });

  await knex.schema.createTable('blobs', (t) => {
    t.string('digest', 71).primary();
    t.bigInteger('size').notNullable();
    t.string('created_at', 32).notNullable();
  });

  await knex.schema.createTable('repository_content', (t) => {
    t.bigIncrements('id').primary();
    t.integer('repository_id').notNullable().references('id').inTable('repositories').onDelete('CASCADE');
    t.string('digest', 71).notNullable().references('digest').inTable('blobs');
    t.string('kind', 8).notNullable();
    t.string('media_type', 255).nullable();
    t.integer('version_added').notNullable();
    t.integer('version_removed').nullable();
    t.index(['repository_id', 'version_added']);
    t.index(['repository_id', 'version_removed']);
    t.index(['digest']);
  });
  await knex.raw(
    'CREATE UNIQUE INDEX repository_content_open ON repository_content (repository_id, digest) WHERE version_removed IS NULL',
  );

  await knex.schema.createTable('repository_tags', (t) => {
    t.bigIncrements('id').primary();
    t.integer('repository_id').notNullable().references('id').inTable('repositories').onDelete('CASCADE');
    t.string('name', 128).notNullable();
    t.string('digest', 71).notNullable();
    t.integer('version_added').notNullable();
    t.integer('version_removed').nullable();
    t.index(['repository_id', 'version_added']);
    t.index(['repository_id', 'version_removed']);
  });
  await knex.raw('CREATE UNIQUE INDEX repository_tags_open ON repository_tags (repository_id, name) WHERE version_removed IS NULL');

  await knex.schema.createTable('imports', (t) => {
    t.string('id', 36).primary();
    t.string('repository', 255).notNullable();
    t.string('status', 16).notNullable();
    t.string('format', 32).nullable();
    t.string('tag', 128).nullable();
    t.integer('version').nullable();
    t.boolean('new_version').nullable();
    t.text('manifests').notNullable();
    t.text('blobs').notNullable();
    t.bigInteger('bytes_received').notNullable().defaultTo(0);
    t.string('created_at', 32).notNullable();
    t.string('finished_at', 32).nullable();
    t.integer('duration_ms').nullable();
    t.text('error').nullable();
    t.string('instance_id', 64).nullable();
    t.index(['repository', 'created_at']);
    t.index(['status', 'created_at']);
    t.index(['created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('imports');
  await knex.schema.dropTableIfExists('repository_tags');
  await knex.schema.dropTableIfExists('repository_content');
  await knex.schema.dropTableIfExists('blobs');
  await knex.schema.dropTableIfExists('repository_versions');
  await knex.schema.dropTableIfExists('repositories');
}
