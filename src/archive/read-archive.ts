// Reads an uploaded archive as a stream: optional gzip (detected by its bytes), then tar entries.
// Every regular file is staged while it is hashed; links and folders are recorded; anything else,
// and any name that could leave the archive, is refused. Nothing is interpreted here: the format
// readers decide what the names mean.
import path from 'node:path/posix';
import { PassThrough, type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';

// tar-stream's entries are streamx readables; Node's stream functions take them as they are.
type TarSource = Readable & { header: tar.Header };
import { type Digest, digestFromHex, isHex } from '../core/digest.js';
import { BerthError, isClientAbort } from '../errors.js';
import type { BlobSink, ReceivedBlob } from './sink.js';

export interface ArchiveLink {
  kind: 'symlink' | 'hardlink';
  /** the target as a normalized path inside the archive */
  target: string;
}

/** What an archive holds, by normalized entry name ("a/b", no leading "./"). */
export interface ArchiveListing {
  files: Map<string, ReceivedBlob>;
  links: Map<string, ArchiveLink>;
  dirs: Set<string>;
  /** entry names in archive order, for error details */
  order: string[];
  gzip: boolean;
}

export interface ReadArchiveOptions {
  /** limit on the (decompressed) archive bytes */
  maxBytes: number;
  /** a gzip upload may decompress to at most this many times the bytes received… */
  maxRatio?: number;
  /** …once it has decompressed to more than this many bytes */
  ratioFloor?: number;
  /** called with each chunk's length as it arrives, before decompression */
  onBytes?: (n: number) => void;
  /** called with each regular file once it arrived whole and was hashed (before the archive ends) */
  onFile?: (name: string, blob: ReceivedBlob) => void;
}

export function emptyListing(): ArchiveListing {
  return { files: new Map(), links: new Map(), dirs: new Set(), order: [], gzip: false };
}

/** Normalizes a tar entry name, refusing absolute names and any `..` component. */
export function normalizeEntryName(raw: string): string {
  if (raw.includes('\0')) throw new BerthError('ENTRY_UNSAFE', 'entry name contains a NUL byte', { entry: raw.slice(0, 200) });
  if (raw.startsWith('/')) throw new BerthError('ENTRY_UNSAFE', 'entry name is an absolute path', { entry: raw.slice(0, 200) });
  const parts: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new BerthError('ENTRY_UNSAFE', 'entry name contains ..', { entry: raw.slice(0, 200) });
    parts.push(part);
  }
  return parts.join('/');
}

/** The digest an entry's name claims: `<hex>`, `<hex>.tar` or `blobs/sha256/<hex>` style names. */
export function claimedDigest(name: string): Digest | undefined {
  const base = path.basename(name);
  const hex = base.endsWith('.tar') ? base.slice(0, -4) : base;
  return isHex(hex) ? digestFromHex(hex) : undefined;
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
    for await (const entry of extract) {
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
      return staging.stage(body, claimedDigest(name), { flushLater: true });
    },
    skip: () => entry.resume(),
  });
  if (blob) onFile?.(blob.name, blob.blob);
}

/** What an archive entry says of itself: the tar header fields the listing rules read. */
export interface EntryHeader {
  name: string;
  type: string | null | undefined;
  linkname?: string | null | undefined;
}

/**
 * Records one archive entry in `listing` by the rules every reader relies on: names normalized and
 * kept inside the archive, no duplicates, regular files staged (`content.stage`), folders and links
 * recorded, anything else refused. Each entry's content is consumed exactly once: staged or skipped.
 * Used for uploads (readArchive) and by the CLI for archives and folders on its own disk.
 */
export async function addEntry(
  listing: ArchiveListing,
  header: EntryHeader,
  content: { stage(name: string): Promise<ReceivedBlob>; skip(): void },
): Promise<{ name: string; blob: ReceivedBlob } | undefined> {
  let name: string;
  try {
    name = normalizeEntryName(header.name);
  } catch (err) {
    content.skip();
    throw err;
  }
  const seen = listing.files.has(name) || listing.links.has(name);
  switch (header.type) {
    case 'directory':
      content.skip();
      if (name !== '') listing.dirs.add(name);
      return undefined;
    case 'file':
    case 'contiguous-file': {
      if (seen || name === '') {
        content.skip();
        throw new BerthError('ENTRY_DUPLICATE', 'archive holds the same entry twice', { entry: name });
      }
      listing.order.push(name);
      const blob = await content.stage(name);
      listing.files.set(name, blob);
      return { name, blob };
    }
    case 'symlink':
    case 'link': {
      content.skip();
      if (seen) throw new BerthError('ENTRY_DUPLICATE', 'archive holds the same entry twice', { entry: name });
      const linkname = header.linkname ?? '';
      if (linkname.startsWith('/')) throw new BerthError('ENTRY_UNSAFE', 'link points outside the archive', { entry: name, target: linkname });
      // A symlink resolves against its own folder; a hard link names an entry from the archive root.
      const joined = header.type === 'symlink' ? path.join(path.dirname(name), linkname) : linkname;
      const resolved = path.normalize(joined);
      if (resolved === '..' || resolved.startsWith('../') || resolved.startsWith('/')) {
        throw new BerthError('ENTRY_UNSAFE', 'link points outside the archive', { entry: name, target: linkname });
      }
      listing.order.push(name);
      listing.links.set(name, { kind: header.type === 'symlink' ? 'symlink' : 'hardlink', target: normalizeEntryName(resolved) });
      return undefined;
    }
    default:
      content.skip();
      throw new BerthError('ENTRY_UNSAFE', 'archive holds an entry that is not a file, folder or link', { entry: name, type: header.type });
  }
}
