// The /v2 write endpoints: blob uploads (monolithic, resumable sessions, cross-repository mounts),
// manifest PUT and DELETE, and the OCI 1.1 referrers list. Each is one service call; the headers are
// the ones docker, podman, buildah and skopeo read (Location, Docker-Upload-UUID, Range,
// Docker-Content-Digest, OCI-Subject).
import type { Context } from 'koa';
import { MediaType } from '../../core/manifest.js';
import { BerthError } from '../../errors.js';
import type { Services } from '../../services/deps.js';
import * as manifests from '../../services/manifests.js';
import * as uploads from '../../services/uploads.js';
import { principalOf } from '../auth.js';
import { withUploadBody } from '../request-body.js';

function single(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new BerthError('BODY_INVALID', `query parameter ${name} may be given once`, { parameter: name });
  return value === undefined || value === '' ? undefined : value;
}

/** Whether the request carries a body (a chunk or a monolithic blob), not only headers. */
function hasBody(ctx: Context): boolean {
  if (ctx.get('Transfer-Encoding') !== '') return true;
  const length = ctx.get('Content-Length');
  return length !== '' && Number(length) > 0;
}

/** A Content-Range of a chunk: `<from>-<to>` (an optional `bytes ` / `bytes=` prefix is accepted). */
function chunkRange(ctx: Context): { start: number; end: number } | undefined {
  const header = ctx.get('Content-Range');
  if (header === '') return undefined;
  const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!match) throw new BerthError('UPLOAD_RANGE_INVALID', 'Content-Range must be <from>-<to>', { content_range: header.slice(0, 100) });
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (end < start) throw new BerthError('UPLOAD_RANGE_INVALID', 'Content-Range ends before it starts', { content_range: header.slice(0, 100) });
  return { start, end };
}

/** An answer without a body (Koa would turn a null body into 204, so the status is set after it). */
function empty(ctx: Context, status: number): void {
  ctx.body = null;
  ctx.status = status;
  if (status !== 204) ctx.length = 0;
}

function blobCreated(ctx: Context, name: string, digest: string): void {
  ctx.set('Location', `/v2/${name}/blobs/${digest}`);
  ctx.set('Docker-Content-Digest', digest);
  empty(ctx, 201);
}

function sessionAnswer(ctx: Context, status: number, state: uploads.UploadState): void {
  ctx.set(uploads.uploadHeaders(state));
  empty(ctx, status);
}

/** `POST /v2/{name}/blobs/uploads/`: a mount, a monolithic upload (`?digest=`), or a new session. */
export async function startUpload(s: Services, ctx: Context, name: string): Promise<void> {
  const principal = principalOf(ctx);
  const mount = single(ctx, 'mount');
  const from = single(ctx, 'from');
  if (mount !== undefined && from !== undefined && (await uploads.mountBlob(s, name, mount, from, principal))) {
    blobCreated(ctx, name, mount);
    return;
  }
  const digest = single(ctx, 'digest');
  if (digest !== undefined && mount === undefined) {
    const stored = await withUploadBody(s, ctx, principal.name, (body) => uploads.uploadMonolithic(s, name, digest, body, principal.name));
    blobCreated(ctx, name, stored);
    return;
  }
  if (hasBody(ctx)) ctx.req.resume();
  sessionAnswer(ctx, 202, await uploads.startUpload(s, name, principal.name));
}

/** `PATCH …/uploads/<id>`: one more chunk. */
export async function patchUpload(s: Services, ctx: Context, name: string, id: string): Promise<void> {
  const range = chunkRange(ctx);
  const state = await withUploadBody(s, ctx, principalOf(ctx).name, (body) => uploads.appendUpload(s, name, id, body, range));
  sessionAnswer(ctx, 202, state);
}

/** `PUT …/uploads/<id>?digest=`: the last chunk (if any) and the end of the session. */
export async function finishUpload(s: Services, ctx: Context, name: string, id: string): Promise<void> {
  const digest = single(ctx, 'digest');
  const stored = hasBody(ctx)
    ? await withUploadBody(s, ctx, principalOf(ctx).name, (body) => uploads.finishUpload(s, name, id, digest, body))
    : await uploads.finishUpload(s, name, id, digest, undefined);
  blobCreated(ctx, name, stored);
}

/** `GET …/uploads/<id>`: where to resume. */
export async function uploadStatus(s: Services, ctx: Context, name: string, id: string): Promise<void> {
  sessionAnswer(ctx, 204, await uploads.getUpload(s, name, id));
}

/** `DELETE …/uploads/<id>`: abandons the session and its bytes. */
export async function cancelUpload(s: Services, ctx: Context, name: string, id: string): Promise<void> {
  await uploads.cancelUpload(s, name, id);
  empty(ctx, 204);
}

/** `PUT /v2/{name}/manifests/{reference}`: one new repository version. */
export async function putManifest(s: Services, ctx: Context, name: string, reference: string): Promise<void> {
  const actor = principalOf(ctx).name;
  const pushed = await withUploadBody(s, ctx, actor, (body) => manifests.putManifest(s, name, reference, ctx.get('Content-Type'), body, actor));
  ctx.set('Location', `/v2/${pushed.repository}/manifests/${pushed.digest}`);
  ctx.set('Docker-Content-Digest', pushed.digest);
  if (pushed.subject) ctx.set('OCI-Subject', pushed.subject);
  ctx.set('Berth-Import-Id', pushed.report.id);
  empty(ctx, 201);
}

/** `DELETE /v2/{name}/manifests/{digest|tag}`: a version without the manifest, or without the tag. */
export async function deleteManifest(s: Services, ctx: Context, name: string, reference: string): Promise<void> {
  await manifests.deleteManifest(s, name, reference, principalOf(ctx).name);
  empty(ctx, 202);
}

/** `GET /v2/{name}/referrers/{digest}[?artifactType=]`: an image index of the manifests naming it. */
export async function referrers(s: Services, ctx: Context, name: string, digest: string): Promise<void> {
  const artifactType = single(ctx, 'artifactType');
  const list = await manifests.listReferrers(s, name, digest, artifactType);
  if (artifactType !== undefined) ctx.set('OCI-Filters-Applied', 'artifactType');
  ctx.status = 200;
  ctx.type = MediaType.OciIndex;
  ctx.body = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: list });
}
