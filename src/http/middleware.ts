// Koa middleware shared by /api and /v2: request ids, access logs, error bodies (auth is in auth.ts).
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import { BerthError, ERRORS, errorHeaders, isClientAbort, toErrorBody } from '../errors.js';
import { type Logger, rateLimited } from '../log.js';

export interface State {
  requestId: string;
}

export function requestId() {
  return async (ctx: Context, next: Next): Promise<void> => {
    const incoming = ctx.get('X-Request-Id');
    ctx.state.requestId = /^[A-Za-z0-9._-]{1,64}$/.test(incoming) ? incoming : randomUUID();
    ctx.set('X-Request-Id', ctx.state.requestId as string);
    await next();
  };
}

/**
 * One line per request; answers 401 (no or wrong credentials) share one line a second at most, so a
 * flood of failed authentications cannot fill the log.
 */
export function accessLog(log: Logger) {
  const unauthorized = rateLimited(log, 'warn', 'authentication failed');
  return async (ctx: Context, next: Next): Promise<void> => {
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const fields = { request_id: ctx.state.requestId, method: ctx.method, path: ctx.path, status: ctx.status, duration_ms: Math.round(ms * 10) / 10 };
      if (ctx.status === 401) unauthorized({ ...fields, remote: ctx.ip });
      else log.info(fields, 'request');
    }
  };
}

/**
 * Turns thrown errors into `{ error: { code, message, details } }` (or the body the error carries,
 * such as a failed import's report) with the error's headers. Unknown errors become INTERNAL, logged
 * once with the stack.
 */
export function apiErrors(log: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new BerthError('NOT_FOUND', 'no such endpoint', { method: ctx.method, path: ctx.path });
      }
    } catch (err) {
      const body = toErrorBody(err);
      if (isClientAbort(err)) {
        log.info({ request_id: ctx.state.requestId }, 'client went away');
        ctx.status = ERRORS.CLIENT_ABORTED.status;
        return;
      }
      if (body.code === 'INTERNAL') log.error({ request_id: ctx.state.requestId, err }, 'internal error');
      ctx.status = ERRORS[body.code].status;
      ctx.body = err instanceof BerthError && err.body !== undefined ? err.body : { error: body };
      if (body.code === 'UNAUTHORIZED') ctx.set('WWW-Authenticate', 'Bearer realm="berth"');
      ctx.set(errorHeaders(err));
    }
  };
}
