// The machine's floor for an import: the same bytes copied durably (read, write, fsync of the file
// and its folder) onto the data folder's filesystem, and, apart, the sha256 of them.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

const CHUNK = 1024 * 1024;

/** Copies `source` into `folder` with plain 1 MiB reads and writes, then fsyncs; returns milliseconds. */
export async function durableWrite(source: string, folder: string): Promise<number> {
  await fs.mkdir(folder, { recursive: true });
  const target = path.join(folder, 'floor.bin');
  const buffer = Buffer.allocUnsafe(CHUNK);
  const started = performance.now();
  const input = await fs.open(source, 'r');
  const output = await fs.open(target, 'wx', 0o644);
  try {
    for (;;) {
      const { bytesRead } = await input.read(buffer, 0, CHUNK, null);
      if (bytesRead === 0) break;
      await output.write(buffer, 0, bytesRead);
    }
    await output.sync();
  } finally {
    await output.close();
    await input.close();
  }
  const dir = await fs.open(folder, 'r');
  await dir.sync();
  await dir.close();
  const ms = performance.now() - started;
  await fs.rm(target);
  return ms;
}

/** Reads `source` and hashes it with sha256, as Berth does for every blob; returns milliseconds. */
export async function sha256Of(source: string): Promise<number> {
  const buffer = Buffer.allocUnsafe(CHUNK);
  const started = performance.now();
  const hash = createHash('sha256');
  const input = await fs.open(source, 'r');
  try {
    for (;;) {
      const { bytesRead } = await input.read(buffer, 0, CHUNK, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await input.close();
  }
  hash.digest();
  return performance.now() - started;
}

/** True when both paths are on one filesystem (so the floor measures the data folder's disk). */
export async function sameFilesystem(a: string, b: string): Promise<boolean> {
  return (await fs.stat(a)).dev === (await fs.stat(b)).dev;
}
