// Who is calling, and may they do what the route declares. One authentication for /api (Bearer) and
// /v2 (Basic with the token as the password, as docker/podman/skopeo login send, or Bearer), and one
// authorization step that asks core/policy.ts for the action each route declares.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { ADMIN, type Action, decide, type Principal } from '../core/policy.js';
import { BerthError } from '../errors.js';
import type { Services } from '../services/deps.js';
import { principalForSecret } from '../services/tokens.js';

/** Turns a presented secret into the principal it belongs to, or undefined for an unknown secret. */
export type Authenticator = (secret: string) => Promise<Principal | undefined>;

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Compares two secrets in constant time (of the hashes, so lengths leak nothing either). */
export function secretMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(sha256(presented), sha256(expected));
}

/** The built-in admin token (actor `admin`), or a token an admin made that is neither revoked nor expired. */
export function tokenAuthenticator(s: Pick<Services, 'db' | 'log'>, adminToken: string): Authenticator {
  return async (secret) => (secretMatches(secret, adminToken) ? ADMIN : principalForSecret(s, secret));
}

/** The secret an Authorization header presents, or undefined when it presents none Berth reads. */
function presentedSecret(header: string, allowBasic: boolean): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) return bearer[1];
  if (!allowBasic) return undefined;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

/**
 * Sets `ctx.state.principal` from the Authorization header, or fails UNAUTHORIZED. `/v2` takes Basic
 * too; a secret in a query string is never read. /api also takes the web pages' session cookie, but
 * only with its CSRF token (http/ui/session.ts).
 */
export function authenticate(
  authn: Authenticator,
  opts: {
    allowBasic: boolean;
    /** without an Authorization header: the web pages' session (cookie plus CSRF token), if any */
    session?: (ctx: Context) => Promise<Principal | undefined>;
  },
) {
  const hint = opts.allowBasic ? 'authentication required' : 'authentication required: Authorization: Bearer <token>';
  return async (ctx: Context, next: Next): Promise<void> => {
    const header = ctx.get('Authorization');
    if (header === '') {
      const principal = opts.session ? await opts.session(ctx) : undefined;
      if (!principal) throw new BerthError('UNAUTHORIZED', hint, null);
      ctx.state.principal = principal;
      return next();
    }
    const secret = presentedSecret(header, opts.allowBasic);
    const principal = secret === undefined ? undefined : await authn(secret);
    if (!principal) throw new BerthError('UNAUTHORIZED', opts.allowBasic ? 'invalid credentials' : 'invalid token', null);
    ctx.state.principal = principal;
    await next();
  };
}

export function principalOf(ctx: Context): Principal {
  const principal = ctx.state.principal as Principal | undefined;
  if (!principal) throw new Error('route reached without authentication');
  return principal;
}

/**
 * Fails unless the caller may do `action` on `repository`: `403 DENIED`, or `404 NAME_UNKNOWN` when
 * it may not even pull the repository (so that names do not leak).
 */
export function authorize(ctx: Context, action: Action, repository?: string): Principal {
  const principal = principalOf(ctx);
  const answer = decide(principal, action, repository);
  if (answer === 'hide') throw new BerthError('NAME_UNKNOWN', 'repository not found', { name: repository ?? null });
  if (answer === 'deny') throw new BerthError('DENIED', `this token may not ${action}${repository !== undefined ? ' this repository' : ''}`, { action });
  return principal;
}
