// OCI error bodies for everything under /v2: `{ "errors": [{ "code", "message", "detail" }] }`,
// the code taken from the `oci` column of the one error table in src/errors.ts, with the headers the
// error carries (Range, Location, WWW-Authenticate, Docker-Upload-UUID…).
import type { Context, Next } from 'koa';
import { ERRORS, errorHeaders, isClientAbort, toErrorBody } from '../../errors.js';
import type { Logger } from '../../log.js';

/** Headers a failed request keeps; anything a handler set before failing (digest, type, range) goes. */
const KEPT_HEADERS = new Set(['docker-distribution-api-version', 'x-request-id', 'connection']);

export const REGISTRY_REALM = 'Basic realm="berth"';

export function ociErrors(log: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (err) {
      if (isClientAbort(err)) {
        log.info({ request_id: ctx.state.requestId }, 'client went away');
        ctx.status = ERRORS.CLIENT_ABORTED.status;
        return;
      }
      const body = toErrorBody(err);
      if (body.code === 'INTERNAL') log.error({ request_id: ctx.state.requestId, err }, 'internal error');
      for (const name of Object.keys(ctx.response.headers)) if (!KEPT_HEADERS.has(name.toLowerCase())) ctx.remove(name);
      ctx.status = ERRORS[body.code].status;
      ctx.type = 'application/json';
      ctx.body = { errors: [{ code: ERRORS[body.code].oci, message: body.message, detail: body.details }] };
      if (body.code === 'UNAUTHORIZED') ctx.set('WWW-Authenticate', REGISTRY_REALM);
      const size = body.details?.size;
      if (body.code === 'RANGE_INVALID' && typeof size === 'number') ctx.set('Content-Range', `bytes */${size}`);
      ctx.set(errorHeaders(err));
    }
  };
}
