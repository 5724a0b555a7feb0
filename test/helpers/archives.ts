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
