// Berth's HTTP API as the CLI speaks it: JSON calls and one streamed upload, with every failure turned
// into a CliError (its exit code and one line) — never a stack trace.
import http from 'node:http';
import type { ImportReport } from '../core/report.js';
import { CliError, EXIT } from './errors.js';

export type { ImportReport };

export interface Preflight {
  repository: string;
  held: Array<{ digest: string; size: number }>;
  missing: string[];
}

interface Answer {
  status: number;
  body: unknown;
}

/** The error a server answer carries (`{ error: { code, message } }`, or a failed report). */
function serverError(answer: Answer, what: string): CliError {
  const body = answer.body as { error?: { code?: string; message?: string; details?: unknown }; id?: string; status?: string } | undefined;
  const code = body?.error?.code ?? null;
  const message = body?.error?.message ?? `HTTP ${answer.status}`;
  const details = body?.error?.details as { missing?: unknown } | null | undefined;
  const missing = Array.isArray(details?.missing) ? ` (missing ${details.missing.slice(0, 3).join(', ')}${details.missing.length > 3 ? ', …' : ''})` : '';
  const report = body?.status === 'failed' && typeof body.id === 'string' ? body : undefined;
  const suffix = report ? ` [report ${report.id}]` : '';
  const line = `${what}: ${code ? `${code}: ` : ''}${message}${missing}${suffix}`;
  if (answer.status === 401) return new CliError(EXIT.AUTH, `${what}: the server refused the token (401 ${code ?? 'UNAUTHORIZED'}); check BERTH_TOKEN or run berth login`, code, report);
  if (answer.status === 403) return new CliError(EXIT.AUTH, `${what}: the token may not do this (403 ${code ?? 'DENIED'})`, code, report);
  return new CliError(EXIT.REFUSED, line, code, report);
}

function networkError(err: unknown, url: URL, sent?: number): CliError {
  const e = err as NodeJS.ErrnoException;
  const reason = e.code ?? e.message;
  if (sent === undefined || sent === 0) return new CliError(EXIT.NETWORK, `cannot reach ${url.origin}: ${reason}`);
  return new CliError(EXIT.NETWORK, `the connection to ${url.origin} broke after ${sent} bytes (${reason}); run the same command again to send only the rest`);
}

export class BerthClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  private async request(method: string, pathname: string, headers: Record<string, string>): Promise<http.ClientRequest> {
    const url = new URL(pathname, this.baseUrl);
    // https (and TLS under it) loads only for an https server: a local one does not pay for it.
    const lib = url.protocol === 'https:' ? (await import('node:https')).default : http;
    return lib.request(url, { method, headers: { Authorization: `Bearer ${this.token}`, Accept: 'application/json', ...headers } });
  }

  private static readAnswer(res: http.IncomingMessage): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
  }

  /** A JSON call; answers the body of a 2xx, throws a CliError for anything else. */
  async json<T>(method: string, pathname: string, what: string, body?: unknown): Promise<T> {
    const url = new URL(pathname, this.baseUrl);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = await this.request(method, pathname, payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {});
    const answer = await new Promise<Answer>((resolve, reject) => {
      req.on('error', (err) => reject(networkError(err, url)));
      req.on('response', (res) => BerthClient.readAnswer(res).then(resolve, (err: unknown) => reject(networkError(err, url))));
      req.end(payload);
    });
    if (answer.status < 200 || answer.status > 299) throw serverError(answer, what);
    return answer.body as T;
  }

  preflight(repository: string, digests: string[]): Promise<Preflight> {
    return this.json('POST', `/api/v1/repositories/${repository}/preflight`, `preflight ${repository}`, { digests });
  }

  /**
   * Streams an archive body of `opts.length` bytes (undefined: not known, sent chunked) into an import of
   * `repository`, creating it first when `opts.create` and it does not exist. Each chunk is handed back
   * through `body.recycle` once the socket has taken it, and `onSent` told its size. Answers the
   * completed report; throws with the failed one.
   */
  async importTar(
    repository: string,
    tag: string | undefined,
    body: { chunks: AsyncIterable<Buffer>; recycle: (chunk: Buffer) => void },
    opts: { length: number | undefined; contentType: string; create: boolean },
    onSent: (n: number) => void,
  ): Promise<ImportReport> {
    const query = new URLSearchParams();
    if (tag !== undefined) query.set('tag', tag);
    if (opts.create) query.set('create', 'true');
    const pathname = `/api/v1/repositories/${repository}/imports${query.size > 0 ? `?${query}` : ''}`;
    const url = new URL(pathname, this.baseUrl);
    const what = `push ${repository}${tag === undefined ? '' : `:${tag}`}`;
    let sent = 0;
    // The length, when known up front, goes ahead as curl sends it; otherwise the body is chunked.
    const { length } = opts;
    const req = await this.request('POST', pathname, { 'Content-Type': opts.contentType, ...(length === undefined ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': String(length) }) });
    const answer = await new Promise<Answer>((resolve, reject) => {
      let answered = false;
      let failed = false;
      /** wakes the sender waiting for the socket to drain, when the request ends otherwise */
      let wake: (() => void) | undefined;
      const fail = (err: unknown) => {
        if (answered || failed) return;
        failed = true;
        wake?.();
        req.destroy();
        reject(err instanceof CliError ? err : networkError(err, url, sent));
      };
      req.on('error', fail);
      req.on('response', (res) => {
        // The server answered before the body ended (it refused the upload): stop sending.
        answered = true;
        wake?.();
        BerthClient.readAnswer(res).then(resolve, (err: unknown) => {
          answered = false;
          fail(err);
        });
      });
      const drained = () =>
        new Promise<void>((go) => {
          wake = () => {
            req.off('drain', wake!);
            wake = undefined;
            go();
          };
          req.on('drain', wake);
        });
      (async () => {
        for await (const chunk of body.chunks) {
          if (answered || failed) break;
          const n = chunk.length;
          const more = req.write(chunk, (err) => {
            if (!err) {
              sent += n;
              onSent(n);
            }
            body.recycle(chunk);
          });
          if (!more) await drained();
        }
        if (!answered && !failed) req.end();
      })().catch((err: unknown) => {
        // A local read error: a CliError from the reader, or the file system's own.
        if (!answered) fail(err instanceof CliError ? err : toLocalError(err));
      });
    });
    if (answer.status === 201) return answer.body as ImportReport;
    throw serverError(answer, what);
  }
}

function toLocalError(err: unknown): CliError {
  return new CliError(EXIT.INPUT, `reading the image failed: ${(err as Error).message}`);
}
