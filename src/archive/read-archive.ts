// Reads an uploaded archive as a stream: optional gzip (detected by its bytes), then tar entries.
// Every regular file is staged while it is hashed; links and folders are recorded; anything else,
// and any name that could leave the archive, is refused. Nothing is interpreted here: the format
// readers decide what the names mean.
import { PassThrough, type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';

// tar-stream's entries are streamx readables; Node's stream functions take them as they are.
type TarSource = Readable & { header: tar.Header };
import { BerthError, isClientAbort } from '../errors.js';
import { addEntry, type ArchiveListing, claimedDigest, emptyListing } from './listing.js';
import type { BlobSink, ReceivedBlob } from './sink.js';

export { addEntry, type ArchiveLink, type ArchiveListing, claimedDigest, emptyListing, type EntryHeader, normalizeEntryName } from './listing.js';

export interface ReadArchiveOptions {
  /** limit on the (decompressed) archive bytes */
  maxBytes: number;
  /** a gzip upload may decompress to at most this many times the bytes received… */
  maxRatio?: number;
  /** …once it has decompressed to more than this many bytes */
  ratioFloor?: number;
  /** most entries an archive may hold (each costs memory in the listing and time to stage) */
  maxEntries?: number;
  /** called with each chunk's length as it arrives, before decompression */
  onBytes?: (n: number) => void;
  /** called with each regular file once it arrived whole and was hashed (before the archive ends) */
  onFile?: (name: string, blob: ReceivedBlob) => void;
}

/**
 * Counts the bytes as they arrive (before decompression), for the report and the ratio rule.
 */
class Counter extends Transform {
  total = 0;
  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.total += chunk.length;
    this.onBytes?.(chunk.length);
    done(null, chunk);
  }
}

/**
 * Fails the stream once the decompressed bytes pass the size limit, or pass `ratio` times the bytes
 * received once beyond `floor` (a gzip bomb is refused before it fills the disk).
 */
class SizeLimit extends Transform {
  total = 0;
  constructor(
    private readonly options: ReadArchiveOptions,
    private readonly received: Counter | undefined,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.total += chunk.length;
    const { maxBytes, maxRatio, ratioFloor } = this.options;
    if (this.total > maxBytes) {
      done(new BerthError('UPLOAD_TOO_LARGE', 'archive is larger than the configured limit', { rule: 'BERTH_MAX_UPLOAD_BYTES', limit: maxBytes }));
      return;
    }
    if (this.received && maxRatio !== undefined && this.total > (ratioFloor ?? 0) && this.total > maxRatio * this.received.total) {
      done(
        new BerthError('UPLOAD_TOO_LARGE', 'the archive decompresses to more than the allowed ratio of the bytes sent', {
          rule: 'BERTH_MAX_DECOMPRESSION_RATIO',
          ratio: maxRatio,
          floor: ratioFloor ?? 0,
          received: this.received.total,
          decompressed: this.total,
        }),
      );
      return;
    }
    done(null, chunk);
  }
}

/**
 * The first `want` bytes of `source` (fewer when it ends sooner), put back so that the stream still
 * starts with them.
 */
async function peek(source: Readable, want: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < want) {
    const chunk = source.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      length += chunk.length;
      continue;
    }
    if (source.readableEnded) break;
    if (source.destroyed) throw source.errored ?? Object.assign(new Error('the upload ended early'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
    await new Promise<void>((resolve) => {
      const done = () => {
        source.off('readable', done);
        source.off('end', done);
        source.off('close', done);
        resolve();
      };
      source.on('readable', done);
      source.on('end', done);
      source.on('close', done);
    });
  }
  const head = Buffer.concat(chunks);
  if (head.length > 0) source.unshift(head);
  return head;
}

/**
 * tar-stream's extractor, with every parse error failing the stream. It reports a parse error through
 * the pending write's callback; when the error is found while an entry is being read (no write
 * pending), that callback is a no-op and the error was lost: the upload then never ended.
 */
const ExtractBase = Object.getPrototypeOf(tar.extract()).constructor as new () => tar.Extract;
class Extract extends ExtractBase {
  _continueWrite(err: Error | null): void {
    if (err && !this.destroying) this.destroy(err);
    (ExtractBase.prototype as unknown as { _continueWrite(err: Error | null): void })._continueWrite.call(this, err);
  }
}

function isTarFormatError(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : '';
  return /tar|Unexpected end of data|header/i.test(msg) && !(err instanceof BerthError);
}

function isGzipError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/**
 * Streams `source` (an archive, maybe gzip-compressed) into `staging`. Each tar entry is consumed
 * exactly once: staged, or drained when it has no content worth keeping. `source` is consumed and
 * destroyed on failure: a caller that must still answer on the same connection passes a stream of
 * its own (see http/request-body.ts).
 */
export async function readArchive(source: Readable, staging: BlobSink, options: ReadArchiveOptions): Promise<ArchiveListing> {
  const listing = emptyListing();
  const extract = new Extract();
  let feed: Promise<void> | undefined;
  let feedError: unknown;
  try {
    const head = await peek(source, 2);
    if (head.length === 0) throw new BerthError('ARCHIVE_INVALID', 'the archive is empty', null);
    listing.gzip = head[0] === 0x1f && head[1] === 0x8b;
    const counter = new Counter(options.onBytes);
    const limiter = new SizeLimit(options, listing.gzip ? counter : undefined);
    feed = listing.gzip ? pipeline(source, counter, createGunzip(), limiter, extract) : pipeline(source, counter, limiter, extract);
    feed.catch((err: unknown) => {
      feedError = err;
    });
    let entries = 0;
    for await (const entry of extract) {
      if (options.maxEntries !== undefined && ++entries > options.maxEntries) {
        (entry as unknown as TarSource).resume();
        throw new BerthError('UPLOAD_TOO_LARGE', 'the archive holds more entries than the configured limit', { rule: 'BERTH_MAX_ARCHIVE_ENTRIES', limit: options.maxEntries });
      }
      await readEntry(entry as unknown as TarSource, listing, staging, options.onFile);
    }
    await feed;
    // Each blob was fsynced while the next one streamed in; the import goes on once all are on the disk.
    await staging.durable();
  } catch (err) {
    // Stop reading at once; the feed then settles, and its error (the first cause) is known.
    source.destroy();
    extract.destroy();
    await feed?.catch(() => undefined);
    throw classify(feedError ?? err, err);
  }
  return listing;
}

function classify(first: unknown, second: unknown): unknown {
  for (const err of [first, second]) {
    if (err instanceof BerthError) return err;
  }
  for (const err of [first, second]) {
    if (isClientAbort(err)) return err;
    if (isGzipError(err)) return new BerthError('ARCHIVE_INVALID', 'upload is not valid gzip', { reason: (err as Error).message });
    if (isTarFormatError(err)) return new BerthError('ARCHIVE_INVALID', 'upload is not a valid tar archive', { reason: (err as Error).message });
  }
  return first ?? second;
}

async function readEntry(entry: TarSource, listing: ArchiveListing, staging: BlobSink, onFile?: ReadArchiveOptions['onFile']): Promise<void> {
  const blob = await addEntry(listing, entry.header, {
    stage: (name) => {
      // A Node stream takes the entry over at once: tar-stream may end or fail the entry before the
      // sink has opened its file, and Node's pipeline does not see that on a streamx stream later.
      const body = new PassThrough();
      pipeline(entry, body).catch(() => undefined);
      return staging.stage(body, claimedDigest(name), { flushLater: true, expectedSize: entry.header.size });
    },
    skip: () => entry.resume(),
  });
  if (blob) onFile?.(blob.name, blob.blob);
}
