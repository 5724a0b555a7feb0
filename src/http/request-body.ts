// Upload bodies, read so that every request ends: a cap on uploads in flight (overall and per token),
// an idle timer that fails an upload whose client stopped sending (CLIENT_TIMEOUT), and a stream of
// the body that the services may consume and destroy without destroying the request, so that a
// failure can still be answered on the connection. A body left unread after the answer is not drained
// for ever: the connection is closed after a short linger.
import type { Context } from 'koa';
import { PassThrough, type Readable } from 'node:stream';
import { BerthError } from '../errors.js';
import type { Services } from '../services/deps.js';

/** How long a connection whose body was not read to its end may linger after the answer (so it arrives). */
const LINGER_MS = 2000;

/** Counts uploads in flight in this process, overall and per token. */
class UploadGate {
  private total = 0;
  private readonly byToken = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly perToken: number,
  ) {}

  /** Takes a place for `token`, or fails (503 overall, 429 for one token); returns its release. */
  enter(token: string): () => void {
    if (this.total >= this.max) {
      throw new BerthError('UPLOADS_BUSY', 'too many uploads are in flight; try again shortly', { limit: this.max });
    }
    const mine = this.byToken.get(token) ?? 0;
    if (mine >= this.perToken) {
      throw new BerthError('TOO_MANY_UPLOADS', 'this token has too many uploads in flight; try again shortly', { limit: this.perToken });
    }
    this.total++;
    this.byToken.set(token, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.byToken.get(token) ?? 1) - 1;
      if (left === 0) this.byToken.delete(token);
      else this.byToken.set(token, left);
    };
  }
}

const gates = new WeakMap<Services, UploadGate>();

function gateOf(s: Services): UploadGate {
  let gate = gates.get(s);
  if (!gate) {
    gate = new UploadGate(s.config.maxConcurrentUploads, s.config.maxUploadsPerToken);
    gates.set(s, gate);
  }
  return gate;
}

/**
 * Every socket read of an upload is a fresh buffer (up to 64 KiB) that dies once it is hashed and
 * written, but V8 frees such buffers only at a young-generation collection, which it starts on its own
 * only when 32 MiB of them wait (twice its default semi-space, whatever --max-semi-space-size says)
 * or when young objects fill the semi-space; an upload allocates few objects per buffer, so ~32 MiB
 * of dead buffers ride along with every big upload (measured: 1 GiB pushed with skopeo, peak RSS
 * 110 MiB against 72 MiB idle). When the process runs with --expose-gc (npm start does), a young
 * collection is asked for after every COLLECT_EVERY_BYTES of upload bodies received in the process,
 * which bounds them to about that much; one costs well under a millisecond.
 */
const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;
const collectYoung = (globalThis as { gc?: (options: { type: 'minor' }) => void }).gc;
let receivedSinceCollection = 0;

function received(bytes: number): void {
  if (!collectYoung) return;
  receivedSinceCollection += bytes;
  if (receivedSinceCollection < COLLECT_EVERY_BYTES) return;
  receivedSinceCollection = 0;
  collectYoung({ type: 'minor' });
}

function clientAbort(): Error {
  return Object.assign(new Error('the client went away before the upload finished'), { code: 'ECONNABORTED' });
}

/**
 * A stream of the request body that the caller owns: destroying it stops reading the request (which
 * stays paused) but leaves the connection open for the answer. The client going away fails it with
 * an abort error; `fail(err)` fails it with any other (the idle timer's CLIENT_TIMEOUT).
 */
function borrow(req: Context['req']): { body: Readable; fail(err: Error): void } {
  const body = new PassThrough();
  const onData = (chunk: Buffer) => {
    received(chunk.length);
    if (!body.write(chunk)) req.pause();
  };
  const onDrain = () => req.resume();
  const onEnd = () => body.end();
  const onError = (err: Error) => body.destroy(err.message === 'aborted' ? clientAbort() : err);
  const onClose = () => {
    if (!req.complete) body.destroy(clientAbort());
  };
  const detach = () => {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
    req.off('close', onClose);
    body.off('drain', onDrain);
    req.pause();
  };
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
  req.on('close', onClose);
  body.on('drain', onDrain);
  body.once('close', detach);
  // Its failure reaches whoever reads it (pipeline sees the errored state); unread, it is no crash.
  body.on('error', () => undefined);
  if (req.complete && req.readableEnded) body.end();
  return { body, fail: (err) => body.destroy(err) };
}

/**
 * Fails the upload with CLIENT_TIMEOUT when, while Berth waits for the client (not while Berth itself
 * holds the body back), no byte arrives for `idleMs`, or fewer than `minRate` bytes a second arrive
 * over a window of `idleMs` (a body trickled a byte a second). Returns the stop function.
 */
function idleTimer(req: Context['req'], idleMs: number, minRate: number, fail: (err: Error) => void): () => void {
  const socket = req.socket;
  const seconds = Math.round(idleMs / 1000);
  let lastRead = socket.bytesRead;
  let lastProgress = Date.now();
  let windowStart = Date.now();
  let windowBytes = socket.bytesRead;
  const timer = setInterval(
    () => {
      if (req.complete) return stop();
      const read = socket.bytesRead;
      const at = Date.now();
      // paused: Berth's own backpressure (the disk is slower than the client); not the client's fault
      if (req.isPaused()) {
        lastRead = read;
        lastProgress = at;
        windowStart = at;
        windowBytes = read;
        return;
      }
      if (read !== lastRead) {
        lastRead = read;
        lastProgress = at;
      } else if (at - lastProgress >= idleMs) {
        stop();
        fail(new BerthError('CLIENT_TIMEOUT', `the client sent nothing for ${seconds} s`, { idle_seconds: seconds }));
        return;
      }
      if (at - windowStart >= idleMs) {
        const rate = ((read - windowBytes) * 1000) / (at - windowStart);
        if (rate < minRate) {
          stop();
          fail(
            new BerthError('CLIENT_TIMEOUT', `the client sent ${Math.floor(rate)} bytes a second over ${seconds} s, below the minimum of ${minRate}`, {
              idle_seconds: seconds,
              min_bytes_per_second: minRate,
            }),
          );
          return;
        }
        windowStart = at;
        windowBytes = read;
      }
    },
    Math.max(50, Math.min(1000, Math.floor(idleMs / 4))),
  );
  timer.unref();
  const stop = () => clearInterval(timer);
  return stop;
}

/**
 * Runs `read` with the request body of an upload under the upload rules above. `token` is who
 * uploads (the principal's name). A failure with the body not read to its end answers with
 * `Connection: close`, and the connection is closed shortly after the answer.
 */
export async function withUploadBody<T>(s: Services, ctx: Context, token: string, read: (body: Readable) => Promise<T>): Promise<T> {
  const release = gateOf(s).enter(token);
  const { body, fail } = borrow(ctx.req);
  const stopTimer = idleTimer(ctx.req, s.config.uploadIdleSeconds * 1000, s.config.uploadMinBytesPerSecond, fail);
  try {
    return await read(body);
  } catch (err) {
    if (!ctx.req.complete) closeAfterAnswer(ctx);
    throw err;
  } finally {
    stopTimer();
    release();
    body.destroy();
  }
}

/** Answers with `Connection: close`, then closes the connection once the answer is out (or soon after). */
export function closeAfterAnswer(ctx: Context): void {
  ctx.set('Connection', 'close');
  const { res, req } = ctx;
  const socket = req.socket;
  const close = () => {
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };
  if (res.writableFinished) close();
  else res.once('finish', close).once('close', close);
}

/** Whether the client of `ctx` has gone (its connection closed before its request was whole). */
export function clientGone(ctx: Context): boolean {
  return !ctx.req.complete && (ctx.req.destroyed || ctx.req.socket.destroyed);
}
