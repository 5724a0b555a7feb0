// Reads an uploaded archive as a stream: optional gzip (detected by its bytes), then tar entries.
// Every regular file is staged while it is hashed; links and folders are recorded; anything else,
// and any name that could leave the archive, is refused. Nothing is interpreted here: the format
// readers decide what the names mean.
import path from 'node:path/posix';
import { Readable, Transform, type TransformCallback } from 'node:stream';
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

/** Fails the stream once more than `limit` bytes went through (the decompressed-size limit). */
class SizeLimit extends Transform {
  total = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.total += chunk.length;
    if (this.total > this.limit) {
      done(new BerthError('UPLOAD_TOO_LARGE', 'archive is larger than the configured limit', { limit: this.limit }));
      return;
    }
    done(null, chunk);
  }
}

/** Splits off the first bytes of a stream to look at them, and returns a stream of all of it. */
async function sniff(source: Readable, want: number, onBytes?: (n: number) => void): Promise<{ head: Buffer; body: Readable }> {
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const it = {
    async next(): Promise<IteratorResult<Buffer>> {
      const next = await iterator.next();
      if (!next.done) onBytes?.(next.value.length);
      return next;
    },
  };
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < want) {
    const next = await it.next();
    if (next.done) {
      ended = true;
      break;
    }
    chunks.push(next.value);
    length += next.value.length;
  }
  async function* all(): AsyncGenerator<Buffer> {
    yield* chunks;
    if (ended) return;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { head: Buffer.concat(chunks), body: Readable.from(all(), { objectMode: false }) };
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
 * exactly once: staged, or drained when it has no content worth keeping.
 */
export async function readArchive(source: Readable, staging: BlobSink, options: ReadArchiveOptions): Promise<ArchiveListing> {
  const listing = emptyListing();
  const { head, body } = await sniff(source, 2, options.onBytes);
  if (head.length === 0) throw new BerthError('ARCHIVE_INVALID', 'the archive is empty', null);
  listing.gzip = head[0] === 0x1f && head[1] === 0x8b;
  const limiter = new SizeLimit(options.maxBytes);
  const extract = tar.extract();
  const feed = listing.gzip ? pipeline(body, createGunzip(), limiter, extract) : pipeline(body, limiter, extract);
  let feedError: unknown;
  feed.catch((err: unknown) => {
    feedError = err;
  });

  try {
    for await (const entry of extract) {
      await readEntry(entry as unknown as TarSource, listing, staging, options.onFile);
    }
    await feed;
    // Each blob was fsynced while the next one streamed in; the import goes on once all are on the disk.
    await staging.durable();
  } catch (err) {
    body.destroy();
    source.resume();
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
    stage: (name) => staging.stage(entry, claimedDigest(name), { flushLater: true }),
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
