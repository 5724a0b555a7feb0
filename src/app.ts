// createApp builds the Koa application from its dependencies. It never listens: main.ts and the
// tests do that.
import Koa from 'koa';
import compose from 'koa-compose';
import type { Services } from './services/deps.js';
import { pingDatabase } from './db/connect.js';
import { apiRouter, apiRoutes } from './http/api/routes.js';
import { authenticate, tokenAuthenticator } from './http/auth.js';
import { accessLog, apiErrors, requestId } from './http/middleware.js';
import { registryStack } from './http/registry/routes.js';
import { formRedirect, UiSessions, uiStack } from './http/ui/index.js';

const HEALTH_TIMEOUT_MS = 1500;

export interface AppDeps extends Services {
  adminToken: string;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  app.use(requestId());
  app.use(accessLog(deps.log));
  app.use(async (ctx, next) => {
    const end = deps.metrics.httpDuration.startTimer({ method: ctx.method });
    try {
      await next();
    } finally {
      end();
      deps.metrics.httpRequests.inc({ method: ctx.method, status: String(ctx.status) });
    }
  });

  app.use(async (ctx, next) => {
    if (ctx.path !== '/metrics') return next();
    ctx.set('Content-Type', deps.metrics.registry.contentType);
    ctx.body = await deps.metrics.registry.metrics();
  });

  // Ready means the database answers: bounded by HEALTH_TIMEOUT_MS, never the pool's acquire timeout.
  app.use(async (ctx, next) => {
    if (ctx.path !== '/healthz') return next();
    if (await pingDatabase(deps.db, HEALTH_TIMEOUT_MS)) {
      ctx.body = { status: 'ok' };
      return;
    }
    ctx.status = 503;
    ctx.set('Retry-After', '1');
    ctx.body = { status: 'unavailable', error: { code: 'DATABASE_UNAVAILABLE', message: 'the database is unreachable', details: null } };
  });

  const authn = tokenAuthenticator(deps, deps.adminToken);
  const sessions = new UiSessions(deps.adminToken, authn);
  const api = apiRouter(apiRoutes(deps));
  const apiStack = compose([
    formRedirect(),
    apiErrors(deps.log),
    authenticate(authn, { allowBasic: false, session: (ctx) => sessions.forApi(ctx) }),
    api.routes() as Koa.Middleware,
    api.allowedMethods() as Koa.Middleware,
  ]);
  app.use(async (ctx, next) => (ctx.path.startsWith('/api/') ? apiStack(ctx, async () => undefined) : next()));

  const ui = uiStack(deps, sessions);
  app.use(async (ctx, next) => (ctx.path === '/ui' || ctx.path.startsWith('/ui/') ? ui(ctx, async () => undefined) : next()));

  const registry = registryStack(deps, authn);
  app.use(async (ctx, next) => (ctx.path === '/v2' || ctx.path.startsWith('/v2/') ? registry(ctx, async () => undefined) : next()));

  return app;
}
