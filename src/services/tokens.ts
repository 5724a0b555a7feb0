// Tokens with scopes: admins make them (the secret is shown once, stored only as its SHA-256), list
// them and revoke them; every request presenting one is looked up by the hash of what it presents,
// with nothing cached between requests, so a revocation holds at once in every process.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ACTIONS, type Action, isPattern, type Principal, type Scope } from '../core/policy.js';
import { now } from '../db/common.js';
import type { Db } from '../db/connect.js';
import type { TokenRow } from '../db/rows.js';
import * as tokensDb from '../db/tokens.js';
import { BerthError } from '../errors.js';
import type { Services } from './deps.js';

/** Every secret starts with this, so a leaked one is recognisable (secret scanners, logs). */
export const SECRET_PREFIX = 'berth_';
/** 32 random bytes (256 bits), base64url: 43 characters after the prefix. */
const SECRET = /^berth_[A-Za-z0-9_-]{43}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;
/** How often `last_used_at` is written per token and process, at most. */
const LAST_USED_EVERY_MS = 60_000;

export interface TokenView {
  id: number;
  name: string;
  scopes: Scope[];
  created_by: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** What POST /api/v1/tokens answers: the token and, this once, its secret. */
export interface NewToken extends TokenView {
  secret: string;
}

const invalid = (field: string, message: string) => new BerthError('BODY_INVALID', message, { field });

function tokenView(row: TokenRow): TokenView {
  return {
    id: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as Scope[],
    created_by: row.created_by,
    created_at: row.created_at,
    expires_at: row.expires_at,
    last_used_at: row.last_used_at,
    revoked_at: row.revoked_at,
  };
}

const hashOf = (secret: string): Buffer => createHash('sha256').update(secret).digest();

function parseScopes(value: unknown): Scope[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid('scopes', 'scopes must be a non-empty array');
  if (value.length > 100) throw invalid('scopes', 'a token has at most 100 scopes');
  return value.map((scope: unknown, i): Scope => {
    const field = `scopes[${i}]`;
    if (typeof scope !== 'object' || scope === null || Array.isArray(scope)) throw invalid(field, 'a scope is an object { repositories, actions }');
    const extra = Object.keys(scope).find((k) => k !== 'repositories' && k !== 'actions');
    if (extra !== undefined) throw invalid(`${field}.${extra.slice(0, 50)}`, 'unknown scope field');
    const { repositories, actions } = scope as { repositories?: unknown; actions?: unknown };
    if (!isPattern(repositories)) {
      throw invalid(`${field}.repositories`, 'repositories must be a repository name, a name followed by /* (everything below it), or *');
    }
    if (!Array.isArray(actions) || actions.length === 0) throw invalid(`${field}.actions`, 'actions must be a non-empty array');
    actions.forEach((action: unknown, j) => {
      if (!(ACTIONS as readonly unknown[]).includes(action)) throw invalid(`${field}.actions[${j}]`, `unknown action; the actions are ${ACTIONS.join(', ')}`);
    });
    return { repositories, actions: [...new Set(actions as Action[])] };
  });
}

function parseExpiry(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const at = typeof value === 'string' && TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) throw invalid('expires_at', 'expires_at must be an RFC 3339 time such as 2027-01-31T00:00:00Z');
  if (at <= Date.now()) throw invalid('expires_at', 'expires_at is in the past');
  return new Date(at).toISOString();
}

function parseName(value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value)) throw invalid('name', 'name must be 1 to 64 of A-Z a-z 0-9 . _ - and start with a letter or digit');
  if (value === 'admin') throw new BerthError('TOKEN_EXISTS', 'a token with this name exists: admin is the built-in admin token', { field: 'name', name: value });
  return value;
}

/** Makes a token: `201` with the secret, which is never shown again. */
export async function createToken(s: Services, body: Record<string, unknown>, actor: string): Promise<NewToken> {
  const extra = Object.keys(body).find((k) => !['name', 'scopes', 'expires_at'].includes(k));
  if (extra !== undefined) throw invalid(extra.slice(0, 50), 'unknown field; a token takes name, scopes and expires_at');
  const name = parseName(body.name);
  const scopes = parseScopes(body.scopes);
  const expiresAt = parseExpiry(body.expires_at);
  const exists = () => new BerthError('TOKEN_EXISTS', 'a token with this name exists (names stay taken after a revocation)', { field: 'name', name });
  if (await tokensDb.findTokenByName(s.db, name)) throw exists();
  const secret = `${SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
  let row: TokenRow;
  try {
    row = await tokensDb.insertToken(s.db, {
      name,
      secret_hash: hashOf(secret).toString('hex'),
      scopes: JSON.stringify(scopes),
      created_by: actor,
      created_at: now(),
      expires_at: expiresAt,
      last_used_at: null,
      revoked_at: null,
    });
  } catch (err) {
    // Another request made a token of this name between our check and insert.
    if (/unique|duplicate/i.test(String((err as Error).message))) throw exists();
    throw err;
  }
  return { ...tokenView(row), secret };
}

export async function listTokens(s: Pick<Services, 'db'>): Promise<TokenView[]> {
  return (await tokensDb.listTokens(s.db)).map(tokenView);
}

/** Revokes a token: from now on its secret authenticates nothing. Revoking a revoked token changes nothing. */
export async function revokeToken(s: Pick<Services, 'db'>, rawId: string): Promise<void> {
  const id = /^\d{1,9}$/.test(rawId) ? Number(rawId) : undefined;
  if (id === undefined || !(await tokensDb.revokeToken(s.db, id, now()))) {
    throw new BerthError('TOKEN_UNKNOWN', 'no token with this id', { id: rawId.slice(0, 50) });
  }
}

/** When each token's last use was last written, per database (tests run several servers in one process). */
const lastWritten = new WeakMap<Db, Map<number, number>>();

/**
 * The principal a secret belongs to: a token that is neither revoked nor expired. Looked up by the
 * hash (indexed), then compared in constant time; a secret that cannot be one of ours costs no query.
 */
export async function principalForSecret(s: Pick<Services, 'db' | 'log'>, secret: string): Promise<Principal | undefined> {
  if (!SECRET.test(secret)) return undefined;
  const hash = hashOf(secret);
  const row = await tokensDb.findTokenByHash(s.db, hash.toString('hex'));
  if (!row || !timingSafeEqual(Buffer.from(row.secret_hash, 'hex'), hash)) return undefined;
  const at = Date.now();
  if (row.revoked_at !== null || (row.expires_at !== null && Date.parse(row.expires_at) <= at)) return undefined;
  let written = lastWritten.get(s.db);
  if (!written) lastWritten.set(s.db, (written = new Map()));
  if (at - (written.get(row.id) ?? 0) >= LAST_USED_EVERY_MS) {
    written.set(row.id, at);
    // A missed write only leaves last_used_at older; the request goes on.
    await tokensDb.touchToken(s.db, row.id, new Date(at).toISOString()).catch((err: unknown) => s.log.warn({ token: row.name, err }, 'could not record a token use'));
  }
  return { name: row.name, scopes: JSON.parse(row.scopes) as Scope[] };
}
