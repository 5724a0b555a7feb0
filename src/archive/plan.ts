// The contract between format readers and the import service: what an archive asks to add.
import type { Digest } from '../core/digest.js';
import type { ParsedManifest } from '../core/manifest.js';
import type { Tag } from '../core/names.js';
import type { ArchiveListing } from './read-archive.js';
import type { ReceivedBlob } from './sink.js';

export type ArchiveFormat = 'skopeo-dir' | 'docker-archive' | 'oci-layout';

export interface PlannedManifest {
  digest: Digest;
  mediaType: string;
  size: number;
  parsed: ParsedManifest;
  /** the staged bytes of this manifest */
  blob: ReceivedBlob;
}

export interface PlannedBlob {
  digest: Digest;
  size: number;
  mediaType: string | null;
  /** present when the archive carried the bytes; absent when the repository must already own it */
  blob?: ReceivedBlob;
}

/**
 * What one archive asks to add to a repository: manifests whose bytes it carries, every blob or
 * child manifest they reference (carried, or to be found in the destination repository), and the
 * tags it names itself. `roots` are the top-level manifests a `tag` field applies to.
 */
export interface ImportPlan {
  format: ArchiveFormat;
  manifests: PlannedManifest[];
  blobs: PlannedBlob[];
  /** child manifests referenced by an index but not carried: the repository must own them */
  ownedManifests: Array<{ digest: Digest; mediaType: string; size: number }>;
  roots: Digest[];
  /** tags the archive itself names (docker RepoTags, OCI ref.name); used only without a `tag` field */
  archiveTags: Array<{ tag: Tag; digest: Digest }>;
}

export interface ReaderContext {
  /** reads a staged file that must be JSON-sized (at most 4 MiB) */
  readSmall(blob: ReceivedBlob, where: string): Promise<Buffer>;
  /** stages bytes the reader made itself (a manifest built for a docker-archive) */
  stageBytes(bytes: Buffer): Promise<ReceivedBlob>;
  /** the size of a blob the destination repository's latest version holds (a hint; commit checks again) */
  repositoryBlob(digest: Digest): Promise<{ size: number } | undefined>;
}

/** A format reader: recognizes its archives by their entry names and turns them into a plan. */
export interface ArchiveReader {
  format: ArchiveFormat;
  /** true when the listing looks like this format; the first reader that says so takes the archive */
  detect(listing: ArchiveListing): boolean;
  plan(listing: ArchiveListing, ctx: ReaderContext): Promise<ImportPlan>;
}
