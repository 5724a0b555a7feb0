// Tokens: one row per token an admin made, found by the hash of its secret.
import type { Q } from './common.js';
import type { TokenRow } from './rows.js';

export async function insertToken(q: Q, row: Omit<TokenRow, 'id'>): Promise<TokenRow> {
  await q('tokens').insert(row);
  const inserted = await q<TokenRow>('tokens').where({ secret_hash: row.secret_hash }).first();
  if (!inserted) throw new Error('token vanished after insert');
  return inserted;
}

export async function findTokenByName(q: Q, name: string): Promise<TokenRow | undefined> {
  return q<TokenRow>('tokens').where({ name }).first();
}

export async function findTokenByHash(q: Q, secretHash: string): Promise<TokenRow | undefined> {
  return q<TokenRow>('tokens').where({ secret_hash: secretHash }).first();
}

export async function findToken(q: Q, id: number): Promise<TokenRow | undefined> {
  return q<TokenRow>('tokens').where({ id }).first();
}

/** Every token, oldest first. */
export async function listTokens(q: Q): Promise<TokenRow[]> {
  return q<TokenRow>('tokens').orderBy('id');
}

/** Revokes a token at `at` (a revoked one keeps its first revocation time); false when there is no such token. */
export async function revokeToken(q: Q, id: number, at: string): Promise<boolean> {
  await q('tokens').where({ id }).whereNull('revoked_at').update({ revoked_at: at });
  return (await findToken(q, id)) !== undefined;
}

export async function touchToken(q: Q, id: number, at: string): Promise<void> {
  await q('tokens').where({ id }).update({ last_used_at: at });
}
