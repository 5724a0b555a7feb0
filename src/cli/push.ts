// `berth push <image> <host>/<repository>[:tag]`: read the image locally, ask the server which of its
// blobs the repository holds (preflight), and stream an import that carries only the rest.
import { isDigest } from '../core/digest.js';
import { BerthError } from '../errors.js';
import { BerthClient, type ImportReport, type Preflight } from './client.js';
import { serverFor } from './credentials.js';
import { CliError, EXIT } from './errors.js';
import { type LocalImage, LocalInputError, omittableBlobs, readLocalImage, upload } from './local-image.js';
import { bytes, Output } from './output.js';
import { parseTarget } from './target.js';
import { mark } from './timing.js';

/** A local read failure as a CliError: bad content keeps the server's code for it. */
function localError(input: string, err: unknown): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof LocalInputError) return new CliError(EXIT.INPUT, err.message);
  if (err instanceof BerthError) {
    // An image that leaves out blobs the repository lacks is refused by the ownership rule, not unreadable.
    const exit = err.code === 'BLOB_UNKNOWN' ? EXIT.REFUSED : EXIT.INPUT;
    const missing = Array.isArray((err.details as { missing?: unknown } | null)?.missing) ? ` (missing ${((err.details as { missing: string[] }).missing).slice(0, 3).join(', ')})` : '';
    return new CliError(exit, `${input}: ${err.code}: ${err.message}${missing}`, err.code);
  }
  const code = (err as { code?: string }).code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return new CliError(EXIT.INPUT, `${input}: ${(err as Error).message}`);
  return err;
}

/**
 * What the repository holds of `digests`: the early preflight's answer, when it asked for all of them;
 * a preflight of its own for those it did not ask for (`docker save` layers named by their config).
 */
async function heldOf(digests: string[], early: { asked: Set<string>; answer: Promise<Preflight> } | undefined, preflight: (digests: string[]) => Promise<Preflight>): Promise<Pick<Preflight, 'held'>> {
  if (digests.length === 0) return { held: [] };
  if (!early) return preflight(digests);
  const first = await early.answer;
  const unasked = digests.filter((d) => !early.asked.has(d));
  if (unasked.length === 0) return first;
  return { held: [...first.held, ...(await preflight(unasked)).held] };
}

export interface PushOptions {
  /** create the repository when it does not exist (the token must be allowed to push to that name) */
  create?: boolean;
}

export async function push(input: string, destination: string, out: Output, opts: PushOptions = {}): Promise<ImportReport> {
  const target = parseTarget(destination);
  const server = await serverFor(target, /^https?:\/\//.test(destination));
  const client = new BerthClient(server.baseUrl, server.token);
  // With --create, a repository that does not exist (yet) holds nothing; the import then creates it.
  const preflight = async (digests: string[]) => {
    try {
      return await client.preflight(target.repository, digests);
    } catch (err) {
      if (!(err instanceof CliError) || err.code !== 'NAME_UNKNOWN') throw err;
      if (opts.create) return { repository: target.repository, held: [], missing: digests };
      throw new CliError(err.exitCode, `${err.message} (berth push --create makes it, when the token may push to that name)`, err.code, err.report);
    }
  };

  // The preflight goes out as soon as the image's file names are listed, and the server answers it
  // while the image is planned; a local failure still comes first (the answer is awaited after).
  let early: { asked: Set<string>; answer: Promise<Preflight> } | undefined;
  let image: LocalImage;
  try {
    image = await readLocalImage(input, {
      // Asked only when the image itself leaves a blob out (a docker-archive whose layer file is missing).
      repositoryBlob: async (digest) => (await preflight([digest])).held[0],
      listed: (claimed) => {
        if (claimed.length === 0) return;
        const answer = preflight(claimed);
        answer.catch(() => undefined); // awaited below, if the image reads
        early = { asked: new Set(claimed), answer };
      },
    });
  } catch (err) {
    throw localError(input, err);
  }
  mark('read');
  const { plan } = image;
  out.phase(
    'read',
    { input, format: image.format, manifests: plan.manifests.length, blobs: plan.blobs.length, bytes: image.totalBytes },
    `read ${input}: ${image.format}, ${plan.manifests.length} manifest${plan.manifests.length === 1 ? '' : 's'}, ${plan.blobs.length} blobs, ${bytes(image.totalBytes)}`,
  );

  const candidates = omittableBlobs(image);
  const answer = await heldOf(
    candidates.map((c) => c.digest),
    early,
    preflight,
  );
  mark('preflight');
  // (The early preflight asked for every digest the names claim; only the candidates count.)
  const wanted = new Set<string>(candidates.map((c) => c.digest));
  const held = new Set(answer.held.map((h) => h.digest).filter((d) => isDigest(d) && wanted.has(d)));
  const omit = new Set(candidates.filter((c) => held.has(c.digest)).flatMap((c) => c.entries));
  const reusedBytes = candidates.filter((c) => held.has(c.digest)).reduce((sum, c) => sum + c.size, 0);
  const body = upload(image, omit);
  const total = body.estimate;
  out.phase(
    'preflight',
    { repository: target.repository, held: [...held], reused_bytes: reusedBytes, upload_bytes: total },
    `preflight: ${target.repository} holds ${held.size} of ${candidates.length} blobs (${bytes(reusedBytes)}); sending ${bytes(total)}`,
  );

  await out.startUpload(total);
  let report: ImportReport;
  try {
    report = await client.importTar(target.repository, target.tag, { chunks: await body.chunks(), recycle: body.recycle }, { length: body.length, contentType: body.contentType, create: opts.create === true }, (n) => out.progress(n));
  } catch (err) {
    out.endUpload();
    throw localError(input, err);
  }
  mark('uploaded');
  const { sent, ms } = out.endUpload();
  out.phase('uploaded', { bytes: sent, duration_ms: ms }, `uploaded ${bytes(sent)} in ${(ms / 1000).toFixed(2)} s (${bytes(Math.round(sent / Math.max(ms / 1000, 0.001)))}/s)`);

  const reused = report.blobs.filter((b) => b.source !== 'upload');
  const uploaded = report.blobs.filter((b) => b.source === 'upload');
  const name = `${report.repository}${report.tag ? `:${report.tag}` : ''}`;
  out.result(report, [
    `pushed ${name}: version ${report.version}${report.new_version ? '' : ' (unchanged: the repository already had this)'}`,
    `  sent     ${bytes(report.bytes_received)} (${uploaded.length} blob${uploaded.length === 1 ? '' : 's'}, ${bytes(uploaded.reduce((s, b) => s + b.size, 0))})`,
    `  reused   ${reused.length} blob${reused.length === 1 ? '' : 's'}, ${bytes(reused.reduce((s, b) => s + b.size, 0))}`,
    `  report   ${report.id}`,
  ]);
  return report;
}
