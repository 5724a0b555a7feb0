// Reads an image on the local disk for `berth push`, the way the server reads an upload: the same
// entry rules (archive/read-archive.ts) and the same format readers (archive/formats/), fed by a
// BlobSink that keeps no copy. A file whose name claims its digest (`<hex>`, `<hex>.tar`,
// `blobs/sha256/<hex>`, a docker-archive's `<hex>.json`), or a `docker save` `<id>/layer.tar` whose
// config names it (`rootfs.diff_ids`), is taken at its word and not hashed: the server verifies every
// byte it is sent, and what it is not sent it already holds. Then streams the tar to upload, without
// the entries the repository holds — never a temporary file, and memory does not grow with the image:
// - a folder: the tar is built on the fly (a header, then the file's bytes);
// - an uncompressed tar: indexed by its 512-byte headers alone (archive/tar-header.ts), so the plan
//   costs a few KiB of reads; the upload is the byte ranges of the entries that travel, copied as they
//   are (headers included);
// - a gzip-compressed tar: it must be decompressed to be read at all, and cannot be seeked, so it is
//   read twice: a scan (through the server's own reader) to list and plan it, and a second pass that
//   filters its entries into the upload.
import type { Hash } from 'node:crypto';
import { closeSync, createReadStream, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type tar from 'tar-stream';
import { claimOf, layerDiffIdClaims, parseEntries } from '../archive/formats/docker-archive.js';
import { pickReader } from '../archive/formats/index.js';
import type { ArchiveFormat, ImportPlan, ReaderContext } from '../archive/plan.js';
import { findRoot } from '../archive/plan-builder.js';
import { addEntry, type ArchiveListing, emptyListing, normalizeEntryName } from '../archive/listing.js';
import type { BlobSink, ReceivedBlob } from '../archive/sink.js';
import { BLOCK, encodeHeader, END_OF_ARCHIVE, type IndexedEntry, indexTar, padding } from '../archive/tar-header.js';
import { type Digest, digestFromHex } from '../core/digest.js';
import { MAX_MANIFEST_BYTES } from '../core/manifest.js';
import { BerthError } from '../errors.js';
import { mark } from './timing.js';

/** Read size for file content: large reads, large socket writes. */
const CHUNK = 1024 * 1024;
/** Files up to this size are kept in memory while a gzip archive is scanned (manifests, configs). */
const KEEP_BYTES = MAX_MANIFEST_BYTES + 1;
/** …but no more than this in all; a file not kept is read again from the archive when a reader asks. */
const KEEP_BUDGET = 256 * 1024 * 1024;

/** A file, folder or link of a folder image, or an entry of an uncompressed archive, and where its bytes are. */
interface LocalEntry {
  /** the name as the folder or the tar header gives it (not yet normalized) */
  name: string;
  type: string;
  linkname: string | null;
  size: number;
  mode: number;
  /** seconds */
  mtime: number;
  /** a folder's file: its path */
  file?: string;
  /** an archive entry: its byte range in the archive */
  range?: Pick<IndexedEntry, 'start' | 'offset' | 'end'>;
}

export interface LocalImage {
  /** the path the user gave */
  input: string;
  kind: 'directory' | 'archive' | 'gzip';
  format: ArchiveFormat;
  plan: ImportPlan;
  listing: ArchiveListing;
  /** a folder's or an uncompressed archive's entries, in order */
  entries: LocalEntry[];
  /** digests taken from the image's own word, by normalized entry name (names, and docker-archive diff ids) */
  claims: Map<string, Digest>;
  /** entries that must travel whatever the repository holds (configs whose diff ids name layers left out) */
  keep: Set<string>;
  /** bytes of all files in the image */
  totalBytes: number;
  /** an archive's size on the disk */
  fileSize: number;
}

/** A blob of the image the upload may leave out: its digest, size and the entry names that carry it. */
export interface OmittableBlob {
  digest: Digest;
  size: number;
  entries: string[];
}

/** A missing, unreadable or changing input, as the one-line message the CLI prints. */
export class LocalInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalInputError';
  }
}

/**
 * A sha256 hash. node:crypto (a few ms to load) loads when first needed, not with the CLI: for a
 * folder or a tarball that is after the preflight went out, while the server answers it.
 */
async function sha256(): Promise<Hash> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256');
}

/** Reads `length` bytes at `position` of an open file; fewer only at its end. */
async function readAt(handle: fs.FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buf, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buf.subarray(0, filled);
}

function changed(input: string, file: string): LocalInputError {
  return new LocalInputError(`${input}: ${file === input ? '' : `${path.relative(input, file)} `}changed while it was read (shorter than it was)`);
}

/** The sha256 of `length` bytes of `file` from `position`, read through one buffer; fails when the file has fewer. */
async function sha256Of(file: string, position: number, length: number, input: string): Promise<{ digest: Digest; size: number }> {
  const hash = await sha256();
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(length, 1)));
  const handle = await fs.open(file, 'r');
  try {
    for (let done = 0; done < length; ) {
      const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, length - done), position + done);
      if (bytesRead === 0) throw changed(input, file);
      hash.update(buf.subarray(0, bytesRead));
      done += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return { digest: digestFromHex(hash.digest('hex')), size: length };
}

/**
 * The read buffers of an upload: bytes are read into one, written to the socket, and the buffer comes
 * back (`give`) once the socket has taken them, to be read into again. A fresh 1 MiB buffer per chunk
 * cost the CLI page faults and garbage collections, more CPU than the copies themselves, on a machine
 * where the server needs every core it can get.
 */
class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly waiting: Array<(buf: Buffer) => void> = [];
  private readonly all = new Map<ArrayBufferLike, Buffer>();

  constructor(count: number, size: number) {
    for (let i = 0; i < count; i++) {
      const buf = Buffer.allocUnsafeSlow(size);
      this.all.set(buf.buffer, buf);
      this.free.push(buf);
    }
  }

  take(): Promise<Buffer> {
    const buf = this.free.pop();
    return buf ? Promise.resolve(buf) : new Promise((resolve) => this.waiting.push(resolve));
  }

  /** A chunk (or a part of one) this pool handed out, whose bytes are no longer needed. */
  give(chunk: Buffer): void {
    const buf = this.all.get(chunk.buffer);
    if (!buf) return;
    const next = this.waiting.shift();
    if (next) next(buf);
    else this.free.push(buf);
  }
}

/** A piece of an upload: bytes in memory (a tar header, padding), or a range of a file. */
type Piece = Buffer | { file: string; position: number; length: number };

/**
 * The pieces, in order, as full buffers of the pool (the last one shorter): small pieces are copied
 * in, file ranges read straight into them. Fails when a file has fewer bytes than its range.
 */
async function* pooled(pool: BufferPool, pieces: Iterable<Piece>, input: string): AsyncGenerator<Buffer> {
  let buf = await pool.take();
  let used = 0;
  for (const piece of pieces) {
    if (Buffer.isBuffer(piece)) {
      for (let from = 0; from < piece.length; ) {
        const n = piece.copy(buf, used, from);
        from += n;
        used += n;
        if (used === buf.length) {
          yield buf;
          buf = await pool.take();
          used = 0;
        }
      }
      continue;
    }
    if (piece.length === 0) continue;
    const handle = await fs.open(piece.file, 'r');
    try {
      for (let done = 0; done < piece.length; ) {
        const { bytesRead } = await handle.read(buf, used, Math.min(buf.length - used, piece.length - done), piece.position + done);
        if (bytesRead === 0) throw changed(input, piece.file);
        done += bytesRead;
        used += bytesRead;
        if (used === buf.length) {
          yield buf;
          buf = await pool.take();
          used = 0;
        }
      }
    } finally {
      await handle.close();
    }
  }
  if (used > 0) yield buf.subarray(0, used);
  else pool.give(buf);
}

/** Where the bytes of a blob the listing holds are, for readers asking for a manifest or config. */
type Origin = { kind: 'entry'; entry: LocalEntry; file: string } | { kind: 'kept'; bytes: Buffer } | { kind: 'rescan'; name: string };

class LocalSink implements BlobSink {
  readonly origins = new Map<ReceivedBlob, Origin>();
  private kept = 0;
  constructor(private readonly rescan: (name: string, limit: number) => Promise<Buffer>) {}

  /** An entry of a gzip archive as it streams by: counted (claimed) or hashed, kept in memory when small. */
  async stage(source: Readable, claimed?: Digest): Promise<ReceivedBlob> {
    const hash = claimed ? undefined : await sha256();
    const chunks: Buffer[] = [];
    let size = 0;
    await pipeline(
      source,
      new Writable({
        write: (chunk: Buffer, _enc, done) => {
          hash?.update(chunk);
          size += chunk.length;
          if (size <= KEEP_BYTES && this.kept + size <= KEEP_BUDGET) chunks.push(chunk);
          done();
        },
      }),
    );
    const blob: ReceivedBlob = { digest: claimed ?? digestFromHex(hash!.digest('hex')), size };
    if (size <= KEEP_BYTES && this.kept + size <= KEEP_BUDGET) {
      this.kept += size;
      this.origins.set(blob, { kind: 'kept', bytes: Buffer.concat(chunks) });
    }
    return blob;
  }

  /** A file of a folder or an entry of an uncompressed archive: its claim, or its hash. */
  async stageEntry(entry: LocalEntry, file: string, input: string, claimed: Digest | undefined): Promise<ReceivedBlob> {
    const position = entry.range?.offset ?? 0;
    const blob: ReceivedBlob = claimed ? { digest: claimed, size: entry.size } : await sha256Of(file, position, entry.size, input);
    this.origins.set(blob, { kind: 'entry', entry, file });
    return blob;
  }

  /** Bytes a reader made itself (a docker-archive's manifest). */
  async stageBytes(bytes: Buffer): Promise<ReceivedBlob> {
    const blob: ReceivedBlob = { digest: digestFromHex((await sha256()).update(bytes).digest('hex')), size: bytes.length };
    this.origins.set(blob, { kind: 'kept', bytes });
    return blob;
  }

  nameFor(blob: ReceivedBlob, name: string): void {
    if (!this.origins.has(blob)) this.origins.set(blob, { kind: 'rescan', name });
  }

  async durable(): Promise<void> {}

  async readBack(blob: ReceivedBlob, limit: number): Promise<Buffer> {
    const origin = this.origins.get(blob);
    if (!origin) throw new Error('read of a blob this sink did not see');
    switch (origin.kind) {
      case 'kept':
        return origin.bytes.subarray(0, limit + 1);
      case 'entry':
        return readEntry(origin.file, origin.entry, limit);
      case 'rescan':
        return this.rescan(origin.name, limit);
    }
  }
}

/** At most `limit + 1` bytes of a folder's file or an archive's entry. */
async function readEntry(file: string, entry: LocalEntry, limit: number): Promise<Buffer> {
  const handle = await fs.open(file, 'r');
  try {
    return await readAt(handle, entry.range?.offset ?? 0, Math.min(entry.size, limit + 1));
  } finally {
    await handle.close();
  }
}

// Listing the image (the input's stat, a folder's walk, an archive's headers) uses the synchronous
// calls: nothing else is in flight yet (the preflight waits for the listing), and one small read or
// stat at a time through libuv's thread pool cost a round trip each.

function statInput(input: string): Stats {
  try {
    return statSync(input);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') throw new LocalInputError(`${input}: no such file or folder`);
    if (code === 'EACCES') throw new LocalInputError(`${input}: permission denied`);
    throw new LocalInputError(`${input}: ${(err as Error).message}`);
  }
}

/** The files, folders and links under `root`, by posix name relative to it, in a stable order. */
function walk(root: string, rel = ''): LocalEntry[] {
  const out: LocalEntry[] = [];
  const names = readdirSync(path.join(root, rel)).sort();
  for (const n of names) {
    const name = rel === '' ? n : `${rel}/${n}`;
    const full = path.join(root, name);
    const stat = lstatSync(full);
    const type = stat.isDirectory() ? 'directory' : stat.isFile() ? 'file' : stat.isSymbolicLink() ? 'symlink' : 'other';
    out.push({
      name,
      type,
      linkname: type === 'symlink' ? readlinkSync(full) : null,
      size: type === 'file' ? stat.size : 0,
      mode: type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644,
      mtime: Math.floor(stat.mtimeMs / 1000),
      file: full,
    });
    if (type === 'directory') out.push(...walk(root, name));
  }
  return out;
}

/** `length` bytes at `position` of an open file (fewer only at its end), read at once. */
function readAtSync(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const n = readSync(fd, buf, filled, length - filled, position + filled);
    if (n === 0) break;
    filled += n;
  }
  return buf.subarray(0, filled);
}

/** The entries of an uncompressed tar, by its headers alone. */
async function indexArchive(file: string, size: number): Promise<LocalEntry[]> {
  const fd = openSync(file, 'r');
  try {
    const out: LocalEntry[] = [];
    for await (const e of indexTar(async (position, length) => readAtSync(fd, position, length), size)) {
      out.push({ name: e.name, type: e.type, linkname: e.linkname, size: e.size, mode: e.mode, mtime: e.mtime, range: { start: e.start, offset: e.offset, end: e.end } });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** The uncompressed tar stream of a gzip archive (zlib loads only for one). */
async function gunzipped(file: string): Promise<Readable> {
  const { createGunzip } = await import('node:zlib');
  const out = new PassThrough({ highWaterMark: CHUNK });
  pipeline(createReadStream(file, { highWaterMark: CHUNK }), createGunzip({ chunkSize: 256 * 1024 }), out).catch((err: unknown) => out.destroy(err as Error));
  return out;
}

/** Reads one entry of a gzip archive again (a large manifest the scan did not keep). */
async function rescanEntry(file: string, wanted: string, limit: number): Promise<Buffer> {
  const { default: tarStream } = await import('tar-stream');
  const extract = tarStream.extract();
  const feed = pipeline(await gunzipped(file), extract);
  let found: Buffer | undefined;
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    let size = 0;
    const take = found === undefined && normalize(entry.header.name) === wanted;
    for await (const chunk of entry as AsyncIterable<Buffer>) {
      if (take && size <= limit) {
        chunks.push(chunk);
        size += chunk.length;
      }
    }
    if (take) found = Buffer.concat(chunks).subarray(0, limit + 1);
  }
  await feed;
  if (!found) throw new LocalInputError(`${file}: changed while it was read (${wanted} is gone)`);
  return found;
}

function normalize(name: string): string {
  return name.split('/').filter((p) => p !== '' && p !== '.').join('/');
}

function isGzip(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = readAtSync(fd, 0, 2);
    return head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/**
 * The digests a docker-archive's `manifest.json` gives its `<id>/layer.tar` entries through their
 * configs' diff ids (see archive/formats/docker-archive.ts), and the configs that say so. Nothing
 * when the image is no docker-archive or its manifest does not parse (the reader then says why).
 */
async function diffIdClaims(fileNames: string[], read: (name: string) => Promise<Buffer | undefined>): Promise<{ claims: Map<string, Digest>; configs: Set<string> }> {
  const none = { claims: new Map<string, Digest>(), configs: new Set<string>() };
  if (!fileNames.some((n) => /(^|\/)[^/]+\/layer\.tar$/.test(n) && !claimOf(n))) return none;
  const listing = emptyListing();
  for (const n of fileNames) listing.files.set(n, { digest: '' as Digest, size: 0 });
  let root: string | undefined;
  let images: ReturnType<typeof parseEntries>;
  try {
    root = findRoot(listing, 'manifest.json');
    if (root === undefined) return none;
    const bytes = await read(`${root}manifest.json`);
    if (!bytes) return none;
    images = parseEntries(bytes);
  } catch {
    return none;
  }
  const claims = await layerDiffIdClaims(images, root, read);
  const configs = new Set<string>();
  for (const image of images) {
    try {
      const layers = image.Layers.map((l) => root + normalizeEntryName(l));
      if (layers.some((l) => claims.has(l))) configs.add(root + normalizeEntryName(image.Config));
    } catch {
      // an unsafe name: the reader refuses it
    }
  }
  return { claims, configs };
}

export interface ReadOptions {
  /** what the destination repository holds of a digest the image leaves out (asked only for incomplete images) */
  repositoryBlob: ReaderContext['repositoryBlob'];
  /**
   * Told, as soon as a folder or an uncompressed archive is listed and before its manifests are read,
   * the digests its file names claim (`<hex>`, `<hex>.tar`, `blobs/sha256/<hex>`, `<hex>.json`): the
   * blobs the upload may leave out are among them, so the question to the server can go out while
   * the image is planned.
   */
  listed?: (claimed: Digest[]) => void;
}

/**
 * Reads the image at `input` (a folder: skopeo `dir:` or OCI layout; or an archive of any format, gzip
 * or not) into the plan the server would make of it. Bad content is the server's BerthError codes.
 */
export async function readLocalImage(input: string, opts: ReadOptions): Promise<LocalImage> {
  const stat = statInput(input);
  const sink = new LocalSink((name, limit) => rescanEntry(input, name, limit));
  let listing: ArchiveListing;
  let kind: LocalImage['kind'];
  let entries: LocalEntry[] = [];
  let claims = new Map<string, Digest>();
  let keep = new Set<string>();
  if (stat.isDirectory() || (stat.isFile() && !isGzip(input))) {
    kind = stat.isDirectory() ? 'directory' : 'archive';
    entries = kind === 'directory' ? walk(input) : await indexArchive(input, stat.size);
    const fileOf = (e: LocalEntry) => e.file ?? input;
    // Which regular file each normalized name is (a duplicate or unsafe name: the listing below refuses it).
    const files = new Map<string, LocalEntry>();
    for (const e of entries) {
      if (e.type !== 'file' && e.type !== 'contiguous-file') continue;
      try {
        const name = normalizeEntryName(e.name);
        if (!files.has(name)) files.set(name, e);
      } catch {
        // refused below, in order
      }
    }
    const claimed = new Set<Digest>();
    for (const name of files.keys()) {
      const digest = claimOf(name);
      if (digest) claimed.add(digest);
    }
    mark('listed');
    opts.listed?.([...claimed]);
    const diff = await diffIdClaims([...files.keys()], async (name) => {
      const e = files.get(name);
      if (!e) return undefined;
      const bytes = await readEntry(fileOf(e), e, MAX_MANIFEST_BYTES);
      return bytes.length > MAX_MANIFEST_BYTES ? undefined : bytes;
    });
    keep = diff.configs;
    listing = emptyListing();
    for (const e of entries) {
      if (e.type === 'pax-global-header') continue; // copied as it is; tar-stream reads it the same way
      await addEntry(listing, e, {
        stage: (name) => {
          const claimed = claimOf(name) ?? diff.claims.get(name);
          if (claimed) claims.set(name, claimed);
          return sink.stageEntry(e, fileOf(e), input, claimed);
        },
        skip: () => undefined,
      });
    }
  } else if (stat.isFile()) {
    kind = 'gzip';
    // The streaming reader (and tar-stream) load only for a gzip archive.
    const { readArchive } = await import('../archive/read-archive.js');
    listing = await readArchive(createReadStream(input, { highWaterMark: CHUNK }), sink, {
      maxBytes: Number.MAX_SAFE_INTEGER,
      onFile: (name, blob) => sink.nameFor(blob, name),
    });
    for (const name of listing.files.keys()) {
      const claimed = claimOf(name);
      if (claimed) claims.set(name, claimed);
    }
    // The scan hashed the `<id>/layer.tar` entries; their configs' diff ids say the same when they agree.
    const diff = await diffIdClaims([...listing.files.keys()], async (name) => {
      const blob = listing.files.get(name);
      if (!blob) return undefined;
      const bytes = await sink.readBack(blob, MAX_MANIFEST_BYTES);
      return bytes.length > MAX_MANIFEST_BYTES ? undefined : bytes;
    });
    for (const [name, digest] of diff.claims) if (listing.files.get(name)?.digest === digest) claims.set(name, digest);
    keep = diff.configs;
  } else {
    throw new LocalInputError(`${input}: not a file or folder`);
  }
  const reader = pickReader(listing);
  const plan = await reader.plan(listing, {
    readSmall: async (blob, where) => {
      const bytes = await sink.readBack(blob, MAX_MANIFEST_BYTES);
      if (bytes.length > MAX_MANIFEST_BYTES) throw new BerthError('MANIFEST_INVALID', 'manifest is larger than 4 MiB', { entry: where, limit: MAX_MANIFEST_BYTES });
      return bytes;
    },
    stageBytes: (bytes) => sink.stageBytes(bytes),
    repositoryBlob: opts.repositoryBlob,
  });
  if (reader.format !== 'docker-archive') {
    // Diff ids name layers in a docker-archive only: elsewhere a name is a claim by itself or none.
    for (const name of claims.keys()) if (claimOf(name) === undefined) claims.delete(name);
    keep = new Set();
  }
  let totalBytes = 0;
  for (const blob of listing.files.values()) totalBytes += blob.size;
  return { input, kind, format: reader.format, plan, listing, entries, claims, keep, totalBytes, fileSize: stat.isFile() ? stat.size : 0 };
}

/**
 * The blobs of the plan that the upload could leave out: config and layers the image carries in
 * entries whose names claim their digest, or (`docker save`'s `<id>/layer.tar`) whose config's diff
 * ids name them, so that the server knows what is missing without them. Manifests always travel;
 * so do the configs that name left-out layers.
 */
export function omittableBlobs(image: LocalImage): OmittableBlob[] {
  const carriers = new Map<Digest, string[]>();
  for (const [name, blob] of image.listing.files) carriers.set(blob.digest, [...(carriers.get(blob.digest) ?? []), name]);
  const out: OmittableBlob[] = [];
  for (const b of image.plan.blobs) {
    if (!b.blob) continue;
    const entries = carriers.get(b.digest) ?? [];
    // Every file holding these bytes must be named for them, or the server could not tell what is left out.
    if (entries.length === 0 || !entries.every((name) => image.claims.get(name) === b.digest && !image.keep.has(name))) continue;
    out.push({ digest: b.digest, size: b.size, entries });
  }
  return out;
}

/** The upload: its exact length when known up front (a folder, an uncompressed archive), and its bytes. */
export interface Upload {
  length: number | undefined;
  /** `application/x-tar`, or `application/gzip` for a gzip archive sent as it is */
  contentType: string;
  /** about how many bytes it carries (exact when `length` is) */
  estimate: number;
  /** the bytes, in order */
  chunks(): AsyncIterable<Buffer> | Promise<AsyncIterable<Buffer>>;
  /** a chunk the socket has taken: its buffer may be read into again (the chunks of a pool) */
  recycle(chunk: Buffer): void;
}

const TAR = 'application/x-tar';

/** tar's size for a file entry of `size` bytes: a header and the content padded to 512. */
const tarSize = (size: number) => BLOCK + Math.ceil(size / BLOCK) * BLOCK;

/** Four buffers of 1 MiB: one being read into, the others on their way into the socket. */
function fromFiles(input: string, pieces: Piece[]): Pick<Upload, 'chunks' | 'recycle'> {
  const pool = new BufferPool(4, CHUNK);
  return { chunks: () => pooled(pool, pieces, input), recycle: (chunk) => pool.give(chunk) };
}

/**
 * The tar to upload: every entry of the image in its own order except the files named in `omit`.
 * A folder's is built as it is read; an uncompressed archive's is its own bytes, the left-out entries
 * cut out; a gzip archive is read again and filtered entry by entry.
 */
export function upload(image: LocalImage, omit: ReadonlySet<string>): Upload {
  const travels = (e: LocalEntry) => {
    if (e.type === 'pax-global-header') return true;
    try {
      return !omit.has(normalizeEntryName(e.name));
    } catch {
      return true;
    }
  };
  if (image.kind === 'directory') {
    const pieces: Piece[] = [];
    for (const e of image.entries.filter(travels)) {
      pieces.push(folderHeader(e));
      if (e.type !== 'file' || e.size === 0) continue;
      pieces.push({ file: e.file!, position: 0, length: e.size }, padding(e.size));
    }
    pieces.push(END_OF_ARCHIVE);
    const length = pieces.reduce((sum, p) => sum + p.length, 0);
    return { length, contentType: TAR, estimate: length, ...fromFiles(image.input, pieces) };
  }
  if (image.kind === 'archive') {
    // Adjacent entries that travel are one range of the archive.
    const ranges: Array<{ file: string; position: number; length: number }> = [];
    for (const e of image.entries.filter(travels)) {
      const last = ranges.at(-1);
      if (last && last.position + last.length === e.range!.start) last.length = e.range!.end - last.position;
      else ranges.push({ file: image.input, position: e.range!.start, length: e.range!.end - e.range!.start });
    }
    const pieces: Piece[] = [...ranges, END_OF_ARCHIVE];
    const length = pieces.reduce((sum, p) => sum + p.length, 0);
    return { length, contentType: TAR, estimate: length, ...fromFiles(image.input, pieces) };
  }
  if (omit.size === 0) {
    // A gzip archive of which nothing stays home goes as it is: no second decompression, fewer bytes.
    const length = image.fileSize;
    return { length, contentType: 'application/gzip', estimate: length, ...fromFiles(image.input, [{ file: image.input, position: 0, length }]) };
  }
  let estimate = 2 * BLOCK;
  for (const [name, blob] of image.listing.files) if (!omit.has(name)) estimate += tarSize(blob.size);
  estimate += BLOCK * (image.listing.links.size + image.listing.dirs.size);
  return { length: undefined, contentType: TAR, estimate, chunks: () => filteredGzip(image.input, omit), recycle: () => undefined };
}

function folderHeader(e: LocalEntry): Buffer {
  if (e.type === 'directory') return encodeHeader({ name: `${e.name}/`, type: 'directory', size: 0, mode: e.mode, mtime: e.mtime });
  if (e.type === 'symlink') return encodeHeader({ name: e.name, type: 'symlink', size: 0, mode: e.mode, mtime: e.mtime, linkname: e.linkname });
  if (e.type === 'file') return encodeHeader({ name: e.name, type: 'file', size: e.size, mode: e.mode, mtime: e.mtime });
  // A socket or device in the folder: the listing refused it already.
  throw new LocalInputError(`${e.file}: not a file, folder or link`);
}

type EntryHeader = Parameters<tar.Pack['entry']>[0];

function addToPack(pack: tar.Pack, header: EntryHeader, content?: Readable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (!content) {
      pack.entry(header, (err) => (err ? reject(err) : resolve()));
      return;
    }
    const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
    // tar-stream's entry is a streamx Writable: fed by hand, with backpressure.
    (async () => {
      for await (const chunk of content as AsyncIterable<Buffer>) {
        if (!sink.write(chunk)) await new Promise<void>((go) => sink.once('drain', go));
      }
      (sink as unknown as Writable).end();
    })().catch((err: unknown) => {
      sink.destroy(err as Error);
      reject(err);
    });
  });
}

/** A gzip archive decompressed again, without the entries in `omit`, as a plain tar. */
async function filteredGzip(file: string, omit: ReadonlySet<string>): Promise<Readable> {
  const { default: tarStream } = await import('tar-stream');
  const pack = tarStream.pack();
  (async () => {
    const extract = tarStream.extract();
    const feed = pipeline(await gunzipped(file), extract);
    feed.catch(() => undefined);
    for await (const entry of extract) {
      const header = entry.header;
      if (omit.has(normalize(header.name))) {
        entry.resume();
        continue;
      }
      const isFile = header.type === 'file' || header.type === 'contiguous-file';
      await addToPack(pack, { ...header, pax: null }, isFile ? (entry as unknown as Readable) : undefined);
      if (!isFile) entry.resume();
    }
    await feed;
  })().then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err as Error),
  );
  return Readable.from(pack as unknown as AsyncIterable<Buffer>, { objectMode: false });
}
