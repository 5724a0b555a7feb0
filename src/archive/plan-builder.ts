// Shared by the format readers: finds an archive's root folder, checks that named blobs hash to
// their names, and walks manifests and indexes into an ImportPlan.
import type { Digest } from '../core/digest.js';
import { type Descriptor, isIndexMediaType, isManifestMediaType, parseManifest, parseManifestJson } from '../core/manifest.js';
import { parseTag, type Tag } from '../core/names.js';
import { BerthError } from '../errors.js';
import type { ArchiveFormat, ImportPlan, PlannedManifest, ReaderContext } from './plan.js';
import type { ArchiveListing } from './read-archive.js';
import type { ReceivedBlob } from './sink.js';

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

/** BLOB_UNKNOWN: the archive leaves out blobs the destination repository does not hold. */
export function blobsUnknown(missing: string[]): BerthError {
  return new BerthError('BLOB_UNKNOWN', 'the archive omits blobs that the repository does not hold', { missing: [...new Set(missing)] });
}

/** Fails with DIGEST_INVALID when a file's bytes do not hash to the digest its name claims. */
export function verifyClaim(name: string, blob: ReceivedBlob, claimed: Digest): void {
  if (blob.digest !== claimed) {
    throw new BerthError('DIGEST_INVALID', 'blob bytes do not hash to the digest in its name', {
      entry: name,
      expected: claimed,
      actual: blob.digest,
    });
  }
}

/**
 * What an archive entry name stands for, following links inside the archive (a docker-archive's
 * `<id>/layer.tar` → `../<hex>.tar`). Links never reach the filesystem: they name other entries of
 * the same archive, under the same root. The result has no `blob` when the final name is not in the
 * archive (an omitted layer); `linked` says whether a link led there.
 */
export function resolveEntry(listing: ArchiveListing, root: string, name: string): { name: string; blob?: ReceivedBlob; linked: boolean } {
  let current = root + name;
  for (let hops = 0; hops <= 8; hops++) {
    const blob = listing.files.get(current);
    if (blob) return { name: current, blob, linked: hops > 0 };
    const link = listing.links.get(current);
    if (!link) return { name: current, linked: hops > 0 };
    if (!link.target.startsWith(root)) {
      throw new BerthError('ENTRY_UNSAFE', 'link points outside the archive content', { entry: current, target: link.target });
    }
    current = link.target;
  }
  throw new BerthError('ENTRY_UNSAFE', 'links in the archive form a chain too long or a loop', { entry: root + name });
}

/**
 * The tag part of a name an archive gives an image: `v1`, or the tag of a reference such as
 * `localhost/team/app:v1`. Undefined for a reference without a tag or with a digest.
 */
export function tagOfReference(reference: string): Tag | undefined {
  if (reference.includes('@')) return undefined;
  const colon = reference.lastIndexOf(':');
  const candidate = colon > reference.lastIndexOf('/') ? reference.slice(colon + 1) : reference.includes('/') ? undefined : reference;
  if (candidate === undefined) return undefined;
  return parseTag(candidate);
}

/** Where a reader finds carried bytes: blobs (config, layers) and child manifests by digest. */
export interface CarriedLookup {
  blob(digest: Digest): ReceivedBlob | undefined;
  manifest(digest: Digest): ReceivedBlob | undefined;
}

export class PlanBuilder {
  readonly plan: ImportPlan;
  private readonly seen = new Set<string>();

  constructor(format: ArchiveFormat, private readonly ctx: ReaderContext, private readonly carried: CarriedLookup) {
    this.plan = { format, manifests: [], blobs: [], ownedManifests: [], roots: [], archiveTags: [] };
  }

  /** Adds a manifest or index whose bytes the archive carries, and everything it references. */
  async addManifest(blob: ReceivedBlob, where: string, expected?: Descriptor): Promise<PlannedManifest> {
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

  /** Adds a top-level image the archive names: its manifest is carried, or the repository must own it. */
  async addRoot(desc: Descriptor, where: string): Promise<void> {
    const carried = this.carried.manifest(desc.digest);
    if (carried) await this.addManifest(carried, where, desc);
    else this.addOwnedManifest(desc);
    this.markRoot(desc.digest);
  }

  /** Records a top-level image: what a `tag` field applies to. */
  markRoot(digest: Digest): void {
    if (!this.plan.roots.includes(digest)) this.plan.roots.push(digest);
  }

  /** Records a tag the archive itself names; one tag naming two different images is ambiguous. */
  addArchiveTag(tag: Tag, digest: Digest): void {
    const existing = this.plan.archiveTags.find((t) => t.tag === tag);
    if (existing && existing.digest !== digest) {
      throw new BerthError('TAG_AMBIGUOUS', 'the archive gives one tag to two different images', { tag, digests: [existing.digest, digest] });
    }
    if (!existing) this.plan.archiveTags.push({ tag, digest });
  }

  private async addChild(desc: Descriptor): Promise<void> {
    const carried = this.carried.manifest(desc.digest);
    if (carried) await this.addManifest(carried, desc.digest, desc);
    else this.addOwnedManifest(desc);
  }

  private addOwnedManifest(desc: Descriptor): void {
    if (!isManifestMediaType(desc.mediaType)) {
      throw new BerthError('MANIFEST_UNSUPPORTED', 'index names something that is not a manifest', { digest: desc.digest, media_type: desc.mediaType });
    }
    if (this.seen.has(desc.digest)) return;
    this.seen.add(desc.digest);
    this.plan.ownedManifests.push({ digest: desc.digest, mediaType: desc.mediaType, size: desc.size });
  }

  private addBlob(desc: Descriptor): void {
    if (this.seen.has(desc.digest)) return;
    this.seen.add(desc.digest);
    const carried = this.carried.blob(desc.digest);
    // A non-distributable (foreign) layer that the archive leaves out is fetched by clients from its
    // own URLs, as from any registry: it is neither stored nor required.
    if (!carried && isNonDistributable(desc)) return;
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

function isNonDistributable(desc: Descriptor): boolean {
  return /\.foreign\.|nondistributable/.test(desc.mediaType) && (desc.urls?.length ?? 0) > 0;
}
