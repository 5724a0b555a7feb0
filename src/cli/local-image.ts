// Reads an image on the local disk for `berth push`, the way the server reads an upload: the same
// entry rules (archive/read-archive.ts) and the same format readers (archive/formats/), fed by a
// BlobSink that keeps no copy. A file whose name claims its digest (`<hex>`, `<hex>.tar`,
// `blobs/sha256/<hex>`) is taken at its word and not hashed: the server verifies every byte it is
// sent, and what it is not sent it already holds. Then streams the tar to upload, without the
// entries the repository holds: built on the fly from a folder, or filtered on the fly from an
// archive (gzip or not) — never a temporary file, and memory does not grow with the image.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { pickReader } from '../archive/formats/index.js';
import type { ArchiveFormat, ImportPlan, ReaderContext } from '../archive/plan.js';
import { addEntry, type ArchiveListing, claimedDigest, emptyListing, readArchive } from '../archive/read-archive.js';
import type { BlobSink, ReceivedBlob } from '../archive/sink.js';
import { type Digest, digestFromHex } from '../core/digest.js';
import { MAX_MANIFEST_BYTES } from '../core/manifest.js';
import { BerthError } from '../errors.js';

/** Files up to this size are kept in memory while an archive is scanned (manifests, configs). */
const KEEP_BYTES = MAX_MANIFEST_BYTES + 1;
/** …but no more than this in all; a file not kept is read again from the archive when a reader asks. */
const KEEP_BUDGET = 256 * 1024 * 1024;

export interface LocalImage {
  /** the path the user gave */
  input: string;
  kind: 'directory' | 'archive';
  format: ArchiveFormat;
  plan: ImportPlan;
  listing: ArchiveListing;
  /** bytes of all files in the image */
  totalBytes: number;
}

/** A blob of the image the upload may leave out: its digest, size and the entry names that carry it. */
export interface OmittableBlob {
  digest: Digest;
  size: number;
  entries: string[];
}

/** The digest a file's name claims, as the readers take it: blobs, layers, and docker-archive configs. */
function claimOf(name: string): Digest | undefined {
  const config = /(?:^|\/)([a-f0-9]{64})\.json$/.exec(name);
  return config ? digestFromHex(config[1]!) : claimedDigest(name);
}

async function sha256Of(source: Readable): Promise<{ digest: Digest; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(
    source,
    new Writable({
      write(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done();
      },
    }),
  );
  return { digest: digestFromHex(hash.digest('hex')), size };
}

/** Where the bytes of a scanned file can be found again. */
type Origin = { kind: 'file'; path: string } | { kind: 'kept'; bytes: Buffer } | { kind: 'entry'; name: string };

class LocalSink implements BlobSink {
  readonly origins = new Map<ReceivedBlob, Origin>();
  private kept = 0;
  constructor(private readonly rescan: (name: string, limit: number) => Promise<Buffer>) {}

  /** An archive entry: counted (claimed) or hashed, and kept in memory when small. */
  async stage(source: Readable, claimed?: Digest): Promise<ReceivedBlob> {
    const hash = claimed ? undefined : createHash('sha256');
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

  /** A file of a folder: its claim, or its hash; read again from the disk when a reader asks. */
  async stageFile(file: string, size: number, claimed: Digest | undefined): Promise<ReceivedBlob> {
    const blob: ReceivedBlob = claimed ? { digest: claimed, size } : await sha256Of(createReadStream(file, { highWaterMark: 1024 * 1024 }));
    this.origins.set(blob, { kind: 'file', path: file });
    return blob;
  }

  /** Bytes a reader made itself (a docker-archive's manifest). */
  stageBytes(bytes: Buffer): ReceivedBlob {
    const blob: ReceivedBlob = { digest: digestFromHex(createHash('sha256').update(bytes).digest('hex')), size: bytes.length };
    this.origins.set(blob, { kind: 'kept', bytes });
    return blob;
  }

  nameFor(blob: ReceivedBlob, name: string): void {
    if (!this.origins.has(blob)) this.origins.set(blob, { kind: 'entry', name });
  }

  async durable(): Promise<void> {}

  async readBack(blob: ReceivedBlob, limit: number): Promise<Buffer> {
    const origin = this.origins.get(blob);
    if (!origin) throw new Error('read of a blob this sink did not see');
    switch (origin.kind) {
      case 'kept':
        return origin.bytes.subarray(0, limit + 1);
      case 'file': {
        const handle = await fs.open(origin.path, 'r');
        try {
          const buf = Buffer.alloc(Math.min(blob.size, limit + 1));
          const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
          return buf.subarray(0, bytesRead);
        } finally {
          await handle.close();
        }
      }
      case 'entry':
        return this.rescan(origin.name, limit);
    }
  }
}

/** A missing or unreadable input, as the one-line message the CLI prints. */
export class LocalInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalInputError';
  }
}

async function statInput(input: string): Promise<import('node:fs').Stats> {
  try {
    return await fs.stat(input);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') throw new LocalInputError(`${input}: no such file or folder`);
    if (code === 'EACCES') throw new LocalInputError(`${input}: permission denied`);
    throw new LocalInputError(`${input}: ${(err as Error).message}`);
  }
}

/** The files and folders under `root`, by posix name relative to it, in a stable order. */
async function walk(root: string, rel = ''): Promise<Array<{ name: string; full: string; stat: import('node:fs').Stats }>> {
  const out: Array<{ name: string; full: string; stat: import('node:fs').Stats }> = [];
  const names = (await fs.readdir(path.join(root, rel))).sort();
  for (const n of names) {
    const name = rel === '' ? n : `${rel}/${n}`;
    const full = path.join(root, name);
    const stat = await fs.lstat(full);
    out.push({ name, full, stat });
    if (stat.isDirectory()) out.push(...(await walk(root, name)));
  }
  return out;
}

/** The uncompressed tar stream of an archive file (gzip detected by its bytes). */
async function tarStreamOf(file: string): Promise<Readable> {
  const handle = await fs.open(file, 'r');
  const head = Buffer.alloc(2);
  try {
    await handle.read(head, 0, 2, 0);
  } finally {
    await handle.close();
  }
  const raw = createReadStream(file, { highWaterMark: 1024 * 1024 });
  if (head[0] !== 0x1f || head[1] !== 0x8b) return raw;
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  pipeline(raw, createGunzip(), out).catch((err: unknown) => out.destroy(err as Error));
  return out;
}

/** Reads one entry of an archive again (a large manifest the scan did not keep). */
async function readArchiveEntry(file: string, wanted: string, limit: number): Promise<Buffer> {
  const extract = tar.extract();
  const feed = pipeline(await tarStreamOf(file), extract);
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

export interface ReadOptions {
  /** what the destination repository holds of a digest the image leaves out (asked only for incomplete images) */
  repositoryBlob: ReaderContext['repositoryBlob'];
}

/**
 * Reads the image at `input` (a folder: skopeo `dir:` or OCI layout; or an archive of any format, gzip
 * or not) into the plan the server would make of it. Bad content is the server's BerthError codes.
 */
export async function readLocalImage(input: string, opts: ReadOptions): Promise<LocalImage> {
  const stat = await statInput(input);
  const sink = new LocalSink((name, limit) => readArchiveEntry(input, name, limit));
  let listing: ArchiveListing;
  let kind: LocalImage['kind'];
  if (stat.isDirectory()) {
    kind = 'directory';
    listing = emptyListing();
    for (const e of await walk(input)) {
      const type = e.stat.isDirectory() ? 'directory' : e.stat.isFile() ? 'file' : e.stat.isSymbolicLink() ? 'symlink' : 'other';
      await addEntry(listing, { name: e.name, type, linkname: type === 'symlink' ? await fs.readlink(e.full) : null }, {
        stage: (name) => sink.stageFile(e.full, e.stat.size, claimOf(name)),
        skip: () => undefined,
      });
    }
  } else if (stat.isFile()) {
    kind = 'archive';
    const source = createReadStream(input, { highWaterMark: 1024 * 1024 });
    listing = await readArchive(source, sink, {
      maxBytes: Number.MAX_SAFE_INTEGER,
      onFile: (name, blob) => sink.nameFor(blob, name),
    });
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
    stageBytes: async (bytes) => sink.stageBytes(bytes),
    repositoryBlob: opts.repositoryBlob,
  });
  let totalBytes = 0;
  for (const blob of listing.files.values()) totalBytes += blob.size;
  return { input, kind, format: reader.format, plan, listing, totalBytes };
}

/**
 * The blobs of the plan that the upload could leave out: config and layers the image carries in
 * entries whose names claim their digest (so the server knows what is missing without them).
 * Manifests always travel; so do layers only an unnamed entry carries (`docker save`'s `<id>/layer.tar`).
 */
export function omittableBlobs(image: LocalImage): OmittableBlob[] {
  const out: OmittableBlob[] = [];
  for (const b of image.plan.blobs) {
    if (!b.blob) continue;
    const entries = [...image.listing.files].filter(([name, blob]) => blob.digest === b.digest && claimOf(name) === b.digest).map(([name]) => name);
    // Every file holding these bytes must be named for them, or the server could not tell what is left out.
    const all = [...image.listing.files].filter(([, blob]) => blob.digest === b.digest).length;
    if (entries.length > 0 && entries.length === all) out.push({ digest: b.digest, size: b.size, entries });
  }
  return out;
}

/** tar's size for a file entry of `size` bytes: a header and the content padded to 512. */
const tarSize = (size: number) => 512 + Math.ceil(size / 512) * 512;

/** About how many bytes the upload of `image` without the `omit` entries carries (for a progress bar). */
export function uploadSize(image: LocalImage, omit: ReadonlySet<string>): number {
  let bytes = 1024;
  for (const [name, blob] of image.listing.files) if (!omit.has(name)) bytes += tarSize(blob.size);
  bytes += 512 * (image.listing.links.size + image.listing.dirs.size);
  return bytes;
}

/**
 * The tar to upload: every entry of the image in its own order except the files named in `omit`.
 * Folders are packed as they are read; archives are read again and filtered entry by entry.
 */
export function uploadStream(image: LocalImage, omit: ReadonlySet<string>): Readable {
  const pack = tar.pack();
  const fill = image.kind === 'directory' ? packDirectory(image, omit, pack) : packFiltered(image.input, omit, pack);
  fill.then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err as Error),
  );
  return Readable.from(pack as unknown as AsyncIterable<Buffer>, { objectMode: false });
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

async function packDirectory(image: LocalImage, omit: ReadonlySet<string>, pack: tar.Pack): Promise<void> {
  for (const e of await walk(image.input)) {
    if (omit.has(e.name)) continue;
    const mtime = e.stat.mtime;
    if (e.stat.isDirectory()) await addToPack(pack, { name: `${e.name}/`, type: 'directory', mode: 0o755, mtime });
    else if (e.stat.isSymbolicLink()) await addToPack(pack, { name: e.name, type: 'symlink', linkname: await fs.readlink(e.full), mode: 0o777, mtime });
    else if (e.stat.isFile()) {
      await addToPack(pack, { name: e.name, type: 'file', size: e.stat.size, mode: 0o644, mtime }, createReadStream(e.full, { highWaterMark: 1024 * 1024 }));
    }
  }
}

async function packFiltered(file: string, omit: ReadonlySet<string>, pack: tar.Pack): Promise<void> {
  const extract = tar.extract();
  const feed = pipeline(await tarStreamOf(file), extract);
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
}
