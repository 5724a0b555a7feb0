// The format readers, tried in order; the first whose detect() accepts the listing takes it.
import { BerthError } from '../../errors.js';
import type { ArchiveReader } from '../plan.js';
import type { ArchiveListing } from '../read-archive.js';
import { dockerArchiveReader } from './docker-archive.js';
import { ociLayoutReader } from './oci-layout.js';
import { skopeoDirReader } from './skopeo-dir.js';

// An OCI layout may also carry a docker-archive manifest.json (docker save since 25): its index.json
// names the real manifests, so it goes first. A docker-archive is told from a skopeo dir by its
// `repositories`, `<hex>.json` configs or `<id>/layer.tar` entries, and the lack of `version`.
export const READERS: readonly ArchiveReader[] = [ociLayoutReader, dockerArchiveReader, skopeoDirReader];

export function pickReader(listing: ArchiveListing): ArchiveReader {
  const reader = READERS.find((r) => r.detect(listing));
  if (!reader) {
    throw new BerthError('UNSUPPORTED_ARCHIVE', 'archive matches no known format (skopeo dir, docker-archive, OCI layout)', {
      entries: listing.order.slice(0, 10),
    });
  }
  return reader;
}
