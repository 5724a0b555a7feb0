// Image manifests and indexes: the media types Berth accepts and the blobs each one references.
// Pure: takes bytes already read (at most MAX_MANIFEST_BYTES), returns what the import must check.
import { BerthError } from '../errors.js';
import { type Digest, isDigest } from './digest.js';

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export const MediaType = {
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayerTar: 'application/vnd.docker.image.rootfs.diff.tar',
  OciLayerTar: 'application/vnd.oci.image.layer.v1.tar',
} as const;

const IMAGE_TYPES = new Set<string>([MediaType.DockerManifest, MediaType.OciManifest]);
const INDEX_TYPES = new Set<string>([MediaType.DockerManifestList, MediaType.OciIndex]);

export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_TYPES.has(mediaType);
}

export function isManifestMediaType(mediaType: string): boolean {
  return IMAGE_TYPES.has(mediaType) || INDEX_TYPES.has(mediaType);
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
  urls?: string[];
}

/** What a parsed manifest or index needs: its blobs (config + layers) or its child manifests. */
export interface ParsedManifest {
  mediaType: string;
  kind: 'image' | 'index';
  /** config first, then layers, in manifest order (image manifests only) */
  blobs: Descriptor[];
  /** child manifests (indexes only) */
  manifests: Descriptor[];
  /** the manifest this one refers to (OCI 1.1), if any */
  subject?: Descriptor;
  /** what the referrers listing reports: `artifactType`, else an image manifest's config media type */
  artifactType?: string;
  annotations?: Record<string, string>;
}

export function parseManifestJson(bytes: Buffer, where: string): unknown {
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw new BerthError('MANIFEST_INVALID', 'manifest is larger than 4 MiB', { entry: where, limit: MAX_MANIFEST_BYTES });
  }
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    throw new BerthError('MANIFEST_INVALID', 'manifest is not valid JSON', { entry: where });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseDescriptor(value: unknown, where: string, field: string): Descriptor {
  if (!isRecord(value)) {
    throw new BerthError('MANIFEST_INVALID', `${field} is not a descriptor`, { entry: where });
  }
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0) {
    throw new BerthError('MANIFEST_INVALID', `${field} has no mediaType`, { entry: where });
  }
  if (!isDigest(digest)) {
    throw new BerthError('MANIFEST_INVALID', `${field} has no valid sha256 digest`, { entry: where, digest: String(digest).slice(0, 100) });
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new BerthError('MANIFEST_INVALID', `${field} has no valid size`, { entry: where, digest });
  }
  const descriptor: Descriptor = { mediaType, digest, size };
  if (isRecord(value.platform)) descriptor.platform = value.platform as Descriptor['platform'];
  if (isRecord(value.annotations)) descriptor.annotations = value.annotations as Record<string, string>;
  if (Array.isArray(value.urls)) descriptor.urls = value.urls.filter((u): u is string => typeof u === 'string');
  return descriptor;
}

/**
 * Classifies a manifest document. The media type comes from the document's own `mediaType`; an OCI
 * document may omit it, in which case its shape decides. Anything else (schema 1, unknown types) is
 * MANIFEST_UNSUPPORTED.
 */
export function parseManifest(doc: unknown, where: string): ParsedManifest {
  if (!isRecord(doc)) throw new BerthError('MANIFEST_INVALID', 'manifest is not a JSON object', { entry: where });
  if (doc.schemaVersion !== 2) {
    throw new BerthError('MANIFEST_UNSUPPORTED', 'only schemaVersion 2 manifests are supported', {
      entry: where,
      schema_version: typeof doc.schemaVersion === 'number' ? doc.schemaVersion : null,
    });
  }
  let mediaType = doc.mediaType;
  if (mediaType === undefined) {
    if (Array.isArray(doc.manifests)) mediaType = MediaType.OciIndex;
    else if (isRecord(doc.config)) mediaType = MediaType.OciManifest;
  }
  if (typeof mediaType !== 'string' || !isManifestMediaType(mediaType)) {
    throw new BerthError('MANIFEST_UNSUPPORTED', 'unknown manifest media type', {
      entry: where,
      media_type: typeof mediaType === 'string' ? mediaType.slice(0, 200) : null,
    });
  }
  const extras: Pick<ParsedManifest, 'subject' | 'artifactType' | 'annotations'> = {};
  if (doc.subject !== undefined) extras.subject = parseDescriptor(doc.subject, where, 'subject');
  if (typeof doc.artifactType === 'string') extras.artifactType = doc.artifactType;
  if (isRecord(doc.annotations)) extras.annotations = doc.annotations as Record<string, string>;
  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new BerthError('MANIFEST_INVALID', 'index has no manifests array', { entry: where });
    const manifests = doc.manifests.map((d, i) => parseDescriptor(d, where, `manifests[${i}]`));
    return { mediaType, kind: 'index', blobs: [], manifests, ...extras };
  }
  const config = parseDescriptor(doc.config, where, 'config');
  if (!Array.isArray(doc.layers)) throw new BerthError('MANIFEST_INVALID', 'manifest has no layers array', { entry: where });
  const layers = doc.layers.map((d, i) => parseDescriptor(d, where, `layers[${i}]`));
  extras.artifactType ??= config.mediaType;
  return { mediaType, kind: 'image', blobs: [config, ...layers], manifests: [], ...extras };
}
