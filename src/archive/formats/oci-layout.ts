// OCI image layouts (`oci-archive:`, `buildah push … oci-archive:`, `docker save` since 25):
// `oci-layout`, `index.json` naming the images, and every blob under `blobs/sha256/<hex>`.
import type { ReceivedBlob } from '../sink.js';
import { type Digest, digestFromHex } from '../../core/digest.js';
import { parseManifest, parseManifestJson } from '../../core/manifest.js';
import { BerthError } from '../../errors.js';
import type { ArchiveReader, ImportPlan, ReaderContext } from '../plan.js';
import { findRoot, PlanBuilder, tagOfReference, verifyClaim } from '../plan-builder.js';
import type { ArchiveListing } from '../read-archive.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

export const ociLayoutReader: ArchiveReader = {
  format: 'oci-layout',

  detect(listing: ArchiveListing): boolean {
    const root = findRoot(listing, 'oci-layout');
    return root !== undefined && listing.files.has(`${root}index.json`);
  },

  async plan(listing: ArchiveListing, ctx: ReaderContext): Promise<ImportPlan> {
    const root = findRoot(listing, 'oci-layout') ?? '';
    const marker = listing.files.get(`${root}oci-layout`);
    if (!marker) throw new BerthError('ENTRY_UNSAFE', 'oci-layout must be a file', { entry: `${root}oci-layout` });
    let version: unknown;
    try {
      version = (JSON.parse((await ctx.readSmall(marker, 'oci-layout')).toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch {
      throw new BerthError('UNSUPPORTED_ARCHIVE', 'oci-layout is not valid JSON', { entry: 'oci-layout' });
    }
    if (typeof version !== 'string' || !/^1\.\d+\.\d+$/.test(version)) {
      throw new BerthError('UNSUPPORTED_ARCHIVE', 'unknown OCI image layout version', { version: String(version).slice(0, 50) });
    }

    // Every blob is named by its digest; all are checked, and only what index.json reaches is kept.
    const blobs = new Map<Digest, ReceivedBlob>();
    for (const [name, blob] of listing.files) {
      const match = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name.slice(root.length));
      if (!match) continue;
      const claimed = digestFromHex(match[1]!);
      verifyClaim(name, blob, claimed);
      blobs.set(claimed, blob);
    }

    const index = parseManifest(parseManifestJson(await ctx.readSmall(listing.files.get(`${root}index.json`)!, 'index.json'), 'index.json'), 'index.json');
    if (index.kind !== 'index' || index.manifests.length === 0) {
      throw new BerthError('MANIFEST_INVALID', 'index.json names no manifests', { entry: 'index.json' });
    }
    const builder = new PlanBuilder('oci-layout', ctx, { blob: (d) => blobs.get(d), manifest: (d) => blobs.get(d) });
    for (const [i, desc] of index.manifests.entries()) {
      await builder.addRoot(desc, `index.json manifests[${i}]`);
      const refName = desc.annotations?.[REF_NAME];
      if (typeof refName === 'string' && refName !== '') {
        const tag = tagOfReference(refName);
        if (tag) builder.addArchiveTag(tag, desc.digest);
      }
    }
    return builder.plan;
  },
};
