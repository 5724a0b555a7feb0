// Seeded mutational fuzzing of the import endpoint over the real archives in samples/: byte flips,
// truncations, size-field edits (octal, base-256, huge), long-name headers, reordered and duplicated
// entries, inserted bytes, gzip before or after the damage. Every mutant is sent (raw or multipart) and
// must be answered within a bound, with 201 (some mutants are still valid archives) or a 4xx whose code
// is in the error table; a refused mutant must leave its repository as it was. Used by
// test/fuzz.test.ts (a bounded run in CI) and `npm run fuzz -- --count N --seed S` (long runs).
import fs from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ERRORS } from '../../src/errors.js';
import { headerOffsets, longHeader, withDeclaredSize } from './hostile.js';
import { ADMIN_TOKEN, type TestServer } from './server.js';

/** mulberry32: a small seeded PRNG, so that a seed replays the same mutants. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)]!;

/** The entries of a tar as [header offset, end offset] (header and padded data). */
function entrySpans(tar: Buffer): Array<[number, number]> {
  const offsets = headerOffsets(tar);
  return offsets.map((o, i) => [o, offsets[i + 1] ?? Math.min(tar.length, o + 512 + Math.ceil(declared(tar, o) / 512) * 512)]);
}

function declared(tar: Buffer, offset: number): number {
  const field = tar.subarray(offset + 124, offset + 136).toString('latin1').replace(/\0.*$/s, '').trim();
  return /^[0-7]+$/.test(field) ? parseInt(field, 8) : 0;
}

const MUTATIONS: Record<string, (tar: Buffer, rng: Rng) => Buffer> = {
  'flip bytes': (tar, rng) => {
    const out = Buffer.from(tar);
    for (let i = 0, n = 1 + int(rng, 8); i < n; i++) {
      const at = int(rng, out.length);
      out[at] = out[at]! ^ (1 << int(rng, 8));
    }
    return out;
  },
  'flip header bytes': (tar, rng) => {
    const out = Buffer.from(tar);
    const offsets = headerOffsets(tar);
    const at = pick(rng, offsets.length > 0 ? offsets : [0]);
    for (let i = 0, n = 1 + int(rng, 4); i < n; i++) out[at + int(rng, 512)] = int(rng, 256);
    return out;
  },
  truncate: (tar, rng) => tar.subarray(0, int(rng, tar.length)),
  'truncate at a header': (tar, rng) => {
    const at = pick(rng, headerOffsets(tar).length > 0 ? headerOffsets(tar) : [0]);
    return tar.subarray(0, at + int(rng, 512));
  },
  'edit a size field': (tar, rng) => {
    const offsets = headerOffsets(tar);
    if (offsets.length === 0) return tar;
    const at = pick(rng, offsets);
    const size = BigInt(declared(tar, at));
    const choice = int(rng, 6);
    const next =
      choice === 0 ? 0n : choice === 1 ? size + BigInt(1 + int(rng, 4096)) : choice === 2 ? size / 2n : choice === 3 ? 2n ** 80n : choice === 4 ? 8n ** 11n - 1n : BigInt(int(rng, 1 << 30));
    return withDeclaredSize(tar, at, next, choice === 3 || rng() < 0.2);
  },
  'long-name header': (tar, rng) => {
    const spans = entrySpans(tar);
    const at = spans.length > 0 ? pick(rng, spans)[0] : 0;
    const size = pick(rng, [0, 10, 100, 4096, 1 << 20, 256 << 20]);
    const body = rng() < 0.5 ? Buffer.from(`${size} path=${'a'.repeat(int(rng, 300))}\n`) : Buffer.alloc(int(rng, 2048), 0x41);
    return Buffer.concat([tar.subarray(0, at), longHeader(pick(rng, ['x', 'g', 'L'] as const), size, body), tar.subarray(at)]);
  },
  'swap two entries': (tar, rng) => {
    const spans = entrySpans(tar);
    if (spans.length < 2) return tar;
    const i = int(rng, spans.length);
    let j = int(rng, spans.length);
    if (j === i) j = (i + 1) % spans.length;
    const [a, b] = i < j ? [spans[i]!, spans[j]!] : [spans[j]!, spans[i]!];
    return Buffer.concat([tar.subarray(0, a[0]), tar.subarray(b[0], b[1]), tar.subarray(a[1], b[0]), tar.subarray(a[0], a[1]), tar.subarray(b[1])]);
  },
  'duplicate an entry': (tar, rng) => {
    const spans = entrySpans(tar);
    if (spans.length === 0) return tar;
    const [from, to] = pick(rng, spans);
    return Buffer.concat([tar.subarray(0, to), tar.subarray(from, to), tar.subarray(to)]);
  },
  'drop an entry': (tar, rng) => {
    const spans = entrySpans(tar);
    if (spans.length === 0) return tar;
    const [from, to] = pick(rng, spans);
    return Buffer.concat([tar.subarray(0, from), tar.subarray(to)]);
  },
  'insert bytes': (tar, rng) => {
    const at = int(rng, tar.length);
    const junk = Buffer.from(Array.from({ length: 1 + int(rng, 700) }, () => int(rng, 256)));
    return Buffer.concat([tar.subarray(0, at), junk, tar.subarray(at)]);
  },
  'change an entry type': (tar, rng) => {
    const offsets = headerOffsets(tar);
    if (offsets.length === 0) return tar;
    const out = Buffer.from(tar);
    const at = pick(rng, offsets);
    out[at + 156] = pick(rng, [0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x4b, 0x4c, 0x78, 0x67, 0x53, 0x00, 0x5a]);
    const header = out.subarray(at, at + 512);
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    return out;
  },
};

export interface Mutant {
  sample: string;
  mutations: string[];
  gzip: 'none' | 'before' | 'after';
  multipart: boolean;
  body: Buffer;
}

/** One mutant of one of `samples`: one to three mutations, gzip sometimes before or after them. */
export function makeMutant(samples: Array<{ name: string; tar: Buffer }>, rng: Rng): Mutant {
  const sample = pick(rng, samples);
  const names = Object.keys(MUTATIONS);
  const mutations = Array.from({ length: 1 + int(rng, 3) }, () => pick(rng, names));
  const gzip = pick(rng, ['none', 'none', 'none', 'before', 'after'] as const);
  let body = sample.tar;
  if (gzip === 'after') {
    for (const m of mutations) body = MUTATIONS[m]!(body, rng);
    body = gzipSync(body);
  } else {
    for (const m of mutations) body = MUTATIONS[m]!(body, rng);
    if (gzip === 'before') {
      // damage the compressed stream itself
      const zipped = Buffer.from(gzipSync(sample.tar));
      body = MUTATIONS[pick(rng, ['flip bytes', 'truncate', 'insert bytes'])]!(zipped, rng);
    }
  }
  return { sample: sample.name, mutations, gzip, multipart: rng() < 0.5, body };
}

export async function loadSamples(dir = path.resolve('samples')): Promise<Array<{ name: string; tar: Buffer }>> {
  const names = (await fs.readdir(dir)).filter((n) => n.endsWith('.tar')).sort();
  return Promise.all(names.map(async (name) => ({ name, tar: await fs.readFile(path.join(dir, name)) })));
}

export interface FuzzResult {
  mutants: number;
  accepted: number;
  refused: number;
  /** mutants not answered within the bound */
  hangs: Mutant[];
  /** answers that were neither 201 nor a 4xx with a known code (5xx among them) */
  bad: Array<{ mutant: Mutant; status: number; code: string | undefined }>;
  /** refused mutants after which the repository's latest version had moved */
  changed: Mutant[];
  statuses: Record<string, number>;
  slowestMs: number;
}

async function send(berth: TestServer, repo: string, mutant: Mutant, boundMs: number): Promise<{ status: number; body: any } | undefined> {
  const signal = AbortSignal.timeout(boundMs);
  const url = `${berth.url}/api/v1/repositories/${repo}/imports`;
  try {
    let res: Response;
    if (mutant.multipart) {
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(mutant.body)]), 'image.tar');
      res = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` }, body: form, signal });
    } else {
      const type = mutant.gzip === 'none' ? 'application/x-tar' : 'application/gzip';
      res = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': type }, body: new Uint8Array(mutant.body), signal });
    }
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') return undefined;
    throw err;
  }
}

/**
 * Sends `count` mutants made from `seed` to `berth`, `concurrency` at a time (each worker into a
 * repository of its own, so that its versions can be checked), each bounded by `boundMs`.
 */
export async function fuzz(
  berth: TestServer,
  opts: { count: number; seed: number; concurrency?: number; boundMs?: number; onProgress?: (done: number) => void },
): Promise<FuzzResult> {
  const samples = await loadSamples();
  const rng = prng(opts.seed);
  const mutants = Array.from({ length: opts.count }, () => makeMutant(samples, rng));
  const result: FuzzResult = { mutants: 0, accepted: 0, refused: 0, hangs: [], bad: [], changed: [], statuses: {}, slowestMs: 0 };
  const known = new Set(Object.keys(ERRORS));
  let next = 0;
  const worker = async (w: number) => {
    const repo = await berth.newRepository(`fuzz/w${w}`);
    let version = 0;
    for (;;) {
      const i = next++;
      if (i >= mutants.length) return;
      const mutant = mutants[i]!;
      const started = Date.now();
      const res = await send(berth, repo, mutant, opts.boundMs ?? 15_000);
      result.slowestMs = Math.max(result.slowestMs, Date.now() - started);
      result.mutants++;
      opts.onProgress?.(result.mutants);
      if (!res) {
        result.hangs.push(mutant);
        continue;
      }
      result.statuses[res.status] = (result.statuses[res.status] ?? 0) + 1;
      const code = res.body?.error?.code as string | undefined;
      const latest = await berth.latestVersion(repo);
      if (res.status === 201) {
        result.accepted++;
        version = latest;
        continue;
      }
      result.refused++;
      if (res.status < 400 || res.status >= 500 || code === undefined || !known.has(code)) result.bad.push({ mutant, status: res.status, code });
      if (latest !== version) {
        result.changed.push(mutant);
        version = latest;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, (_, w) => worker(w)));
  return result;
}
