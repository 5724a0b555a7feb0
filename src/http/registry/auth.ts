// Authentication for /v2: what OCI clients send. Basic with any user name and the token as the
// password (docker login, skopeo --creds, podman), or Bearer with the token itself.
import type { Context, Next } from 'koa';
import { BerthError } from '../../errors.js';
import { tokenMatches } from '../middleware.js';

/** The token a request presents, or undefined when it presents none in a form Berth reads. */
function presentedToken(header: string): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

/** Every /v2 request needs the admin token; per-repository scopes come with scoped tokens. */
export function requireRegistryAuth(adminToken: string) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const header = ctx.get('Authorization');
    if (header === '') throw new BerthError('UNAUTHORIZED', 'authentication required', null);
    const token = presentedToken(header);
    if (token === undefined || !tokenMatches(token, adminToken)) throw new BerthError('UNAUTHORIZED', 'invalid credentials', null);
    await next();
  };
}
