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
import * as push from './push.js';

type Kind = RegistryRoute['kind'];
type Handler = (s: Services, ctx: Context, route: RegistryRoute) => Promise<void>;

export interface RegistryMethod {
  action: Action;
  /** the handler, or undefined for a method this registry does not serve yet (405) */
  handle?: Handler;
}

/** Methods Berth serves on each endpoint, so a 405 can say what is allowed. */
const nameOf = (route: RegistryRoute): string | undefined => ('name' in route ? route.name : undefined);

type Route<K extends Kind> = Extract<RegistryRoute, { kind: K }>;
/** A row's handler, typed by the route kind it serves. */
function on<K extends Kind>(action: Action, handle: (s: Services, ctx: Context, route: Route<K>) => Promise<void>): RegistryMethod {
  return { action, handle: handle as Handler };
}
const notServed = (action: Action): RegistryMethod => ({ action });

export const REGISTRY_ROUTES: Record<Kind, Partial<Record<string, RegistryMethod>>> = {
  base: {
    GET: on('pull', async (_s, ctx) => {
      ctx.body = {};
    }),
  },
  catalog: { GET: on('pull', (s, ctx) => catalog(s, ctx)) },
  manifest: {
    GET: on<'manifest'>('pull', (s, ctx, r) => getManifest(s, ctx, r.name, r.reference)),
    PUT: on<'manifest'>('push', (s, ctx, r) => push.putManifest(s, ctx, r.name, r.reference)),
    DELETE: on<'manifest'>('delete', (s, ctx, r) => push.deleteManifest(s, ctx, r.name, r.reference)),
  },
  blob: {
    GET: on<'blob'>('pull', (s, ctx, r) => getBlob(s, ctx, r.name, r.digest)),
    // Blobs leave a repository with the manifests that use them, through orphan cleanup.
    DELETE: notServed('delete'),
  },
  uploads: { POST: on<'uploads'>('push', (s, ctx, r) => push.startUpload(s, ctx, r.name)) },
  upload: {
    PATCH: on<'upload'>('push', (s, ctx, r) => push.patchUpload(s, ctx, r.name, r.id)),
    PUT: on<'upload'>('push', (s, ctx, r) => push.finishUpload(s, ctx, r.name, r.id)),
    GET: on<'upload'>('push', (s, ctx, r) => push.uploadStatus(s, ctx, r.name, r.id)),
    DELETE: on<'upload'>('push', (s, ctx, r) => push.cancelUpload(s, ctx, r.name, r.id)),
  },
  referrers: { GET: on<'referrers'>('pull', (s, ctx, r) => push.referrers(s, ctx, r.name, r.digest)) },
  tags: { GET: on<'tags'>('pull', (s, ctx, r) => listTags(s, ctx, r.name)) },
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
      throw new BerthError('METHOD_NOT_ALLOWED', 'this registry does not serve this method here', { method: ctx.method }, { headers: { Allow: allowed(route.kind) } });
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
