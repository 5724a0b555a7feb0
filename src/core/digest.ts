// sha256 digests: the grammar, the branded type, and the path-safe hex part.
import { BerthError } from '../errors.js';

export type Digest = string & { readonly __brand: 'Digest' };

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HEX = /^[a-f0-9]{64}$/;

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST.test(value);
}

export function isHex(value: string): boolean {
  return HEX.test(value);
}

export function parseDigest(value: unknown, code: 'DIGEST_INVALID' | 'MANIFEST_INVALID' = 'DIGEST_INVALID'): Digest {
  if (!isDigest(value)) {
    throw new BerthError(code, 'not a sha256 digest', { digest: typeof value === 'string' ? value.slice(0, 100) : null });
  }
  return value;
}

export function digestFromHex(hex: string): Digest {
  return `sha256:${hex}` as Digest;
}

export function hexOf(digest: Digest): string {
  return digest.slice('sha256:'.length);
}
