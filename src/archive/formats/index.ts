// The format readers, tried in order; the first whose detect() accepts the listing takes it.
import { BerthError } from '../../errors.js';
import type { ArchiveReader } from '../plan.js';
import type { ArchiveListing } from '../read-archive.js';
import { skopeoDirReader } from './skopeo-dir.js';

export const READERS: readonly ArchiveReader[] = [skopeoDirReader];

export function pickReader(listing: ArchiveListing): ArchiveReader {
  const reader = READERS.find((r) => r.detect(listing));
  if (!reader) {
    throw new BerthError('UNSUPPORTED_ARCHIVE', 'archive matches no known format (skopeo dir, docker-archive, OCI layout)', {
      entries: listing.order.slice(0, 10),
    });
  }
  return reader;
}
