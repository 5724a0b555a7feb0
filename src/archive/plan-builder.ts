// Shared by the format readers: finds an archive's root folder, checks that named blobs hash to
// their names, and walks manifests and indexes into an ImportPlan.
import type { StagedBlob } from '../blobs/store.js';
import type { Digest } from '../core/digest.js';
import { type Descriptor, isIndexMediaType, parseManifest, parseManifestJson } from '../core/manifest.js';
import { BerthError } from '../errors.js';
import type { ArchiveFormat, ImportPlan, PlannedManifest, ReaderContext } from './plan.js';
import type { ArchiveListing } from './read-archive.js';

/**
 * The folder an archive's content sits in: '' when `marker` is at the root, 'top/' when every entry
 * sits under one top folder. Undefined when the marker is nowhere.
 */
export function findRoot(listing: ArchiveListing, marker: string): string | undefined {
  const candidates = [...listing.files.keys(), ...listing.links.keys()].filter(
    (name) => name === marker || (name.endsWith(`/${marker}`) && name.split('/').length === 2),
  );
  if (candidates.length === 0) return undefined;
  if (candidates.length > 1) {
    throw new BerthError('UNSUPPORTED_ARCHIVE', `archive holds more than one ${marker}`, { entries: candidates.slice(0, 10) });
  }
  const root = candidates[0]!.slice(0, -marker.length);
  if (root !== '') {
    const outside = [...listing.files.keys(), ...listing.links.keys()].find((n) => !n.startsWith(root));
    if (outside !== undefined) {
      throw new BerthError('UNSUPPORTED_ARCHIVE', 'archive mixes entries inside and outside its top folder', { entry: outside });
    }
  }
  return root;
}

/** Fails with DIGEST_INVALID when a file's bytes do not hash to the digest its name claims. */
export function verifyClaim(name: string, blob: StagedBlob, claimed: Digest): void {
  if (blob.digest !== claimed) {
    throw new BerthError('DIGEST_INVALID', 'blob bytes do not hash to the digest in its name', {
      entry: name,
      expected: claimed,
      actual: blob.digest,
    });
  }
}

/** Where a reader finds carried bytes: blobs (config, layers) and child manifests by digest. */
export interface CarriedLookup {
  blob(digest: Digest): StagedBlob | undefined;
  manifest(digest: Digest): StagedBlob | undefined;
}

export class PlanBuilder {
  readonly plan: ImportPlan;
  private readonly seen = new Set<string>();

  constructor(format: ArchiveFormat, private readonly ctx: ReaderContext, private readonly carried: CarriedLookup) {
    this.plan = { format, manifests: [], blobs: [], ownedManifests: [], roots: [], archiveTags: [] };
  }

  /** Adds a manifest or index whose bytes the archive carries, and everything it references. */
  async addManifest(blob: StagedBlob, where: string, expected?: Descriptor): Promise<PlannedManifest> {
    const bytes = await this.ctx.readSmall(blob, where);
    const parsed = parseManifest(parseManifestJson(bytes, where), where);
    if (expected && expected.mediaType !== parsed.mediaType) {
      throw new BerthError('MANIFEST_INVALID', 'child manifest media type differs from its descriptor', {
        entry: where,
        descriptor: expected.mediaType,
        manifest: parsed.mediaType,
      });
    }
    if (expected && expected.size !== blob.size) {
      throw new BerthError('SIZE_INVALID', 'manifest size differs from its descriptor', { digest: blob.digest, expected: expected.size, actual: blob.size });
    }
    const planned: PlannedManifest = { digest: blob.digest, mediaType: parsed.mediaType, size: blob.size, parsed, blob };
    if (this.seen.has(blob.digest)) return planned;
    this.seen.add(blob.digest);
    this.plan.manifests.push(planned);
    if (isIndexMediaType(parsed.mediaType)) {
      for (const child of parsed.manifests) await this.addChild(child);
    } else {
      for (const desc of parsed.blobs) this.addBlob(desc);
    }
    return planned;
  }

  private async addChild(desc: Descriptor): Promise<void> {
    const carried = this.carried.manifest(desc.digest);
    if (carried) {
      await this.addManifest(carried, desc.digest, desc);
      return;
    }
    if (this.seen.has(desc.digest)) return;
    this.seen.add(desc.digest);
    this.plan.ownedManifests.push({ digest: desc.digest, mediaType: desc.mediaType, size: desc.size });
  }

  private addBlob(desc: Descriptor): void {
    if (this.seen.has(desc.digest)) return;
    this.seen.add(desc.digest);
    const carried = this.carried.blob(desc.digest);
    if (carried && carried.size !== desc.size) {
      throw new BerthError('SIZE_INVALID', 'blob size differs from the manifest descriptor', {
        digest: desc.digest,
        expected: desc.size,
        actual: carried.size,
      });
    }
    this.plan.blobs.push({ digest: desc.digest, size: desc.size, mediaType: desc.mediaType, ...(carried ? { blob: carried } : {}) });
  }
}
