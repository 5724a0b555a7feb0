// Small helpers for /api and /ui handlers: capped JSON and form body readers, query-string parsing.
import type { Context } from 'koa';
import { BerthError } from '../../errors.js';

const MAX_JSON_BYTES = 1024 * 1024;

/** Reads a whole request body of at most `limit` bytes (bodies are buffered only for JSON and forms). */
async function readCapped(ctx: Context, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > limit) throw new BerthError('BODY_INVALID', `${what} is larger than ${limit} bytes`, { limit });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Reads an HTML form's urlencoded body (the web pages' POSTs), at most 64 KiB. */
export async function readForm(ctx: Context): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    throw new BerthError('UNSUPPORTED_MEDIA_TYPE', 'request body must be application/x-www-form-urlencoded', { content_type: ctx.get('Content-Type') || null });
  }
  return new URLSearchParams((await readCapped(ctx, 64 * 1024, 'form body')).toString('utf8'));
}

/** Reads a JSON request body, at most 1 MiB. */
export async function readJson(ctx: Context): Promise<Record<string, unknown>> {
  if (!ctx.is('application/json')) {
    throw new BerthError('UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json', { content_type: ctx.get('Content-Type') || null });
  }
  const body = await readCapped(ctx, MAX_JSON_BYTES, 'JSON body');
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
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

/** A yes/no query parameter: `true` or `false` (absent: false). */
export function queryBool(ctx: Context, name: string): boolean {
  const raw = queryString(ctx, name);
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new BerthError('BODY_INVALID', `query parameter ${name} must be true or false`, { parameter: name });
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
