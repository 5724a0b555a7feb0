// Builds image archives in memory with tar-stream: well-formed skopeo dir tarballs and the broken
// variants that tests send on purpose. Real archives made by real tools live in samples/.
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;
export const hex = (digest: string): string => digest.replace(/^sha256:/, '');

export interface Entry {
  name: string;
  data?: Buffer | string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  linkname?: string;
}

export async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, type, mode: type === 'directory' ? 0o755 : 0o644, ...(e.linkname ? { linkname: e.linkname } : {}) };
      if (type === 'file') pack.entry(header, e.data ?? '', (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const gzip = (b: Buffer): Buffer => gzipSync(b);

export interface Image {
  manifest: Buffer;
  manifestDigest: string;
  config: Buffer;
  configDigest: string;
  layers: Buffer[];
  layerDigests: string[];
  mediaType: string;
  /** skopeo dir entries (1.1 names), without a prefix */
  entries: Entry[];
}

/** A small image with random (incompressible) layer bytes, as skopeo's dir: transport writes it. */
export function makeImage(opts: { layers?: Buffer[]; layerCount?: number; oci?: boolean; label?: string } = {}): Image {
  const layers = opts.layers ?? Array.from({ length: opts.layerCount ?? 2 }, () => randomBytes(2048));
  const oci = opts.oci ?? false;
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { made: opts.label ?? randomBytes(4).toString('hex') } },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) },
    }),
  );
  const mediaType = oci ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: {
        mediaType: oci ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json',
        size: config.length,
        digest: sha256(config),
      },
      layers: layers.map((l) => ({
        mediaType: oci ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.docker.image.rootfs.diff.tar.gzip',
        size: l.length,
        digest: sha256(l),
      })),
    }),
  );
  const entries: Entry[] = [
    { name: 'version', data: 'Directory Transport Version: 1.1\n' },
    { name: 'manifest.json', data: manifest },
    { name: hex(sha256(config)), data: config },
    ...layers.map((l) => ({ name: hex(sha256(l)), data: l })),
  ];
  return {
    manifest,
    manifestDigest: sha256(manifest),
    config,
    configDigest: sha256(config),
    layers,
    layerDigests: layers.map((l) => sha256(l)),
    mediaType,
    entries,
  };
}

/** The image's skopeo dir entries, optionally under a prefix ('./' or 'top/'), minus omitted digests. */
export function dirEntries(image: Image, opts: { prefix?: string; omit?: string[] } = {}): Entry[] {
  const omit = new Set((opts.omit ?? []).map(hex));
  return image.entries.filter((e) => !omit.has(e.name)).map((e) => ({ ...e, name: `${opts.prefix ?? ''}${e.name}` }));
}

/**
 * A docker-archive of `images` as skopeo writes one: `<hex>.tar` layers, `<hex>.json` configs,
 * `<id>/layer.tar` symbolic links to `../<hex>.tar` named in manifest.json, and `repositories`.
 */
export function dockerArchiveEntries(images: Array<{ image: Image; repoTags: string[] | null }>, opts: { omit?: string[] } = {}): Entry[] {
  const omit = new Set(opts.omit ?? []);
  const entries: Entry[] = [];
  const written = new Set<string>();
  const manifest = images.map(({ image, repoTags }) => {
    const layerNames = image.layers.map((layer, i) => {
      const digest = image.layerDigests[i]!;
      const id = hex(sha256(`${image.configDigest}/${i}`));
      if (!omit.has(digest) && !written.has(digest)) {
        entries.push({ name: `${hex(digest)}.tar`, data: layer });
        written.add(digest);
      }
      entries.push({ name: `${id}/layer.tar`, type: 'symlink', linkname: `../${hex(digest)}.tar` });
      return `${id}/layer.tar`;
    });
    if (!omit.has(image.configDigest)) entries.push({ name: `${hex(image.configDigest)}.json`, data: image.config });
    return { Config: `${hex(image.configDigest)}.json`, RepoTags: repoTags, Layers: layerNames };
  });
  entries.push({ name: 'manifest.json', data: JSON.stringify(manifest) }, { name: 'repositories', data: '{}' });
  return entries;
}

/** The manifest a docker-archive image gets: Docker schema 2 as containers/image builds it. */
export function dockerArchiveManifest(image: Image): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: image.config.length, digest: image.configDigest },
      layers: image.layers.map((l, i) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: l.length, digest: image.layerDigests[i] })),
    }),
  );
}

/** An OCI image layout holding `images` (each named in index.json, with an optional ref.name), minus omitted digests. */
export function ociLayoutEntries(images: Array<{ image: Image; refName?: string }>, opts: { omit?: string[]; extra?: Buffer[] } = {}): Entry[] {
  const omit = new Set(opts.omit ?? []);
  const blobs = new Map<string, Buffer>();
  for (const { image } of images) {
    blobs.set(image.manifestDigest, image.manifest);
    blobs.set(image.configDigest, image.config);
    image.layers.forEach((l, i) => blobs.set(image.layerDigests[i]!, l));
  }
  for (const b of opts.extra ?? []) blobs.set(sha256(b), b);
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: images.map(({ image, refName }) => ({
      mediaType: image.mediaType,
      digest: image.manifestDigest,
      size: image.manifest.length,
      ...(refName ? { annotations: { 'org.opencontainers.image.ref.name': refName } } : {}),
    })),
  };
  return [
    { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', data: JSON.stringify(index) },
    { name: 'blobs', type: 'directory' },
    { name: 'blobs/sha256', type: 'directory' },
    ...[...blobs].filter(([d]) => !omit.has(d)).map(([d, data]) => ({ name: `blobs/sha256/${hex(d)}`, data })),
  ];
}
