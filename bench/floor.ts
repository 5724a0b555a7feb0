// The machine's floor for an import: the same bytes copied durably (read, write, fsync of the file
// and its folder) onto the data folder's filesystem, and, apart, the sha256 of them.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

const CHUNK = 1024 * 1024;

/**
 * Copies `source` into `folder` the way dd does (bs=1M conv=fsync): blocking 1 MiB reads and
 * writes, then fsync of the file and of its folder. Returns milliseconds.
 */
export async function durableWrite(source: string, folder: string): Promise<number> {
  await fs.mkdir(folder, { recursive: true });
  const target = path.join(folder, 'floor.bin');
  const buffer = Buffer.allocUnsafe(CHUNK);
  const started = performance.now();
  const input = openSync(source, 'r');
  const output = openSync(target, 'wx', 0o644);
  try {
    for (;;) {
      const n = readSync(input, buffer, 0, CHUNK, null);
      if (n === 0) break;
      for (let off = 0; off < n; ) off += writeSync(output, buffer, off, n - off);
    }
    fsyncSync(output);
  } finally {
    closeSync(output);
    closeSync(input);
  }
  const dir = openSync(folder, 'r');
  fsyncSync(dir);
  closeSync(dir);
  const ms = performance.now() - started;
  await fs.rm(target);
  return ms;
}

/** Reads `source` and hashes it with sha256, as Berth does for every blob; returns milliseconds. */
export function sha256Of(source: string): number {
  const buffer = Buffer.allocUnsafe(CHUNK);
  const started = performance.now();
  const hash = createHash('sha256');
  const input = openSync(source, 'r');
  try {
    for (;;) {
      const n = readSync(input, buffer, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    closeSync(input);
  }
  hash.digest();
  return performance.now() - started;
}

/** True when both paths are on one filesystem (so the floor measures the data folder's disk). */
export async function sameFilesystem(a: string, b: string): Promise<boolean> {
  return (await fs.stat(a)).dev === (await fs.stat(b)).dev;
}
