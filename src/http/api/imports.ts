// POST /api/v1/repositories/{name}/imports: reads a multipart or raw tar body for the import service.
import busboy from 'busboy';
import type { Context } from 'koa';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BerthError, isClientAbort } from '../../errors.js';
import type { Services } from '../../services/deps.js';
import { importArchive, type ImportBody } from '../../services/imports.js';
import { clientGone, withUploadBody } from '../request-body.js';
import { queryBool, queryString } from './body.js';

const RAW_TYPES = ['application/x-tar', 'application/tar', 'application/gzip', 'application/x-gzip', 'application/octet-stream'];

type Into = Parameters<ImportBody['read']>[0];

/**
 * Reads a multipart body: the archive file part and the form fields, in whichever order they come.
 * The first failure (of the archive, a field or the form itself) stops the reading at once.
 */
async function readMultipart(ctx: Context, body: Readable, into: Into): Promise<void> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: ctx.req.headers, limits: { fields: 16, fieldSize: 4096, parts: 32 } });
  } catch (err) {
    throw new BerthError('BODY_INVALID', 'malformed multipart request', { reason: (err as Error).message });
  }
  let failure: unknown;
  const fail = (err: unknown) => {
    failure ??= err;
    body.destroy();
  };
  let files = Promise.resolve();
  parser.on('file', (_field, stream: Readable) => {
    files = files.then(() =>
      into.archive(stream).catch((err: unknown) => {
        fail(err);
        stream.resume();
      }),
    );
  });
  parser.on('field', (name, value) => {
    try {
      into.field(name, value);
    } catch (err) {
      fail(err);
    }
  });
  try {
    await pipeline(body, parser);
  } catch (err) {
    await files;
    if (failure !== undefined) throw failure;
    if (isClientAbort(err) || err instanceof BerthError) throw err;
    throw new BerthError('BODY_INVALID', 'malformed multipart request (or a part header over 16 KiB)', { reason: (err as Error).message });
  }
  await files;
  if (failure !== undefined) throw failure;
}

export async function postImport(s: Services, ctx: Context, repository: string, actor: string): Promise<void> {
  const type = ctx.request.type;
  const multipart = type === 'multipart/form-data';
  if (!multipart && !RAW_TYPES.includes(type)) {
    throw new BerthError('UNSUPPORTED_MEDIA_TYPE', 'send multipart/form-data or a raw application/x-tar or application/gzip body', {
      content_type: type || null,
    });
  }
  const tag = queryString(ctx, 'tag');
  const create = queryBool(ctx, 'create');
  const report = await withUploadBody(s, ctx, actor, (body) =>
    importArchive(
      s,
      repository,
      {
        ...(tag !== undefined ? { tag } : {}),
        read: (into) => (multipart ? readMultipart(ctx, body, into) : into.archive(body)),
        aborted: () => clientGone(ctx),
      },
      actor,
      { create },
    ),
  );
  ctx.status = 201;
  ctx.set('Location', `/api/v1/imports/${report.id}`);
  ctx.body = report;
}
