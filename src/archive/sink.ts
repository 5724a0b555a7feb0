// Where an archive reader's bytes go, declared by archive/ itself so that the readers run without the
// server: the blob store's staging area implements it (hash while writing, fsync, commit later), and
// a client reading a local archive can implement it with plain files or by hashing alone.
import type { Readable } from 'node:stream';
import type { Digest } from '../core/digest.js';

/** Bytes a sink received and hashed: what they hash to and how many there were. */
export interface ReceivedBlob {
  readonly digest: Digest;
  readonly size: number;
}

export interface BlobSink {
  /**
   * Streams `source` in while hashing it. `claimed` is the digest the entry's name claims (a sink that
   * already holds those bytes may only hash them); `flushLater` lets durability wait for `durable()`;
   * `expectedSize` is how many bytes the source says it holds (a tar header's size), when known.
   */
  stage(source: Readable, claimed?: Digest, options?: { flushLater?: boolean; expectedSize?: number }): Promise<ReceivedBlob>;
  /** Resolves once every blob received so far is durable (a no-op for a sink that keeps nothing). */
  durable(): Promise<void>;
  /** Reads a received blob back; at most `limit + 1` bytes, so a caller can tell it was too large. */
  readBack(blob: ReceivedBlob, limit: number): Promise<Buffer>;
}
