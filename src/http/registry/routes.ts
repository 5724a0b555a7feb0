// /v2: the OCI distribution API. One dispatcher, because repository names contain '/' (see paths.ts).
// Read side only for now; every other method answers 405 UNSUPPORTED until push lands.
import type { Context, Middleware, Next } from 'koa';
import compose from 'koa-compose';
import { BerthError } from '../../errors.js';
import type { Services } from '../../services/deps.js';
import { requireRegistryAuth } from './auth.js';
import { ociErrors } from './errors.js';
import { catalog, getBlob, getManifest, listTags } from './handlers.js';
import { parseRegistryPath } from './paths.js';

const READ_METHODS = new Set(['GET', 'HEAD']);

function dispatch(s: Services) {
  return async (ctx: Context): Promise<void> => {
    const route = parseRegistryPath(ctx.path);
    if (!route) throw new BerthError('NOT_FOUND', 'no such endpoint', { method: ctx.method, path: ctx.path });
    if (!READ_METHODS.has(ctx.method) || route.kind === 'upload') {
      throw new BerthError('METHOD_NOT_ALLOWED', 'this registry serves pulls only; push is not supported yet', { method: ctx.method });
    }
    switch (route.kind) {
      case 'base':
        ctx.body = {};
        return;
      case 'catalog':
        return catalog(s, ctx);
      case 'manifest':
        return getManifest(s, ctx, route.name, route.reference);
      case 'blob':
        return getBlob(s, ctx, route.name, route.digest);
      case 'tags':
        return listTags(s, ctx, route.name);
    }
  };
}

/** Everything under /v2, from the API version header to the handlers. */
export function registryStack(s: Services & { adminToken: string }): Middleware {
  return compose<Context>([
    async (ctx: Context, next: Next) => {
      ctx.set('Docker-Distribution-API-Version', 'registry/2.0');
      await next();
    },
    ociErrors(s.log),
    requireRegistryAuth(s.adminToken),
    dispatch(s),
  ]);
}
