// Parses a /v2 path. Repository names contain '/', so a path is read from the right: the suffix
// (/manifests/<ref>, /blobs/<digest>, /blobs/uploads/…, /tags/list) decides the route, the rest is the name.
import { BerthError } from '../../errors.js';

export type RegistryRoute =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'referrers'; name: string; digest: string }
  | { kind: 'tags'; name: string };

const ROUTES: Array<[RegExp, (m: string[]) => RegistryRoute]> = [
  [/^\/v2\/?$/, () => ({ kind: 'base' })],
  [/^\/v2\/_catalog$/, () => ({ kind: 'catalog' })],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[0]!, reference: m[1]! })],
  // before blobs/<digest>, so that the push endpoints are never read as a digest named "uploads"
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: m[0]! })],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: m[0]!, id: m[1]! })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[0]!, digest: m[1]! })],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', name: m[0]!, digest: m[1]! })],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[0]! })],
];

/**
 * The route a /v2 path names, or undefined for no endpoint. A path whose percent-escapes do not
 * decode is `400 PATH_INVALID` (OCI `NAME_INVALID`), as on /api.
 */
export function parseRegistryPath(path: string): RegistryRoute | undefined {
  for (const [pattern, build] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    let parts: string[];
    try {
      parts = match.slice(1).map((part) => decodeURIComponent(part));
    } catch {
      throw new BerthError('PATH_INVALID', 'the path is not valid percent-encoded UTF-8', null);
    }
    return build(parts);
  }
  return undefined;
}
