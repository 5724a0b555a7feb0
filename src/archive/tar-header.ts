// tar headers, read and written without reading any entry's content: ustar (with its name prefix),
// pax extended headers (`path`, `linkpath`, `size`) and GNU long names (`L`, `K`); sizes in octal or
// GNU base-256. `indexTar` walks an uncompressed archive by its 512-byte headers alone, seeking past
// every body, so that a client can list and plan a multi-GiB archive by reading a few KiB and then
// copy only the byte ranges it needs. `encodeHeader` writes the ustar (and, for long names, pax)
// header of one entry. tar-stream does the streaming work elsewhere; it does not export its decoder.
// Every malformed header is an ARCHIVE_INVALID BerthError: a bad checksum, a size that is not a
// number, negative or past the end of the file, an extension header too large, a truncated block.
import { BerthError } from '../errors.js';

export const BLOCK = 512;
/** A pax or GNU long-name extension larger than this is refused, as tar-stream refuses it (real ones are a few hundred bytes). */
export const MAX_EXTENSION_BYTES = 4 * 1024 * 1024;

/** The entry types as tar-stream names them (what read-archive's addEntry takes). */
export type TarEntryType =
  | 'file'
  | 'link'
  | 'symlink'
  | 'character-device'
  | 'block-device'
  | 'directory'
  | 'fifo'
  | 'contiguous-file'
  | 'pax-header'
  | 'pax-global-header'
  | 'gnu-long-link-path'
  | 'gnu-long-path'
  | 'unknown';

export interface TarHeader {
  name: string;
  type: TarEntryType;
  linkname: string | null;
  size: number;
  mode: number;
  mtime: number;
}

/** One entry of an archive and where its bytes are. */
export interface IndexedEntry extends TarHeader {
  /** where the entry's first header block starts (its pax / GNU long-name blocks included) */
  start: number;
  /** where its content starts */
  offset: number;
  /** where its last block ends (content padded to 512): the next entry starts here */
  end: number;
}

const invalid = (message: string, details: Record<string, unknown>) => new BerthError('ARCHIVE_INVALID', `not a valid tar archive: ${message}`, details);

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'character-device',
  '4': 'block-device',
  '5': 'directory',
  '6': 'fifo',
  '7': 'contiguous-file',
  x: 'pax-header',
  g: 'pax-global-header',
  K: 'gnu-long-link-path',
  L: 'gnu-long-path',
};

/** A NUL-terminated string field. */
function text(block: Buffer, from: number, length: number): string {
  const field = block.subarray(from, from + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? field.length : nul).toString('utf8');
}

/**
 * A numeric field: octal digits padded with spaces or NULs, or GNU base-256 (first byte 0x80 for a
 * positive number; 0xff, negative, is refused). Undefined when it is no number at all.
 */
function number(block: Buffer, from: number, length: number, field: string, at: number): number {
  const raw = block.subarray(from, from + length);
  if (raw[0]! & 0x80) {
    if (raw[0] !== 0x80) throw invalid(`${field} is a negative base-256 number`, { field, at });
    let value = 0;
    for (let i = 1; i < raw.length; i++) {
      value = value * 256 + raw[i]!;
      if (value > Number.MAX_SAFE_INTEGER) throw invalid(`${field} is too large`, { field, at });
    }
    return value;
  }
  const digits = raw.toString('latin1').replace(/\0.*$/s, '').trim();
  if (digits === '') return 0;
  if (!/^[0-7]+$/.test(digits)) throw invalid(`${field} is not an octal number`, { field, at, value: digits.slice(0, 20) });
  const value = parseInt(digits, 8);
  if (!Number.isSafeInteger(value)) throw invalid(`${field} is too large`, { field, at });
  return value;
}

/** A field nothing depends on (mode, mtime): 0 when it does not parse. */
function lenient(read: () => number): number {
  try {
    return read();
  } catch {
    return 0;
  }
}

function isZero(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * Decodes one 512-byte header block; null for an all-zero block (the end of the archive). `at` is the
 * block's offset, for error details.
 */
export function decodeHeader(block: Buffer, at = 0): TarHeader | null {
  if (block.length !== BLOCK) throw invalid('truncated header', { at });
  if (isZero(block)) return null;
  const stored = number(block, 148, 8, 'checksum', at);
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += block[i]!;
  if (stored !== sum) throw invalid('header checksum does not match', { at, stored, computed: sum });
  // The formats the server's reader (tar-stream) takes: POSIX ustar and GNU.
  const magic = block.toString('latin1', 257, 265);
  const ustar = magic.startsWith('ustar\0');
  if (!ustar && magic !== 'ustar  \0') throw invalid('unknown header format (neither ustar nor GNU)', { at });
  const flag = String.fromCharCode(block[156]!);
  const type = TYPES[flag] ?? 'unknown';
  let name = text(block, 0, 100);
  // POSIX ustar ("ustar\0" "00") keeps a name prefix; GNU ("ustar  \0") uses that space for other fields.
  if (ustar) {
    const prefix = text(block, 345, 155);
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  // An old tar marks a folder by a trailing slash on a regular-file header.
  const folderByName = flag === '\0' && name.endsWith('/');
  return {
    name,
    type: folderByName ? 'directory' : type,
    linkname: text(block, 157, 100) || null,
    size: number(block, 124, 12, 'size', at),
    mode: lenient(() => number(block, 100, 8, 'mode', at)),
    mtime: lenient(() => number(block, 136, 12, 'mtime', at)),
  };
}

/**
 * pax records (`<length> <key>=<value>\n`), read as tar-stream reads them: a record that does not
 * parse ends the list (the server's reader takes such an archive, so the client does too).
 */
export function decodePax(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < buf.length) {
    const space = buf.indexOf(0x20, pos);
    const len = space === -1 ? NaN : parseInt(buf.toString('latin1', pos, space), 10);
    if (!len || len < 0 || pos + len > buf.length) break;
    const record = buf.toString('utf8', space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq === -1) break;
    out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

const padded = (size: number) => Math.ceil(size / BLOCK) * BLOCK;

/** Reads `length` bytes at `position` of the archive; fewer only at its end. */
export type ReadAt = (position: number, length: number) => Promise<Buffer>;

/**
 * Walks an uncompressed tar archive of `fileSize` bytes by its headers, reading nothing of the
 * entries' content, exactly as tar-stream (the server's reader) walks it: extension headers (pax
 * `x`, GNU `L`/`K`) are folded into the entry they precede; zero blocks are skipped; the walk ends at
 * the end of the file, which must fall on a header boundary. A pax global header (`g`) is yielded as
 * an entry of type `pax-global-header` (its records apply to the pax headers after it, as they do in
 * tar-stream), so that a copier can keep it.
 */
export async function* indexTar(readAt: ReadAt, fileSize: number): AsyncGenerator<IndexedEntry> {
  let pos = 0;
  let pending: { start: number; pax?: Record<string, string>; longName?: string; longLink?: string } | undefined;
  let paxGlobal: Record<string, string> | undefined;
  for (;;) {
    if (pos >= fileSize) {
      if (pending) throw invalid('the archive ends after an extension header', { at: pos });
      return;
    }
    const block = await readAt(pos, BLOCK);
    if (block.length < BLOCK) throw invalid('truncated archive: it ends inside a header', { at: pos, file_size: fileSize });
    const header = decodeHeader(block, pos);
    if (header === null) {
      pos += BLOCK;
      continue;
    }
    const offset = pos + BLOCK;
    if (header.type === 'pax-header' || header.type === 'pax-global-header' || header.type === 'gnu-long-path' || header.type === 'gnu-long-link-path') {
      if (header.size > MAX_EXTENSION_BYTES) throw invalid('extension header too large', { at: pos, size: header.size });
      const body = header.size === 0 ? Buffer.alloc(0) : await readAt(offset, header.size);
      if (body.length !== header.size) throw invalid('truncated archive: it ends inside an extension header', { at: pos, size: header.size });
      const end = offset + padded(header.size);
      if (header.type === 'pax-global-header') {
        paxGlobal = decodePax(body);
        yield { ...header, start: pos, offset, end };
      } else {
        pending ??= { start: pos };
        if (header.type === 'pax-header') pending.pax = { ...paxGlobal, ...decodePax(body) };
        else if (header.type === 'gnu-long-path') pending.longName = text(body, 0, body.length);
        else pending.longLink = text(body, 0, body.length);
      }
      pos = end;
      continue;
    }
    const entry: IndexedEntry = { ...header, start: pending?.start ?? pos, offset, end: 0 };
    if (pending) {
      const { pax, longName, longLink } = pending;
      if (longName) entry.name = longName;
      if (longLink) entry.linkname = longLink;
      if (pax?.path) entry.name = pax.path;
      if (pax?.linkpath) entry.linkname = pax.linkpath;
      if (pax?.size) {
        if (!/^[0-9]{1,16}$/.test(pax.size) || !Number.isSafeInteger(Number(pax.size))) {
          throw invalid('pax size is not a number', { at: pos, size: pax.size.slice(0, 30) });
        }
        entry.size = Number(pax.size);
      }
      pending = undefined;
    }
    // A folder carries no content whatever its size field says; every other entry is followed by its
    // size in bytes (exactly as tar-stream walks an archive).
    if (entry.type === 'directory') entry.size = 0;
    if (entry.offset + entry.size > fileSize) {
      throw invalid('truncated archive: an entry runs past the end of the file', { at: pos, entry: entry.name.slice(0, 200), size: entry.size, file_size: fileSize });
    }
    entry.end = offset + padded(entry.size);
    yield entry;
    pos = entry.end;
  }
}

function writeText(block: Buffer, value: string, from: number, length: number): boolean {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) return false;
  bytes.copy(block, from);
  return true;
}

function writeOctal(block: Buffer, value: number, from: number, length: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, from, length, 'latin1');
}

/** One header block; false when a field does not fit (the caller then writes a pax header first). */
function ustarBlock(h: { name: string; type: 'file' | 'directory' | 'symlink'; size: number; mode: number; mtime: number; linkname?: string | null }): Buffer | undefined {
  const block = Buffer.alloc(BLOCK);
  if (!writeText(block, h.name, 0, 100)) return undefined;
  if (h.linkname && !writeText(block, h.linkname, 157, 100)) return undefined;
  if (h.size > 0o77777777777) return undefined;
  writeOctal(block, h.mode & 0o7777, 100, 8);
  writeOctal(block, 0, 108, 8);
  writeOctal(block, 0, 116, 8);
  writeOctal(block, h.size, 124, 12);
  writeOctal(block, Math.max(0, Math.floor(h.mtime)), 136, 12);
  block[156] = { file: 0x30, symlink: 0x32, directory: 0x35 }[h.type];
  return sealed(block);
}

/** Marks a header block ustar and writes its checksum (the sum of its bytes, the checksum field as spaces). */
function sealed(block: Buffer): Buffer {
  block.write('ustar\x0000', 257, 8, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i]!;
  writeOctal(block, sum, 148, 7);
  block[155] = 0x20;
  return block;
}

/**
 * The header of one entry: a ustar block, preceded by a pax extended header when the name, link
 * name or size does not fit ustar's fields.
 */
export function encodeHeader(h: { name: string; type: 'file' | 'directory' | 'symlink'; size: number; mode: number; mtime: number; linkname?: string | null }): Buffer {
  const plain = ustarBlock(h);
  if (plain) return plain;
  const records: string[] = [];
  const record = (key: string, value: string) => {
    const body = ` ${key}=${value}\n`;
    let len = Buffer.byteLength(body) + 1;
    while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
    records.push(`${len}${body}`);
  };
  record('path', h.name);
  if (h.linkname) record('linkpath', h.linkname);
  if (h.size > 0o77777777777) record('size', String(h.size));
  const pax = Buffer.from(records.join(''), 'utf8');
  const paxHeader = Buffer.alloc(BLOCK);
  writeText(paxHeader, 'PaxHeader', 0, 100);
  writeOctal(paxHeader, 0o644, 100, 8);
  writeOctal(paxHeader, 0, 108, 8);
  writeOctal(paxHeader, 0, 116, 8);
  writeOctal(paxHeader, pax.length, 124, 12);
  writeOctal(paxHeader, Math.max(0, Math.floor(h.mtime)), 136, 12);
  paxHeader[156] = 0x78; // 'x'
  sealed(paxHeader);
  const shortName = h.name.slice(-90).replace(/^[^/]*\//, '') || 'entry';
  const main = ustarBlock({ ...h, name: Buffer.byteLength(shortName) <= 100 ? shortName : 'entry', linkname: null, size: Math.min(h.size, 0o77777777777) })!;
  return Buffer.concat([paxHeader, pax, Buffer.alloc(padded(pax.length) - pax.length), main]);
}

/** The zero bytes that pad `size` bytes of content to a whole block. */
export function padding(size: number): Buffer {
  return Buffer.alloc(padded(size) - size);
}

/** The end of an archive: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
