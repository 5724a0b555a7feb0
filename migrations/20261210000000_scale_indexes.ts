// Indexes that keep reads of one version at one page's cost however many versions, tags and blobs a
// repository has: tags by (repository, name) and content by (repository, kind, id), each also as a
// partial index over the open rows (the latest version). PostgreSQL sorts tag names in byte order
// (COLLATE "C", as /v2 tag paging requires), so its tag indexes are built in that collation.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  const pg = knex.client.config.client === 'pg';
  const name = pg ? 'name COLLATE "C"' : 'name';
  await knex.raw(`CREATE INDEX repository_tags_name ON repository_tags (repository_id, ${name})`);
  await knex.raw(`CREATE INDEX repository_tags_open_name ON repository_tags (repository_id, ${name}) WHERE version_removed IS NULL`);
  await knex.raw('CREATE INDEX repository_content_kind ON repository_content (repository_id, kind, id)');
  await knex.raw('CREATE INDEX repository_content_open_kind ON repository_content (repository_id, kind, id) WHERE version_removed IS NULL');
}

export async function down(knex: Knex): Promise<void> {
  for (const index of ['repository_content_open_kind', 'repository_content_kind', 'repository_tags_open_name', 'repository_tags_name']) {
    await knex.raw(`DROP INDEX IF EXISTS ${index}`);
  }
}
