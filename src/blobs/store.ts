// The content-addressed blob store on disk. Layout (part of the contract, operators back it up):
//   <dataDir>/blobs/sha256/<first 2 hex>/<64 hex>   committed blobs, immutable, never rewritten
//   <dataDir>/staging/imports/<import id>/<n>        in-flight imports only; empty when idle
//   <dataDir>/staging/uploads/<session id>/          registry upload sessions, kept until finished or expired
// Bytes are hashed while they are written to staging and fsynced before commit renames them into place.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, rmdirSync, fdatasync as fdatasyncCallback, fsync as fsyncCallback, openSync, type ReadStream, statSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Digest, digestFromHex, hexOf } from '../core/digest.js';
import { BerthError, fromSystemError } from '../errors.js';

export interface StagedBlob {
  digest: Digest;
  size: number;
  /** where the bytes are now: a staging file, or the store itself once committed */
  file: string;
  /**
   * true when the bytes were only hashed because the store already held this digest; `file` is then
   * a hard link to the stored blob, which pins it against orphan cleanup until the import ends
   */
  alreadyStored: boolean;
  committed: boolean;
  /**
   * a small blob kept in memory instead of a staging file (an archive's small entries: most are never
   * committed); written to `file` and fsynced only when it is committed
   */
  bytes?: Buffer;
  /** a blob kept in memory whose bytes were written to `file` and fsynced (prepare) */
  written?: boolean;
}

/**
 * How many bytes a blob being staged may hold back while its previous write runs; they go out in
 * one writev. Measured with `npm run bench` (1 GiB): 2 MiB imports as fast as 4 MiB within the
 * noise here and peaks ~6 MiB lower (90–96 against 98–101 MiB RSS); 16 MiB was no faster.
 */
const SINK_BUFFER_BYTES = 2 * 1024 * 1024;

/** How often (in bytes written) a blob being staged checks that the disk keeps its free-space headroom. */
const HEADROOM_CHECK_BYTES = 16 * 1024 * 1024;

/**
 * Write-behind: every this many bytes written, a blob being staged starts an fdatasync in the
 * background (one at a time), so the disk writes the blob back while the rest of it arrives and the
 * fsync before the answer waits only for the tail. Without it the page cache held the whole blob
 * until that fsync: ~120 ms per 256 MiB layer here, in series with every PATCH of a push.
 */
const WRITE_BEHIND_BYTES = 32 * 1024 * 1024;

function storageError(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' ? fromSystemError(err) : err;
}

/**
 * A Writable that hashes every chunk and writes it to an open file (or only hashes, without one).
 * Each write is handed to the thread pool first and the same bytes are hashed while it runs, so
 * hashing (main thread) and writing (a pool thread) overlap instead of taking turns. Chunks that
 * arrive meanwhile wait in the buffer and go out together in one writev.
 */
class HashingFileSink extends Writable {
  size = 0;
  private unchecked = 0;
  private unsynced = 0;
  /** the background fdatasync running, if any (see WRITE_BEHIND_BYTES) */
  private syncing: Promise<void> | undefined;
  /** the first failure a background fdatasync met: it is reported once, so it is kept for synced() */
  private syncFailure: unknown;

  /**
   * `hash` continues a hash already fed with earlier bytes (a resumed upload); a fresh one otherwise.
   * `headroom` is asked every HEADROOM_CHECK_BYTES written and fails the write when space runs low.
   */
  constructor(
    private readonly handle: fs.FileHandle | null,
    readonly hash: Hash = createHash('sha256'),
    private readonly headroom?: () => Promise<void>,
  ) {
    super({ highWaterMark: SINK_BUFFER_BYTES });
  }

  /** Runs `write` now, or after the headroom check when one is due. */
  private checked(length: number, write: () => void, done: (err?: Error | null) => void): void {
    this.unchecked += length;
    if (!this.handle || !this.headroom || this.unchecked < HEADROOM_CHECK_BYTES) return write();
    this.unchecked = 0;
    this.headroom().then(write, (err: Error) => done(err));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.checked(chunk.length, () => this.writeOne(chunk, done), done);
  }

  private writeOne(chunk: Buffer, done: (err?: Error | null) => void): void {
    const written = this.handle?.write(chunk);
    this.hash.update(chunk);
    this.size += chunk.length;
    this.settle(written, done);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: (err?: Error | null) => void): void {
    let length = 0;
    for (const c of chunks) length += c.chunk.length;
    this.checked(length, () => this.writeMany(chunks, done), done);
  }

  private writeMany(chunks: Array<{ chunk: Buffer }>, done: (err?: Error | null) => void): void {
    const buffers = chunks.map((c) => c.chunk);
    const written = this.handle?.writev(buffers);
    for (const b of buffers) {
      this.hash.update(b);
      this.size += b.length;
    }
    this.settle(written, done);
  }

  private settle(written: Promise<unknown> | undefined, done: (err?: Error | null) => void): void {
    if (!written) return done();
    written.then(
      () => {
        this.writeBehind();
        done();
      },
      (err: Error) => done(storageError(err) as Error),
    );
  }

  private writeBehind(): void {
    const handle = this.handle;
    if (!handle || this.size - this.unsynced < WRITE_BEHIND_BYTES || this.syncing) return;
    this.unsynced = this.size;
    this.syncing = handle
      .datasync()
      .catch((err: unknown) => {
        this.syncFailure ??= storageError(err);
      })
      .finally(() => {
        this.syncing = undefined;
      });
  }

  /**
   * Waits for the background fdatasync, if one runs; throws the failure any of them met (the kernel
   * reports a writeback error once, so the final fsync would not see it again). Call before the fsync
   * and before closing the file.
   */
  async synced(): Promise<void> {
    await this.syncing;
    if (this.syncFailure !== undefined) throw this.syncFailure;
  }
}

/**
 * Streams `source` (through `via`, if given) into `sink`; resolves once the bytes are written and its
 * background fdatasync, if one ran, is over. A failure of the stream wins over one of the sync.
 */
async function sinkInto(source: Readable, ...rest: [...Transform[], HashingFileSink]): Promise<void> {
  const sink = rest.at(-1) as HashingFileSink;
  try {
    await pipeline([source, ...rest]);
  } catch (err) {
    await sink.synced().catch(() => undefined);
    throw err;
  }
  await sink.synced();
}

const fdatasyncFd = promisify(fdatasyncCallback);
const fsyncFd = promisify(fsyncCallback);

/**
 * Opens `file` with `flags`, runs `sync` on its descriptor (the only step that waits for the disk,
 * so the only one sent to the thread pool) and closes it. The open, the small write before it and
 * the close are synchronous: for a file of at most SMALL_BLOB_BYTES or a folder they take
 * microseconds, less than the thread-pool round trip each would cost (a small import stages four
 * such files: twelve round trips fewer).
 */
async function syncedFile(file: string, flags: 'wx' | 'r', bytes: Buffer | undefined, sync: (fd: number) => Promise<void>): Promise<void> {
  const fd = openSync(file, flags, 0o644);
  try {
    for (let at = 0; bytes && at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    await sync(fd);
  } finally {
    closeSync(fd);
  }
}

function digestInvalid(claimed: Digest, actual: Digest): BerthError {
  return new BerthError('DIGEST_INVALID', 'blob bytes do not hash to the digest in its name', { expected: claimed, actual });
}

/** fsyncs and closes a staged file; settles to the failure it met (undefined when none), never rejects. */
async function flush(handle: fs.FileHandle): Promise<unknown> {
  let failure: unknown;
  try {
    await handle.sync();
  } catch (err) {
    failure = storageError(err);
  }
  try {
    await handle.close();
  } catch (err) {
    failure ??= err;
  }
  return failure;
}

/**
 * An archive entry of at most this many bytes is kept in memory while staged, up to
 * STAGING_MEMORY_BYTES per staging area (so an import's memory stays bounded): an archive of 20,000
 * small files then costs no file opens, writes and fsyncs for the entries no manifest names (it
 * took 14 s; ~3 s with this).
 */
const SMALL_BLOB_BYTES = 16 * 1024;
const STAGING_MEMORY_BYTES = 2 * 1024 * 1024;

export interface StageOptions {
  /**
   * How many bytes the source will bring (a tar entry's header size), when known: a small blob is
   * then kept in memory until it is committed.
   */
  expectedSize?: number;
  /**
   * Return as soon as the bytes are written and let the fsync run while the caller streams the next
   * blob; `durable()` (or `commit()`) waits for it. Without it, `stage()` returns a durable blob.
   */
  flushLater?: boolean;
}

/** Folder names under staging/<kind>/: import and session ids (UUIDs), never anything that could leave the folder. */
const STAGING_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The kinds of staging folder: an import's lives as long as its request (its recorded state decides
 * when a sweep may remove it); an upload session's survives restarts until it finishes or expires.
 */
export type StagingKind = 'imports' | 'uploads';

export interface BlobStoreOptions {
  /**
   * Uploads fail with INSUFFICIENT_STORAGE while the filesystem has less free space than this, so a
   * full disk stops uploads before it stops the metadata writes (the database sits on the same disk).
   */
  minFreeBytes?: number;
}

export class BlobStore {
  readonly blobsDir: string;
  private readonly stagingDirs: Record<StagingKind, string>;
  readonly minFreeBytes: number;

  private constructor(
    readonly dataDir: string,
    options: BlobStoreOptions,
  ) {
    this.blobsDir = path.join(dataDir, 'blobs', 'sha256');
    this.stagingDirs = { imports: path.join(dataDir, 'staging', 'imports'), uploads: path.join(dataDir, 'staging', 'uploads') };
    this.minFreeBytes = options.minFreeBytes ?? 0;
  }

  static async open(dataDir: string, options: BlobStoreOptions = {}): Promise<BlobStore> {
    const store = new BlobStore(dataDir, options);
    await fs.mkdir(store.blobsDir, { recursive: true });
    for (const dir of Object.values(store.stagingDirs)) await fs.mkdir(dir, { recursive: true });
    return store;
  }

  /** Bytes free for this process on the data folder's filesystem. */
  async freeBytes(): Promise<number> {
    const stat = await fs.statfs(this.dataDir);
    return stat.bavail * stat.bsize;
  }

  /** Fails INSUFFICIENT_STORAGE when the free space is below the headroom (uploads ask before and while they write). */
  readonly ensureHeadroom = async (): Promise<void> => {
    if (this.minFreeBytes <= 0) return;
    const free = await this.freeBytes();
    if (free < this.minFreeBytes) {
      throw new BerthError('INSUFFICIENT_STORAGE', 'the data folder\'s disk is below its free-space headroom', {
        rule: 'BERTH_MIN_FREE_BYTES',
        free_bytes: free,
        min_free_bytes: this.minFreeBytes,
      });
    }
  };

  stagingDir(kind: StagingKind): string {
    return this.stagingDirs[kind];
  }

  blobPath(digest: Digest): string {
    const hex = hexOf(digest);
    return path.join(this.blobsDir, hex.slice(0, 2), hex);
  }

  /**
   * Whether the store holds `digest` now: a synchronous lookup of a cached folder entry (a few
   * microseconds), where the asynchronous stat of a missing file costs a thread-pool round trip and
   * an exception. Used on the commit path of every import; a blob removed right after is found
   * missing by the rename or link that follows.
   */
  holds(digest: Digest): boolean {
    return statSync(this.blobPath(digest), { throwIfNoEntry: false }) !== undefined;
  }

  /** Size of a stored blob, or undefined when the store does not hold it. */
  async stat(digest: Digest): Promise<number | undefined> {
    try {
      return (await fs.stat(this.blobPath(digest))).size;
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async readSmall(file: string, limit: number): Promise<Buffer> {
    const handle = await fs.open(file, 'r');
    try {
      const { size } = await handle.stat();
      const buf = Buffer.alloc(Math.min(size, limit + 1));
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  /** A read stream over a stored blob, optionally a byte range (inclusive end): for readers in this process (fsck). */
  createReadStream(digest: Digest, range?: { start: number; end: number }): ReadStream {
    // 1 MiB reads: at the default 64 KiB a 1 GiB blob costs 16,384 reads
    return createReadStream(this.blobPath(digest), { highWaterMark: 1024 * 1024, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  /**
   * Opens a stored blob to send bytes `range` of it (inclusive end; the whole blob without one), or
   * undefined when the store does not hold it. The caller sends it (BlobSender.sendTo) or closes it.
   */
  async openForSending(digest: Digest, range: { start: number; end: number }): Promise<BlobSender | undefined> {
    try {
      return new BlobSender(await fs.open(this.blobPath(digest), 'r'), range.start, range.end);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Removes a stored blob; a blob already gone is fine. Returns the bytes freed. */
  async remove(digest: Digest): Promise<number> {
    const file = this.blobPath(digest);
    try {
      const { size } = await fs.stat(file);
      await fs.rm(file, { force: true });
      return size;
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return 0;
      throw err;
    }
  }

  /** The digests stored under one two-hex prefix folder (for a walk of the whole store). */
  async listPrefix(prefix: string): Promise<Digest[]> {
    try {
      const names = await fs.readdir(path.join(this.blobsDir, prefix));
      return names.filter((n) => n.length === 64 && n.startsWith(prefix) && /^[a-f0-9]{64}$/.test(n)).map(digestFromHex);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** Every folder under blobs/sha256/ with every name in it (for fsck: strays included). */
  async storeFolders(): Promise<Array<{ prefix: string; names: string[] }>> {
    const out: Array<{ prefix: string; names: string[] }> = [];
    for (const prefix of (await fs.readdir(this.blobsDir)).sort()) {
      const names = await fs.readdir(path.join(this.blobsDir, prefix)).catch(() => undefined);
      if (names === undefined) out.push({ prefix: '', names: [prefix] });
      else if (names.length > 0) out.push({ prefix, names: names.sort() });
    }
    return out;
  }

  /** Removes `blobs/sha256/<rel>` (a stray name fsck found); nothing outside the store. */
  async removeStoreEntry(rel: string): Promise<void> {
    const target = path.resolve(this.dataDir, rel);
    if (!target.startsWith(`${this.blobsDir}${path.sep}`)) throw new Error('not in the blob store');
    await fs.rm(target, { recursive: true, force: true });
  }

  /** Removes `staging/<kind>/<name>` whatever its name (fsck: stale or stray staging). */
  async removeStagingEntry(kind: StagingKind, name: string): Promise<void> {
    if (name === '' || name.includes('/') || name === '.' || name === '..') return;
    await fs.rm(path.join(this.stagingDirs[kind], name), { recursive: true, force: true });
  }

  /** Removes every folder under staging/<kind>/: only called when none of that kind can be in flight. */
  async clearStaging(kind: StagingKind): Promise<number> {
    const dir = this.stagingDirs[kind];
    const names = await fs.readdir(dir);
    await Promise.all(names.map((n) => fs.rm(path.join(dir, n), { recursive: true, force: true })));
    return names.length;
  }

  async stagingEntries(kind: StagingKind): Promise<string[]> {
    return fs.readdir(this.stagingDirs[kind]);
  }

  /** Milliseconds since the folder `staging/<kind>/<id>` last changed; undefined when there is none. */
  async stagingAge(kind: StagingKind, id: string): Promise<number | undefined> {
    if (!STAGING_ID.test(id)) return undefined;
    const stat = await fs.stat(path.join(this.stagingDirs[kind], id)).catch(() => undefined);
    return stat === undefined ? undefined : Date.now() - stat.mtimeMs;
  }

  /** Removes the folder `staging/<kind>/<id>`, whatever its state (its upload is known to be over). */
  async removeStaging(kind: StagingKind, id: string): Promise<void> {
    if (!STAGING_ID.test(id)) return;
    await fs.rm(path.join(this.stagingDirs[kind], id), { recursive: true, force: true });
  }

  /** The staging area of an existing folder `staging/<kind>/<id>` (an upload session continued). */
  openStagingArea(kind: StagingKind, id: string): StagingArea {
    if (!STAGING_ID.test(id)) throw new Error('staging ids are UUIDs');
    return new StagingArea(this, path.join(this.stagingDirs[kind], id));
  }

  /** The file that holds an upload session's bytes. */
  uploadFile(id: string): string {
    if (!STAGING_ID.test(id)) throw new Error('staging ids are UUIDs');
    return path.join(this.stagingDirs.uploads, id, 'data');
  }

  /**
   * Appends `source` to upload session `id`, whose first `offset` bytes are whole, feeding `hash`
   * (which must hold exactly those `offset` bytes) as it writes; fsyncs and returns the new size. Bytes
   * past `offset` left by an append that broke off are cut first, and cut again if this one breaks
   * off, so a session is always resumable at its last whole chunk. More than `maxBytes` in all is
   * UPLOAD_TOO_LARGE.
   */
  async appendToUpload(id: string, source: Readable, offset: number, hash: Hash, maxBytes: number): Promise<number> {
    const file = this.uploadFile(id);
    const handle = await fs.open(file, 'a').catch((err: unknown) => {
      throw storageError(err);
    });
    try {
      if ((await handle.stat()).size !== offset) await handle.truncate(offset);
      await this.ensureHeadroom();
      const sink = new HashingFileSink(handle, hash, this.ensureHeadroom);
      const limit = new Transform({
        transform(chunk: Buffer, _enc, done) {
          if (offset + sink.size + chunk.length > maxBytes) {
            done(new BerthError('UPLOAD_TOO_LARGE', 'blob is larger than the configured limit', { limit: maxBytes }));
            return;
          }
          done(null, chunk);
        },
      });
      await sinkInto(source, limit, sink);
      await handle.sync();
      return offset + sink.size;
    } catch (err) {
      await handle.truncate(offset).catch(() => undefined);
      throw storageError(err);
    } finally {
      await handle.close();
    }
  }

  /** A sha256 of the first `size` bytes of upload session `id` (to continue a session begun elsewhere). */
  async hashUpload(id: string, size: number): Promise<Hash> {
    const hash = createHash('sha256');
    if (size > 0) await pipeline(createReadStream(this.uploadFile(id), { start: 0, end: size - 1 }), new HashingFileSink(null, hash));
    return hash;
  }

  /** fsyncs each folder, all at once (a folder whose entries are already on the disk costs ~0.1 ms). */
  async syncFolders(folders: Iterable<string>): Promise<void> {
    await Promise.all([...folders].map((folder) => syncedFile(folder, 'r', undefined, fsyncFd)));
  }

  /** `headroomChecked`: the caller has just run ensureHeadroom itself. */
  async createStagingArea(kind: StagingKind, id: string, opts: { headroomChecked?: boolean } = {}): Promise<StagingArea> {
    if (!STAGING_ID.test(id)) throw new Error('staging ids are UUIDs');
    if (!opts.headroomChecked) await this.ensureHeadroom();
    const dir = path.join(this.stagingDirs[kind], id);
    // synchronous: a mkdir takes microseconds, less than a thread-pool round trip (see syncedFile)
    mkdirSync(dir, { recursive: true });
    return new StagingArea(this, dir);
  }
}

/**
 * The read side's buffers: a blob is sent through two of them, one being filled from the file while the
 * socket takes the other, and they go back to this pool afterwards. A fs ReadStream instead allocates a
 * new buffer for every read (1 GiB: 1,024 buffers of 1 MiB), and those wait for the garbage collector:
 * measured on a 1 GiB blob, ~32 MiB of dead buffers at a time (peak RSS +30 MiB), and the page faults of
 * fresh memory on every read.
 */
const SEND_CHUNK_BYTES = 1024 * 1024;
/** Buffers the pool keeps between sends (two per send in flight; more are allocated while more are sent). */
const SEND_POOL_MAX = 8;
const sendPool: Buffer[] = [];

function takeSendBuffer(): Buffer {
  return sendPool.pop() ?? Buffer.allocUnsafeSlow(SEND_CHUNK_BYTES);
}

function returnSendBuffer(buffer: Buffer): void {
  if (sendPool.length < SEND_POOL_MAX) sendPool.push(buffer);
}

function connectionClosed(): Error {
  return Object.assign(new Error('the connection closed before the blob was sent'), { code: 'ECONNRESET' });
}

/** A stored blob open for sending: bytes start..end (inclusive) into a Writable such as an HTTP response. */
export class BlobSender {
  private closed = false;

  constructor(
    private readonly handle: fs.FileHandle,
    readonly start: number,
    readonly end: number,
  ) {}

  /**
   * Writes the bytes into `out`, ends it, and closes the file whatever happens. Each buffer is reused
   * only once `out` has taken its bytes (the write's callback), so at most two are in flight; a
   * connection that closes first fails the send with ECONNRESET (a client abort). A file shorter than
   * promised fails it too, and `out` is destroyed, so a client never takes a cut body for a whole one.
   */
  async sendTo(out: Writable): Promise<void> {
    const buffers = [takeSendBuffer(), takeSendBuffer()];
    const writes: Array<Promise<void> | undefined> = [undefined, undefined];
    let gone: ((err: Error) => void) | undefined;
    const closed = new Promise<never>((_resolve, reject) => {
      gone = reject;
    });
    closed.catch(() => undefined);
    const onClose = () => gone?.(connectionClosed());
    out.once('close', onClose);
    let failed = false;
    try {
      if (out.destroyed) throw connectionClosed();
      let position = this.start;
      for (let i = 0; position <= this.end; i ^= 1) {
        if (writes[i]) await Promise.race([writes[i], closed]);
        const buffer = buffers[i]!;
        const { bytesRead } = await this.handle.read(buffer, 0, Math.min(buffer.length, this.end - position + 1), position);
        if (bytesRead === 0) throw new Error('stored blob is shorter than its recorded size');
        position += bytesRead;
        writes[i] = new Promise<void>((resolve, reject) => {
          out.write(buffer.subarray(0, bytesRead), (err) => (err ? reject(err) : resolve()));
        });
        writes[i]!.catch(() => undefined);
      }
      await Promise.race([Promise.all(writes), closed]);
      await Promise.race([new Promise<void>((resolve) => out.end(resolve)), closed]);
    } catch (err) {
      failed = true;
      out.destroy();
      throw err;
    } finally {
      out.off('close', onClose);
      await this.close();
      // a buffer may still be in a write the closed connection never finished: only the others go back
      if (!failed) for (const b of buffers) returnSendBuffer(b);
    }
  }

  /** Closes the file (a send that does not happen: HEAD, or a failure before the body). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

/**
 * One upload's staging folder: stage blobs while hashing, then commit them into the store or abort
 * all. It is the server's implementation of archive/'s BlobSink (matched by shape, not imported).
 */
export class StagingArea {
  private counter = 0;
  private aborted = false;
  /** bytes of small blobs kept in memory (see SMALL_BLOB_BYTES) */
  private inMemory = 0;
  /** fsyncs still running or done, by staged file; each settles to its failure (undefined when none) */
  private readonly flushes = new Map<string, Promise<unknown>>();
  /** moves into the store still running, by blob */
  private readonly moving = new Map<StagedBlob, Promise<boolean>>();
  /** every blob staged here, by the handle stage() returned (callers hold it as archive/'s ReceivedBlob) */
  private readonly staged = new Map<object, StagedBlob>();

  constructor(private readonly store: BlobStore, readonly dir: string) {}

  /**
   * Streams `source` into staging while hashing it. When `claimed` names a digest the store already
   * holds, the bytes are only hashed (a blob already stored is not written twice) and must match.
   */
  async stage(source: Readable, claimed?: Digest, options: StageOptions = {}): Promise<StagedBlob> {
    if (this.aborted) throw new Error('staging area was aborted');
    const file = path.join(this.dir, String(this.counter++));
    const expected = options.expectedSize;
    if (expected !== undefined && expected <= SMALL_BLOB_BYTES && this.inMemory + expected <= STAGING_MEMORY_BYTES) {
      this.inMemory += expected;
      // read without a pipeline: for thousands of tiny entries its per-call cost is most of the time
      const hash = createHash('sha256');
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of source as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > expected) throw new BerthError('ARCHIVE_INVALID', 'an entry holds more bytes than its header says', null);
        hash.update(chunk);
        chunks.push(chunk);
      }
      const digest = digestFromHex(hash.digest('hex'));
      // the same check as a pinned blob's below (the store holds what the name claims)
      if (claimed && digest !== claimed && this.store.holds(claimed)) throw digestInvalid(claimed, digest);
      return this.keep({ digest, size, file, alreadyStored: false, committed: false, bytes: Buffer.concat(chunks) });
    }
    // A small blob is kept in memory above, so it needs no pin: should orphan cleanup remove its stored
    // copy meanwhile, the commit writes it out again from memory.
    if (claimed && (await this.pin(claimed, file))) {
      const sink = new HashingFileSink(null);
      await pipeline(source, sink);
      const digest = digestFromHex(sink.hash.digest('hex'));
      if (digest !== claimed) throw digestInvalid(claimed, digest);
      return this.keep({ digest, size: sink.size, file, alreadyStored: true, committed: false });
    }
    const handle = await fs.open(file, 'wx', 0o644).catch((err: unknown) => {
      throw storageError(err);
    });
    let blob: StagedBlob;
    try {
      const sink = new HashingFileSink(handle, undefined, this.store.ensureHeadroom);
      await sinkInto(source, sink);
      blob = { digest: digestFromHex(sink.hash.digest('hex')), size: sink.size, file, alreadyStored: false, committed: false };
    } catch (err) {
      await handle.close();
      throw err;
    }
    const flushed = flush(handle);
    this.flushes.set(file, flushed);
    if (!options.flushLater) await this.throwIfFailed(flushed);
    return this.keep(blob);
  }

  private keep(blob: StagedBlob): StagedBlob {
    this.staged.set(blob, blob);
    return blob;
  }

  /**
   * Takes a file already in this folder (an upload session's bytes, hashed as they arrived) as a
   * staged blob of `digest` and `size`, once it is on the disk.
   */
  async adopt(name: string, digest: Digest, size: number): Promise<StagedBlob> {
    const file = path.join(this.dir, name);
    const handle = await fs.open(file, 'r+');
    const failure = await flush(handle);
    if (failure !== undefined) throw failure;
    return this.keep({ digest, size, file, alreadyStored: false, committed: false });
  }

  /** Reads a staged (or committed) blob back: at most `limit + 1` bytes. */
  async readBack(received: { digest: Digest; size: number }, limit: number): Promise<Buffer> {
    const blob = this.staged.get(received);
    if (!blob) throw new Error('read of a blob this staging area did not stage');
    if (blob.bytes && !blob.committed) return blob.bytes.subarray(0, limit + 1);
    return this.store.readSmall(blob.file, limit);
  }

  /** Waits until every blob staged so far is on the disk; throws the first fsync failure. */
  async durable(): Promise<void> {
    for (const flushed of this.flushes.values()) await this.throwIfFailed(flushed);
  }

  private async throwIfFailed(flushed: Promise<unknown> | undefined): Promise<void> {
    const failure = await flushed;
    if (failure !== undefined) throw failure;
  }

  /**
   * Hard-links the stored blob `digest` into staging, so that orphan cleanup cannot take it from
   * under this upload. False when the store does not hold it.
   */
  private async pin(digest: Digest, file: string): Promise<boolean> {
    if (!this.store.holds(digest)) return false;
    try {
      await fs.link(this.store.blobPath(digest), file);
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return false;
      throw storageError(err);
    }
  }

  /**
   * Makes the staged bytes of `blobs` durable in staging, all at once (their fsyncs run together and
   * the filesystem joins them): a blob kept in memory is written out, a staged file's fsync awaited.
   * Blobs the store already holds are skipped (moveIn drops their copy). Needs no lock: nothing
   * enters the store here, so commits call it before they take one.
   */
  async prepare(received: ReadonlyArray<{ digest: Digest; size: number }>): Promise<void> {
    await Promise.all(
      received.map(async (r) => {
        const blob = this.get(r);
        if (blob.committed || blob.written) return;
        if (this.store.holds(blob.digest)) return;
        await this.makeDurable(blob);
      }),
    );
  }

  /**
   * Moves staged blobs into the store (atomic renames) and starts the fsyncs of the folders they
   * entered; `durable` settles once every name is on the disk. A blob the store already holds (a
   * pinned one, or a small one such as a manifest sent again) only drops its staged copy; its folder
   * is fsynced all the same, in case the process that stored it has not finished its own fsync yet,
   * unless `committed(digest)` says a committed row names it (its commit waited for that fsync).
   * Callers hold the blob-store lock (lockBlobStoreShared in db/blobs.ts), so orphan cleanup cannot
   * take a stored one meanwhile, and must not count a blob as stored before `durable` settles.
   */
  async moveIn(
    received: ReadonlyArray<{ digest: Digest; size: number }>,
    committed: (digest: Digest) => boolean = () => false,
  ): Promise<{ durable: Promise<void> }> {
    const folders = new Set<string>();
    await Promise.all(
      received.map((r) => {
        const blob = this.get(r);
        // one move per blob: a second caller (a failed import holding its whole blobs) waits for the first
        const moving = this.moving.get(blob) ?? this.moveOne(blob, folders).finally(() => this.moving.delete(blob));
        this.moving.set(blob, moving);
        return moving.then((moved) => {
          if (moved || !committed(blob.digest)) folders.add(path.dirname(blob.file));
        });
      }),
    );
    const durable = folders.size > 0 ? this.store.syncFolders(folders) : Promise.resolve();
    durable.catch(() => undefined); // awaited by the caller; never unhandled meanwhile
    return { durable };
  }

  /** True when this call renamed the blob into the store; false when the store held it already. */
  private async moveOne(blob: StagedBlob, folders: Set<string>): Promise<boolean> {
    if (blob.committed) {
      // moved in by an earlier attempt of the same commit, whose fsync this one must not outrun
      if (!this.store.holds(blob.digest)) throw new Error(`blob ${blob.digest} left the store between two attempts of its commit`);
      return true;
    }
    const target = this.store.blobPath(blob.digest);
    const parent = path.dirname(target);
    if (this.store.holds(blob.digest)) {
      if (!blob.bytes || blob.written) await fs.rm(blob.file, { force: true });
      blob.file = target;
      blob.committed = true;
      return false;
    }
    await this.makeDurable(blob);
    try {
      await fs.rename(blob.file, target);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT' || !(await fs.stat(blob.file).catch(() => undefined))) throw storageError(err);
      // the first blob of its prefix: the folder's own name must reach the disk too
      try {
        if ((await fs.mkdir(parent, { recursive: true })) !== undefined) folders.add(this.store.blobsDir);
        await fs.rename(blob.file, target);
      } catch (again) {
        throw storageError(again);
      }
    }
    blob.file = target;
    blob.committed = true;
    return true;
  }

  /** Moves one staged blob into the store and waits until it is durable there (see moveIn). */
  async commit(received: { digest: Digest; size: number }): Promise<void> {
    await (await this.moveIn([received])).durable;
  }

  private get(received: { digest: Digest; size: number }): StagedBlob {
    const blob = this.staged.get(received);
    if (!blob) throw new Error('commit of a blob this staging area did not stage');
    return blob;
  }

  /** The staged bytes on the disk: written out (a blob kept in memory) or their fsync awaited. */
  private async makeDurable(blob: StagedBlob): Promise<void> {
    if (blob.bytes && !blob.written) {
      await this.writeOut(blob.file, blob.bytes);
      blob.written = true;
    }
    await this.throwIfFailed(this.flushes.get(blob.file));
  }

  /** Writes a blob kept in memory to its staging file, durably, before it is moved into the store. */
  private async writeOut(file: string, bytes: Buffer): Promise<void> {
    try {
      await syncedFile(file, 'wx', bytes, fdatasyncFd);
    } catch (err) {
      throw storageError(err);
    }
  }

  /** Removes the staging folder and whatever is left in it. Safe to call more than once. */
  async abort(): Promise<void> {
    this.aborted = true;
    await Promise.all(this.flushes.values());
    // After a commit the folder is mostly empty: one rmdir, and the recursive removal only when not.
    try {
      rmdirSync(this.dir);
    } catch {
      await fs.rm(this.dir, { recursive: true, force: true });
    }
  }
}
