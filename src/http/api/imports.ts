// POST /api/v1/repositories/{name}/imports: feeds a multipart or raw tar body into an ImportSession.
import busboy from 'busboy';
import type { Context } from 'koa';
import { pipeline } from 'node:stream/promises';
import { BerthError, isClientAbort } from '../../errors.js';
import type { Services } from '../../services/deps.js';
import { ImportSession } from '../../services/imports.js';
import { ResponseBodyError } from '../middleware.js';
import { queryString } from './body.js';

const RAW_TYPES = ['application/x-tar', 'application/tar', 'application/gzip', 'application/x-gzip', 'application/octet-stream'];

/** Reads a multipart body: the archive file part and the `tag` field, in whichever order they come. */
async function readMultipart(ctx: Context, session: ImportSession): Promise<void> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: ctx.req.headers, limits: { fields: 16, fieldSize: 4096, parts: 32 } });
  } catch (err) {
    throw new BerthError('BODY_INVALID', 'malformed multipart request', { reason: (err as Error).message });
  }
  let failure: unknown;
  let files = Promise.resolve();
  parser.on('file', (_field, stream) => {
    files = files.then(() =>
      session.receiveArchive(stream).catch((err: unknown) => {
        failure ??= err;
        stream.resume();
      }),
    );
  });
  parser.on('field', (name, value) => {
    try {
      if (name !== 'tag') throw new BerthError('BODY_INVALID', 'unknown form field', { field: name.slice(0, 100) });
      session.setTag(value);
    } catch (err) {
      failure ??= err;
    }
  });
  try {
    await pipeline(ctx.req, parser);
  } catch (err) {
    await files;
    if (isClientAbort(err) || err instanceof BerthError) throw err;
    throw new BerthError('BODY_INVALID', 'malformed multipart request', { reason: (err as Error).message });
  }
  await files;
  if (failure !== undefined) throw failure;
}

export async function postImport(s: Services, ctx: Context, repository: string): Promise<void> {
  const type = ctx.request.type;
  const multipart = type === 'multipart/form-data';
  if (!multipart && !RAW_TYPES.includes(type)) {
    throw new BerthError('UNSUPPORTED_MEDIA_TYPE', 'send multipart/form-data or a raw application/x-tar or application/gzip body', {
      content_type: type || null,
    });
  }
  const session = await ImportSession.begin(s, repository);
  let aborted = false;
  ctx.req.once('close', () => {
    if (!ctx.req.complete) aborted = true;
  });
  try {
    const tag = queryString(ctx, 'tag');
    if (tag !== undefined) session.setTag(tag);
    if (multipart) await readMultipart(ctx, session);
    else await session.receiveArchive(ctx.req);
    const report = await session.complete();
    ctx.status = 201;
    ctx.set('Location', `/api/v1/imports/${report.id}`);
    ctx.body = report;
  } catch (err) {
    const report = await session.fail(err, aborted);
    if (aborted || isClientAbort(err)) throw Object.assign(new Error('client aborted the upload'), { code: 'ECONNABORTED' });
    const cause = err instanceof BerthError ? err : new BerthError('INTERNAL', 'internal error', null);
    if (!(err instanceof BerthError)) s.log.error({ err, import_id: session.id }, 'import failed with an internal error');
    throw new ResponseBodyError(cause, report);
  }
}
