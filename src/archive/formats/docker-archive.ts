// `docker save`, `podman save` and `skopeo copy … docker-archive:` archives: a manifest.json array of
// { Config, RepoTags, Layers } naming entries of the archive. There is no registry manifest inside,
// so one is built per image from the archive's own bytes.
import type { ReceivedBlob } from '../sink.js';
import { type Digest, digestFromHex, isDigest } from '../../core/digest.js';
import { MediaType } from '../../core/manifest.js';
import { BerthError } from '../../errors.js';
import type { ArchiveReader, ImportPlan, ReaderContext } from '../plan.js';
import { blobsUnknown, findRoot, PlanBuilder, resolveEntry, tagOfReference, verifyClaim } from '../plan-builder.js';
import { type ArchiveListing, claimedDigest, normalizeEntryName } from '../listing.js';

export interface ImageEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

export function parseEntries(bytes: Buffer): ImageEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new BerthError('MANIFEST_INVALID', 'docker-archive manifest.json is not valid JSON', { entry: 'manifest.json' });
  }
  if (!Array.isArray(doc) || doc.length === 0) {
    throw new BerthError('MANIFEST_INVALID', 'docker-archive manifest.json is not a non-empty array', { entry: 'manifest.json' });
  }
  return doc.map((item: unknown, i) => {
    const where = { entry: 'manifest.json', image: i };
    if (typeof item !== 'object' || item === null) throw new BerthError('MANIFEST_INVALID', 'docker-archive image entry is not an object', where);
    const { Config, RepoTags, Layers } = item as Record<string, unknown>;
    if (typeof Config !== 'string') throw new BerthError('MANIFEST_INVALID', 'docker-archive image entry has no Config', where);
    if (!Array.isArray(Layers) || !Layers.every((l): l is string => typeof l === 'string')) {
      throw new BerthError('MANIFEST_INVALID', 'docker-archive image entry has no Layers list', where);
    }
    const tags = RepoTags === null || RepoTags === undefined ? [] : RepoTags;
    if (!Array.isArray(tags) || !tags.every((t): t is string => typeof t === 'string')) {
      throw new BerthError('MANIFEST_INVALID', 'docker-archive RepoTags is not a list of names', where);
    }
    return { Config, RepoTags: tags, Layers };
  });
}

/**
 * The registry manifest for one docker-archive image, built the way containers/image (skopeo,
 * podman) builds it: Docker schema 2, field order and media types as theirs, so the digest is the
 * one `skopeo inspect --raw docker-archive:…` prints. Layers keep the archive's bytes (uncompressed
 * tars under the conventional `tar.gzip` type, which every client sniffs).
 */
export function buildManifest(config: { digest: Digest; size: number }, layers: Array<{ digest: Digest; size: number }>): Buffer {
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.DockerManifest,
    config: { mediaType: MediaType.DockerConfig, size: config.size, digest: config.digest },
    layers: layers.map((l) => ({ mediaType: MediaType.DockerLayerGzip, size: l.size, digest: l.digest })),
  };
  return Buffer.from(JSON.stringify(manifest), 'utf8');
}

type Found = { digest: Digest; size: number; blob?: ReceivedBlob };

/**
 * The layer digests an image config names (`rootfs.diff_ids`): the sha256 of each uncompressed layer
 * tar, which is what a docker-archive holds and Berth stores, so in a docker-archive they are the
 * layers' digests. Undefined when the config does not say (not JSON, no list, a value not a digest).
 */
export function configDiffIds(bytes: Buffer): Digest[] | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const ids = (doc as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every(isDigest)) return undefined;
  return ids;
}

/**
 * What a docker-archive's `manifest.json` says of each layer entry that is named for no digest
 * (`docker save`'s `<id>/layer.tar`): the digest its image's config gives it (`rootfs.diff_ids`, by
 * position), when the config is there to ask and has one diff id per layer. `readEntry` answers the
 * bytes of a regular file entry (undefined when there is none). The server takes these digests for
 * layers an upload leaves out; a client takes them instead of hashing the layers it reads.
 */
export async function layerDiffIdClaims(images: Array<{ Config: string; Layers: string[] }>, root: string, readConfig: (name: string) => Promise<Buffer | undefined>): Promise<Map<string, Digest>> {
  const claims = new Map<string, Digest>();
  const conflicting = new Set<string>();
  for (const image of images) {
    let configName: string;
    try {
      configName = root + normalizeEntryName(image.Config);
    } catch {
      continue;
    }
    const bytes = await readConfig(configName);
    const ids = bytes && configDiffIds(bytes);
    if (!ids || ids.length !== image.Layers.length) continue;
    for (const [i, layer] of image.Layers.entries()) {
      let name: string;
      try {
        name = root + normalizeEntryName(layer);
      } catch {
        continue;
      }
      if (claimOf(name)) continue;
      const known = claims.get(name);
      if (known !== undefined && known !== ids[i]) conflicting.add(name);
      claims.set(name, ids[i]!);
    }
  }
  for (const name of conflicting) claims.delete(name);
  return claims;
}

/** The digest an entry's name claims: `<hex>.tar` and `blobs/sha256/<hex>` layers, `<hex>.json` configs. */
export function claimOf(name: string): Digest | undefined {
  const config = /(?:^|\/)([a-f0-9]{64})\.json$/.exec(name);
  return config ? digestFromHex(config[1]!) : claimedDigest(name);
}

export const dockerArchiveReader: ArchiveReader = {
  format: 'docker-archive',

  detect(listing: ArchiveListing): boolean {
    const root = findRoot(listing, 'manifest.json');
    if (root === undefined || listing.files.has(`${root}version`)) return false;
    const names = [...listing.files.keys(), ...listing.links.keys()].map((n) => n.slice(root.length));
    return names.some((n) => n === 'repositories' || /^[a-f0-9]{64}\.json$/.test(n) || /^[^/]+\/layer\.tar$/.test(n));
  },

  async plan(listing: ArchiveListing, ctx: ReaderContext): Promise<ImportPlan> {
    const root = findRoot(listing, 'manifest.json') ?? '';
    const images = parseEntries(await ctx.readSmall(listing.files.get(`${root}manifest.json`)!, 'manifest.json'));

    // An entry the archive carries, or, when its name claims a digest, a blob the repository may own.
    const missing: Digest[] = [];
    // A layer entry named for no digest (`<id>/layer.tar`) that the upload leaves out is the layer its
    // config's diff_ids name, when the config travels: asked only then (the config is read once).
    let diffIdClaims: Promise<Map<string, Digest>> | undefined;
    const diffIdClaim = (name: string) =>
      (diffIdClaims ??= layerDiffIdClaims(images, root, async (configName) => {
        const blob = listing.files.get(configName);
        return blob && (await ctx.readSmall(blob, configName).catch(() => undefined));
      })).then((claims) => claims.get(name));
    const find = async (rawName: string, what: string): Promise<Found> => {
      const name = normalizeEntryName(rawName);
      const entry = resolveEntry(listing, root, name);
      const claimed = claimOf(entry.name) ?? (!entry.blob && !entry.linked && what === 'layer' ? await diffIdClaim(entry.name) : undefined);
      if (entry.blob) {
        if (claimed) verifyClaim(entry.name, entry.blob, claimed);
        return { digest: entry.blob.digest, size: entry.blob.size, blob: entry.blob };
      }
      // Left out on purpose (the repository must own it) only when its name says which blob it is.
      if (!claimed && entry.linked) throw new BerthError('ENTRY_UNSAFE', 'link points to no entry of the archive', { entry: name, target: entry.name });
      if (!claimed) throw new BerthError('ARCHIVE_INVALID', `docker-archive names a ${what} it does not contain`, { entry: name });
      const owned = await ctx.repositoryBlob(claimed);
      if (!owned) missing.push(claimed);
      return { digest: claimed, size: owned?.size ?? 0 };
    };
    const resolved: Array<{ config: Found; layers: Found[]; tags: string[] }> = [];
    for (const image of images) {
      const config = await find(image.Config, 'config');
      const layers: Found[] = [];
      for (const layer of image.Layers) layers.push(await find(layer, 'layer'));
      resolved.push({ config, layers, tags: image.RepoTags });
    }
    if (missing.length > 0) {
      throw blobsUnknown(missing);
    }

    const carried = new Map<Digest, ReceivedBlob>();
    for (const f of resolved.flatMap((r) => [r.config, ...r.layers])) if (f.blob) carried.set(f.digest, f.blob);
    const builder = new PlanBuilder('docker-archive', ctx, { blob: (d) => carried.get(d), manifest: () => undefined });
    for (const [i, image] of resolved.entries()) {
      const manifest = await ctx.stageBytes(buildManifest(image.config, image.layers));
      const planned = await builder.addManifest(manifest, `manifest.json[${i}]`);
      builder.markRoot(planned.digest);
      for (const reference of image.tags) {
        const tag = tagOfReference(reference);
        if (tag) builder.addArchiveTag(tag, planned.digest);
      }
    }
    return builder.plan;
  },
};
