// /v2: the OCI distribution API. One dispatcher, because repository names contain '/' (paths.ts reads
// a path from the right). The route table states, for each endpoint and method, the action it needs
// (asked of core/policy.ts before the handler runs) and its handler; an endpoint's method that Berth
// does not serve yet answers 405 UNSUPPORTED from its own row.
import type { Context, Middleware, Next } from 'koa';
import compose from 'koa-compose';
import type { Action } from '../../core/policy.js';
import { BerthError } from '../../errors.js';
import type { Services } from '../../services/deps.js';
import { type Authenticator, authenticate, authorize } from '../auth.js';
import { ociErrors } from './errors.js';
import { catalog, getBlob, getManifest, listTags } from './handlers.js';
import { parseRegistryPath, type RegistryRoute } from './paths.js';

type Kind = RegistryRoute['kind'];
type Handler = (s: Services, ctx: Context, route: RegistryRoute) => Promise<void>;

export interface RegistryMethod {
  action: Action;
  /** the handler, or undefined for a method this registry does not serve yet (405) */
  handle?: Handler;
}

/** Methods Berth serves on each endpoint, so a 405 can say what is allowed. */
const nameOf = (route: RegistryRoute): string | undefined => ('name' in route ? route.name : undefined);

const pull = (handle: Handler): RegistryMethod => ({ action: 'pull', handle });
const notYet = (action: Action): RegistryMethod => ({ action });

export const REGISTRY_ROUTES: Record<Kind, Partial<Record<string, RegistryMethod>>> = {
  base: {
    GET: pull(async (_s, ctx) => {
      ctx.body = {};
    }),
  },
  catalog: { GET: pull((s, ctx) => catalog(s, ctx)) },
  manifest: {
    GET: pull((s, ctx, r) => getManifest(s, ctx, nameOf(r)!, (r as Extract<RegistryRoute, { kind: 'manifest' }>).reference)),
    PUT: notYet('push'),
    DELETE: notYet('delete'),
  },
  blob: {
    GET: pull((s, ctx, r) => getBlob(s, ctx, nameOf(r)!, (r as Extract<RegistryRoute, { kind: 'blob' }>).digest)),
    DELETE: notYet('delete'),
  },
  upload: { POST: notYet('push'), PATCH: notYet('push'), PUT: notYet('push'), GET: notYet('push'), DELETE: notYet('push') },
  tags: { GET: pull((s, ctx, r) => listTags(s, ctx, nameOf(r)!)) },
};

/** What serves `method` on a route kind: HEAD is served as GET is (Koa drops the body). */
function methodOf(kind: Kind, method: string): RegistryMethod | undefined {
  const row = REGISTRY_ROUTES[kind];
  return row[method] ?? (method === 'HEAD' ? row.GET : undefined);
}

function allowed(kind: Kind): string {
  const served = Object.entries(REGISTRY_ROUTES[kind]).filter(([, m]) => m?.handle).map(([name]) => name);
  if (served.includes('GET')) served.splice(served.indexOf('GET') + 1, 0, 'HEAD');
  return served.join(', ');
}

function dispatch(s: Services) {
  return async (ctx: Context): Promise<void> => {
    const route = parseRegistryPath(ctx.path);
    if (!route) throw new BerthError('NOT_FOUND', 'no such endpoint', { method: ctx.method, path: ctx.path });
    const entry = methodOf(route.kind, ctx.method);
    if (entry) authorize(ctx, entry.action, nameOf(route));
    if (!entry?.handle) {
      throw new BerthError('METHOD_NOT_ALLOWED', 'this registry does not serve this method here yet', { method: ctx.method }, { headers: { Allow: allowed(route.kind) } });
    }
    await entry.handle(s, ctx, route);
  };
}

/** Everything under /v2, from the API version header to the handlers. */
export function registryStack(s: Services, authn: Authenticator): Middleware {
  return compose<Context>([
    async (ctx: Context, next: Next) => {
      ctx.set('Docker-Distribution-API-Version', 'registry/2.0');
      await next();
    },
    ociErrors(s.log),
    authenticate(authn, { allowBasic: true }),
    dispatch(s),
  ]);
}
