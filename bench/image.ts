// Generates the benchmark image: incompressible layers (an AES-CTR keystream, gzip-wrapped at level 0
// so that skopeo pushes them as they are instead of compressing them), written as a skopeo `dir:`
// folder (what skopeo pushes to the peer) and as a tarball of it (what Berth imports).
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { tarOf } from '../test/helpers/archives.js';

const MiB = 1024 * 1024;
const LAYER_TYPE = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const CONFIG_TYPE = 'application/vnd.docker.container.image.v1+json';
const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';
const VERSION = 'Directory Transport Version: 1.1\n';

export interface BenchImage {
  /** the skopeo dir folder */
  dir: string;
  /** the tarball of that folder */
  tar: string;
  tarBytes: number;
  manifestDigest: string;
  layerDigests: string[];
  /** a tarball of the same image without its layers (manifest, config, version): an incomplete re-import */
  incomplete: Buffer;
}

/** `bytes` of AES-256-CTR keystream with a random key: incompressible, at memory speed. */
function keystream(bytes: number): Readable {
  const cipher = createCipheriv('aes-256-ctr', randomBytes(32), randomBytes(16));
  const zeros = Buffer.alloc(MiB);
  let left = bytes;
  return new Readable({
    highWaterMark: 4 * MiB,
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, zeros.length);
      left -= n;
      this.push(cipher.update(zeros.subarray(0, n)));
    },
  });
}

class Digester extends Transform {
  readonly hash = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }
}

/** Writes one layer into `dir` under its hex digest; returns its digest, size and diff_id. */
async function writeLayer(dir: string, bytes: number, index: number): Promise<{ digest: string; size: number; diffId: string }> {
  const tmp = path.join(dir, `layer-${index}.tmp`);
  const raw = new Digester();
  const packed = new Digester();
  await pipeline(keystream(bytes), raw, createGzip({ level: 0 }), packed, createWriteStream(tmp));
  const hex = packed.hash.digest('hex');
  await fs.rename(tmp, path.join(dir, hex));
  return { digest: `sha256:${hex}`, size: packed.size, diffId: `sha256:${raw.hash.digest('hex')}` };
}

export async function writeTar(dir: string, names: string[], file: string): Promise<number> {
  const pack = tar.pack();
  const out = pipeline(pack, createWriteStream(file));
  for (const name of names) {
    const full = path.join(dir, name);
    const { size } = await fs.stat(full);
    const entry = pack.entry({ name, size, mode: 0o644, mtime: new Date(0) });
    await pipeline(createReadStream(full, { highWaterMark: MiB }), entry);
  }
  pack.finalize();
  await out;
  return (await fs.stat(file)).size;
}

/** An image of `sizeMiB` split into `layers` layers, in `parent`/image (folder) and `parent`/image.tar. */
export async function generateImage(parent: string, sizeMiB: number, layers: number, label: string): Promise<BenchImage> {
  const dir = path.join(parent, 'image');
  await fs.mkdir(dir, { recursive: true });
  const total = sizeMiB * MiB;
  const written = [];
  for (let i = 0; i < layers; i++) {
    const bytes = Math.floor(total / layers) + (i === 0 ? total % layers : 0);
    written.push(await writeLayer(dir, bytes, i));
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { 'berth.bench': label } },
      rootfs: { type: 'layers', diff_ids: written.map((l) => l.diffId) },
    }),
  );
  const configHex = createHash('sha256').update(config).digest('hex');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: { mediaType: CONFIG_TYPE, size: config.length, digest: `sha256:${configHex}` },
      layers: written.map((l) => ({ mediaType: LAYER_TYPE, size: l.size, digest: l.digest })),
    }),
  );
  await fs.writeFile(path.join(dir, configHex), config);
  await fs.writeFile(path.join(dir, 'manifest.json'), manifest);
  await fs.writeFile(path.join(dir, 'version'), VERSION);
  const names = ['version', 'manifest.json', configHex, ...written.map((l) => l.digest.slice('sha256:'.length))];
  const tarFile = path.join(parent, 'image.tar');
  const tarBytes = await writeTar(dir, names, tarFile);
  const incomplete = await tarOf([
    { name: 'version', data: VERSION },
    { name: 'manifest.json', data: manifest },
    { name: configHex, data: config },
  ]);
  return {
    dir,
    tar: tarFile,
    tarBytes,
    manifestDigest: `sha256:${createHash('sha256').update(manifest).digest('hex')}`,
    layerDigests: written.map((l) => l.digest),
    incomplete,
  };
}
