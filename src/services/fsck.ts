// fsck: checks the data folder against the database. Every blob row must have its file, of its size,
// hashing to its name (so every version's manifests and blobs are whole); no version row or open tag
// may point at a digest without a blob row. It also lists what is safe to remove: stored files no row
// describes, blob rows nothing references or holds, stray names in the store, and staging folders no
// running import or upload session owns. `repair` removes exactly those (orphans through the orphan
// cleanup, under its lock), never a blob something refers to, and never repairs a missing or corrupt
// blob: those are reported, for a restore from backup.
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { parseDigest } from '../core/digest.js';
import * as blobRowsDb from '../db/blobs.js';
import * as fsckDb from '../db/fsck.js';
import { now } from '../db/common.js';
import * as importsDb from '../db/imports.js';
import * as uploadsDb from '../db/uploads.js';
import type { Services } from './deps.js';
import { cleanupOrphans } from './orphans.js';

export interface FsckReport {
  blobs_checked: number;
  bytes_hashed: number;
  /** blob rows whose file is gone, with who refers to them */
  missing: Array<{ digest: string; referenced_by: string[] }>;
  /** stored files of the wrong size, or whose bytes do not hash to their name */
  corrupt: Array<{ digest: string; reason: string; referenced_by: string[] }>;
  /** version content or open tags pointing at a digest without a blob row */
  dangling: Array<{ repository: string; what: string; digest: string }>;
  /** stored files no blob row describes, and names in the store that are no digest */
  orphan_files: string[];
  /** blob rows that no version references and no repository holds */
  orphan_blobs: string[];
  /** staging/imports/<id> of imports not running, staging/uploads/<id> without a session */
  stale_staging: string[];
  /** what --repair removed (null without --repair) */
  repaired: { removed_files: number; removed_blobs: number; removed_staging: number } | null;
  /** no missing, corrupt or dangling: every version reads back whole */
  ok: boolean;
}

const PAGE = 500;

async function hashFile(s: Services, digest: string): Promise<{ hex: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(
    s.blobs.createReadStream(parseDigest(digest)),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done();
      },
    }),
  );
  return { hex: hash.digest('hex'), size };
}

/**
 * Runs the checks; with `repair`, removes what is safe to remove. With SQLite the caller holds the
 * data folder (no Berth runs on it); with PostgreSQL other processes may run: orphans are decided
 * under the blob-store lock, and only staging no running import or session owns is touched.
 */
export async function fsck(s: Services, opts: { repair: boolean; hash?: boolean; singleProcess: boolean }): Promise<FsckReport> {
  const report: FsckReport = {
    blobs_checked: 0,
    bytes_hashed: 0,
    missing: [],
    corrupt: [],
    dangling: [],
    orphan_files: [],
    orphan_blobs: [],
    stale_staging: [],
    repaired: null,
    ok: false,
  };

  for (let after = ''; ; ) {
    const rows = await fsckDb.pageBlobRows(s.db, after, PAGE);
    if (rows.length === 0) break;
    after = rows.at(-1)!.digest;
    const bad: Array<{ digest: string; reason?: string }> = [];
    for (const row of rows) {
      report.blobs_checked++;
      const size = await s.blobs.stat(parseDigest(row.digest));
      if (size === undefined) {
        bad.push({ digest: row.digest });
        continue;
      }
      if (size !== row.size) {
        bad.push({ digest: row.digest, reason: `size ${size}, the row says ${row.size}` });
        continue;
      }
      if (opts.hash === false) continue;
      const { hex, size: read } = await hashFile(s, row.digest);
      report.bytes_hashed += read;
      if (`sha256:${hex}` !== row.digest) bad.push({ digest: row.digest, reason: `bytes hash to sha256:${hex}` });
    }
    if (bad.length === 0) continue;
    const referrers = await fsckDb.referrersOf(s.db, bad.map((b) => b.digest));
    for (const b of bad) {
      const referencedBy = referrers.get(b.digest) ?? [];
      if (b.reason === undefined) report.missing.push({ digest: b.digest, referenced_by: referencedBy });
      else report.corrupt.push({ digest: b.digest, reason: b.reason, referenced_by: referencedBy });
    }
  }
  report.dangling = await fsckDb.danglingRows(s.db);

  // Orphans: files without a row (and stray names), rows that nothing references or holds.
  for (const { prefix, names } of await s.blobs.storeFolders()) {
    const digests = names.filter((n) => /^[a-f0-9]{64}$/.test(n) && n.startsWith(prefix)).map((n) => `sha256:${n}`);
    const known = await blobRowsDb.knownBlobs(s.db, digests);
    for (const name of names) {
      const digest = `sha256:${name}`;
      if (!digests.includes(digest) || !known.has(digest)) report.orphan_files.push(prefix === '' ? `blobs/sha256/${name}` : `blobs/sha256/${prefix}/${name}`);
    }
  }
  report.orphan_blobs = (await blobRowsDb.findOrphanBlobs(s.db, 10_000, now())).map((o) => o.digest);

  // Stale staging: an import folder whose import is not running (any running one, with SQLite and the
  // folder held, is from a process that is gone), an upload folder without its session.
  const imports = await s.blobs.stagingEntries('imports');
  const statuses = await importsDb.importStatuses(s.db, imports);
  for (const id of imports) if (opts.singleProcess || statuses.get(id) !== 'running') report.stale_staging.push(`staging/imports/${id}`);
  const uploads = await s.blobs.stagingEntries('uploads');
  const sessions = await uploadsDb.knownUploads(s.db, uploads);
  for (const id of uploads) if (!sessions.has(id)) report.stale_staging.push(`staging/uploads/${id}`);

  if (opts.repair) {
    let removedStaging = 0;
    for (const entry of report.stale_staging) {
      const [, kind, id] = entry.split('/') as [string, 'imports' | 'uploads', string];
      await s.blobs.removeStagingEntry(kind, id);
      removedStaging++;
    }
    let strays = 0;
    for (const file of report.orphan_files) {
      const name = file.split('/').at(-1)!;
      if (/^[a-f0-9]{64}$/.test(name)) continue; // a digest-named file: the orphan cleanup decides, under its lock
      await s.blobs.removeStoreEntry(file);
      strays++;
    }
    const cleaned = await cleanupOrphans(s);
    report.repaired = { removed_files: cleaned.removed_files + strays, removed_blobs: cleaned.removed_blobs, removed_staging: removedStaging };
  }
  report.ok = report.missing.length === 0 && report.corrupt.length === 0 && report.dangling.length === 0;
  return report;
}
