// Small helpers for /api handlers: a capped JSON body reader and query-string parsing.
import type { Context } from 'koa';
import { BerthError } from '../../errors.js';

const MAX_JSON_BYTES = 1024 * 1024;

/** Reads a JSON request body, at most 1 MiB; the only kind of body ever buffered. */
export async function readJson(ctx: Context): Promise<Record<string, unknown>> {
  if (!ctx.is('application/json')) {
    throw new BerthError('UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json', { content_type: ctx.get('Content-Type') || null });
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > MAX_JSON_BYTES) throw new BerthError('BODY_INVALID', 'JSON body is larger than 1 MiB', { limit: MAX_JSON_BYTES });
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BerthError('BODY_INVALID', 'body is not valid JSON', null);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BerthError('BODY_INVALID', 'body must be a JSON object', null);
  }
  return value as Record<string, unknown>;
}

export function queryString(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new BerthError('BODY_INVALID', `query parameter ${name} is given more than once`, { parameter: name });
  return value === undefined || value === '' ? undefined : value;
}

export function queryInt(ctx: Context, name: string, fallback: number, min: number, max: number): number {
  const raw = queryString(ctx, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new BerthError('BODY_INVALID', `query parameter ${name} must be an integer from ${min} to ${max}`, { parameter: name });
  }
  return value;
}
