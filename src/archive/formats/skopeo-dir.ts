// `skopeo copy … dir:` folders, tarred: manifest.json (image manifest or index), `version`, blobs
// named by hex digest (skopeo 1.1) or `<hex>.tar` (1.0), and `<hex>.manifest.json` per platform
// manifest of a multi-arch copy.
import { type Digest, digestFromHex, isHex } from '../../core/digest.js';
import { BerthError } from '../../errors.js';
import type { ArchiveReader, ImportPlan, ReaderContext } from '../plan.js';
import { findRoot, PlanBuilder, verifyClaim } from '../plan-builder.js';
import type { ArchiveListing } from '../read-archive.js';

const VERSION = /^Directory Transport Version: 1\.[01]\s*$/;

export const skopeoDirReader: ArchiveReader = {
  format: 'skopeo-dir',

  detect(listing: ArchiveListing): boolean {
    const root = findRoot(listing, 'manifest.json');
    if (root === undefined) return false;
    // docker-archives (which also name blobs `<hex>.tar`) are claimed first by their own reader.
    return listing.files.has(`${root}version`) || [...listing.files.keys()].some((n) => n.startsWith(root) && isHex(n.slice(root.length).replace(/\.tar$/, '')));
  },

  async plan(listing: ArchiveListing, ctx: ReaderContext): Promise<ImportPlan> {
    const root = findRoot(listing, 'manifest.json') ?? '';
    if (listing.links.size > 0) {
      const [name] = listing.links.keys();
      throw new BerthError('ENTRY_UNSAFE', 'a skopeo dir archive holds no links', { entry: name });
    }
    const version = listing.files.get(`${root}version`);
    if (version) {
      const text = (await ctx.readSmall(version, 'version')).toString('utf8');
      if (!VERSION.test(text)) {
        throw new BerthError('UNSUPPORTED_ARCHIVE', 'unknown skopeo dir version', { version: text.slice(0, 100) });
      }
    }

    const blobs = new Map<Digest, ReturnType<typeof listing.files.get>>();
    const manifests = new Map<Digest, ReturnType<typeof listing.files.get>>();
    for (const [name, blob] of listing.files) {
      const local = name.slice(root.length);
      const match = /^([a-f0-9]{64})(\.tar|\.manifest\.json)?$/.exec(local);
      if (!match) continue;
      const claimed = digestFromHex(match[1]!);
      verifyClaim(name, blob, claimed);
      (match[2] === '.manifest.json' ? manifests : blobs).set(claimed, blob);
    }

    const top = listing.files.get(`${root}manifest.json`)!;
    const builder = new PlanBuilder('skopeo-dir', ctx, {
      blob: (d) => blobs.get(d),
      manifest: (d) => manifests.get(d) ?? blobs.get(d),
    });
    const planned = await builder.addManifest(top, 'manifest.json');
    builder.markRoot(planned.digest);
    return builder.plan;
  },
};

