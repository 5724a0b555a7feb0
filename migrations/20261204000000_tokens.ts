// Tokens with scopes: one row per token an admin made. The secret itself is never stored, only its
// SHA-256 (hex), looked up through a unique index; `scopes` is JSON text
// (`[{ "repositories": "team/*", "actions": ["pull", "push"] }]`). A token is usable while it is not
// revoked and `expires_at` is null or later than now. `last_used_at` is written at most about once a
// minute per token and process.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tokens', (t) => {
    t.increments('id').primary();
    t.string('name', 64).notNullable().unique();
    t.string('secret_hash', 64).notNullable().unique();
    t.text('scopes').notNullable();
    t.string('created_by', 64).notNullable();
    t.string('created_at', 32).notNullable();
    t.string('expires_at', 32).nullable();
    t.string('last_used_at', 32).nullable();
    t.string('revoked_at', 32).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('tokens');
}
