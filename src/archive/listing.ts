// What an archive holds, by entry name, and the rules every reader relies on to record an entry:
// names normalized and kept inside the archive, no duplicates, regular files staged, folders and links
// recorded, anything else refused. Used for uploads (read-archive.ts, through tar-stream) and by the
// CLI for archives and folders on its own disk (without loading tar-stream).
import path from 'node:path/posix';
import { type Digest, digestFromHex, isHex } from '../core/digest.js';
import { BerthError } from '../errors.js';
import type { ReceivedBlob } from './sink.js';

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
