// The /v2 read endpoints: manifests (exact stored bytes) and blobs (streamed from disk, with ranges),
// each with Docker-Content-Digest and an ETag; tags and catalog pages with Link headers.
import type { Context } from 'koa';
import { pullable } from '../../core/policy.js';
import { BerthError } from '../../errors.js';
import type { Services } from '../../services/deps.js';
import * as registry from '../../services/registry.js';
import { principalOf } from '../auth.js';
import { parseRange } from './range.js';

/** The largest page of tags or repositories, and the page size when a client names none. */
export const MAX_PAGE = 1000;

function contentHeaders(ctx: Context, digest: string): void {
  ctx.set('Docker-Content-Digest', digest);
  ctx.set('ETag', `"${digest}"`);
}

/**
 * If-None-Match names this digest's ETag (or `*`). Checked here rather than with Koa's ctx.fresh:
 * an origin server evaluates the condition even when the request also says `Cache-Control: no-cache`,
 * which fetch() adds to every conditional request.
 */
function notModified(ctx: Context, digest: string): boolean {
  const header = ctx.get('If-None-Match');
  if (header === '') return false;
  return header.split(',').some((tag) => {
    const value = tag.trim().replace(/^W\//, '');
    return value === '*' || value === `"${digest}"`;
  });
}

export async function getManifest(s: Services, ctx: Context, name: string, reference: string): Promise<void> {
  const manifest = await registry.resolveManifest(s, name, reference);
  ctx.status = 200;
  contentHeaders(ctx, manifest.digest);
  if (notModified(ctx, manifest.digest)) {
    ctx.status = 304;
    return;
  }
  // The stored media type, whatever the client's Accept says: Berth serves what was imported and
  // never converts, so the digest a client verifies is the digest that was imported.
  const bytes = ctx.method === 'HEAD' ? undefined : await registry.readManifest(s, manifest);
  ctx.set('Content-Type', manifest.mediaType);
  if (bytes) ctx.body = bytes;
  ctx.length = manifest.size;
}

export async function getBlob(s: Services, ctx: Context, name: string, digest: string): Promise<void> {
  const blob = await registry.resolveBlob(s, name, digest);
  ctx.status = 200;
  contentHeaders(ctx, blob.digest);
  if (notModified(ctx, blob.digest)) {
    ctx.status = 304;
    return;
  }
  const range = parseRange(ctx.get('Range'), blob.size);
  const sender = ctx.method === 'HEAD' ? undefined : await registry.openBlob(s, blob, range);
  if (range) {
    ctx.status = 206;
    ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${blob.size}`);
  }
  ctx.set('Accept-Ranges', 'bytes');
  ctx.set('Content-Type', 'application/octet-stream');
  ctx.length = range ? range.end - range.start + 1 : blob.size;
  if (!sender) return;
  // The body is written here, not by Koa: the blob goes out through two reused buffers (store.ts
  // BlobSender) rather than a stream that allocates one per read. The status and headers set above
  // are on the response already; the first write sends them. The request ends when the body is out.
  ctx.respond = false;
  await sender.sendTo(ctx.res);
}

function pageParams(ctx: Context): registry.Page {
  const { n, last } = ctx.query;
  if (n !== undefined && (typeof n !== 'string' || !/^\d+$/.test(n))) {
    throw new BerthError('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer', { n: String(n).slice(0, 20) });
  }
  if (last !== undefined && typeof last !== 'string') throw new BerthError('PAGINATION_NUMBER_INVALID', 'last may be given once', null);
  return { n: n === undefined ? MAX_PAGE : Math.min(Number(n), MAX_PAGE), ...(last !== undefined ? { last } : {}) };
}

function nextLink(ctx: Context, page: registry.Page, result: registry.PageResult): void {
  const last = result.names.at(-1);
  if (!result.more || last === undefined) return;
  ctx.set('Link', `<${ctx.path}?n=${page.n}&last=${encodeURIComponent(last)}>; rel="next"`);
}

export async function listTags(s: Services, ctx: Context, name: string): Promise<void> {
  const page = pageParams(ctx);
  const result = await registry.listTagsPage(s, name, page);
  nextLink(ctx, page, result);
  ctx.body = { name: result.repository, tags: result.names };
}

export async function catalog(s: Services, ctx: Context): Promise<void> {
  const page = pageParams(ctx);
  const result = await registry.catalogPage(s, page, pullable(principalOf(ctx)));
  nextLink(ctx, page, result);
  ctx.body = { repositories: result.names };
}
