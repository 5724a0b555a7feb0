// The one ownership rule: what repository R holds. R holds a digest when R's latest version holds it
// (as a manifest or a blob), or when the digest is held for R outside its versions (a pushed or
// mounted blob, a blob an interrupted import left whole) and that hold has not expired. Every caller
// asks here: the version commit (under the repository lock), the archive readers' size hints, and
// the /v2 reads. A blob only another repository holds is never R's.
import type { Digest } from '../core/digest.js';
import { now } from '../db/common.js';
import type { Q } from '../db/common.js';
import * as heldDb from '../db/held-blobs.js';
import type { RepositoryRow } from '../db/rows.js';
import * as versionsDb from '../db/versions.js';

export interface Holding {
  digest: string;
  kind: 'manifest' | 'blob';
  mediaType: string | null;
  size: number;
  /** true when the latest version holds it; false when it is only held for the repository */
  inVersion: boolean;
  /** how a digest held outside the versions came to be held (undefined when inVersion) */
  heldAs?: 'upload' | 'mount' | 'import';
}

type Repo = Pick<RepositoryRow, 'id' | 'latest_version'>;

/** Which of `digests` the repository holds (see the top of this file), by digest. */
export async function holdings(q: Q, repo: Repo, digests: readonly string[]): Promise<Map<string, Holding>> {
  const unique = [...new Set(digests)];
  const found = new Map<string, Holding>();
  if (unique.length === 0) return found;
  for (const [digest, row] of await versionsDb.contentIn(q, repo.id, 'latest', unique)) {
    found.set(digest, { digest, kind: row.kind, mediaType: row.media_type, size: row.size, inVersion: true });
  }
  const rest = unique.filter((d) => !found.has(d));
  if (rest.length > 0) {
    for (const [digest, held] of await heldDb.heldIn(q, repo.id, rest, now())) {
      found.set(digest, { digest, kind: 'blob', mediaType: null, size: held.size, inVersion: false, heldAs: held.source });
    }
  }
  return found;
}

/** The holding of one digest, or undefined when the repository does not hold it. */
export async function holding(q: Q, repo: Repo, digest: Digest): Promise<Holding | undefined> {
  return (await holdings(q, repo, [digest])).get(digest);
}
