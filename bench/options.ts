// Command-line options of `npm run bench -- …` (node:util parseArgs).
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** image size in MiB (the sum of its layers) */
  sizeMiB: number;
  /** the smaller size whose peak RSS is set beside the big one */
  smallSizeMiB: number;
  layers: number;
  /** latency runs (re-imports, small imports per concurrency level) */
  runs: number;
  /** repetitions of each big import, floor and peer push; the median is reported */
  rounds: number;
  smallImports: number;
  /** seconds of quiet before each timed step (after a sync), so that every contestant starts alike */
  settleSeconds: number;
  skipPeer: boolean;
  /** parent folder of the bench folder: the filesystem that is measured */
  dir: string;
  /** run Berth from src/ through tsx instead of the compiled dist/ */
  tsx: boolean;
  /** node flags for every Berth process after those of `npm start`, e.g. "--max-semi-space-size=16" (Node's default) */
  nodeFlags: string[];
  /** write a V8 CPU profile of every Berth process into this folder */
  cpuProf: string | undefined;
  keep: boolean;
  json: string | undefined;
  /** run only the CLI benchmark (bench/cli.ts) */
  cli: boolean;
  /** run only skopeo push and pull (Berth, reference registry, do-nothing floor) and the blob GETs */
  registryOnly: boolean;
  /** run only the small-import part: incomplete re-imports of a small image, small imports at c=1 and c=8 */
  smallOnly: boolean;
  /** run Berth on PostgreSQL: a fresh database per Berth process is created under this server (and dropped) */
  databaseUrl: string | undefined;
}

const USAGE = `npm run bench -- [options]

  --size MiB          image size, the sum of its layers (default 1024)
  --small-size MiB    size set beside it for peak RSS (default 256, or size/4 when smaller)
  --layers N          layers in the image (default 4)
  --runs N            latency samples: incomplete re-imports, and small imports per level (default 20)
  --rounds N          repetitions of each big import, floor and peer push; medians shown (default 5)
  --small-imports N   small imports per concurrency level (default max(runs, 200))
  --settle S          seconds to wait after a sync before each timed step (default 3; see README)
  --skip-peer         do not push to the reference registry (docker-registry + skopeo)
  --dir PATH          where the bench folder is made; its filesystem is measured (default ./.bench)
  --tsx               run Berth from src/ through tsx instead of building dist/
  --node-flags FLAGS  node flags after those npm start uses, e.g. --node-flags=--max-semi-space-size=16
  --cpu-prof DIR      write a V8 CPU profile of each Berth process into DIR
  --cli               only the CLI benchmark: berth push of an image whose repository holds all
                      layers but the last, against curl sending just the rest (target ≤ 1.2×)
  --registry-only     only skopeo push and pull of the image into Berth, the reference registry and a
                      do-nothing registry (the floor), and GETs of a blob of the image's size
  --small-only        only the small imports: incomplete re-imports (manifest and config) and small
                      imports at concurrency 1 and 8, with their targets (about a minute)
  --database-url URL  run Berth on PostgreSQL: each Berth process gets a fresh database made on this
                      server (and dropped after); default SQLite in its data folder
  --keep              keep the bench folder
  --json FILE         also write the figures as JSON
  --help`;

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

function nonNegative(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number of seconds, got ${JSON.stringify(raw)}`);
  return value;
}

export function parseOptions(argv: string[]): BenchOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string' },
      'small-size': { type: 'string' },
      layers: { type: 'string' },
      runs: { type: 'string' },
      rounds: { type: 'string' },
      'small-imports': { type: 'string' },
      settle: { type: 'string' },
      'skip-peer': { type: 'boolean', default: false },
      dir: { type: 'string' },
      tsx: { type: 'boolean', default: false },
      'node-flags': { type: 'string' },
      'cpu-prof': { type: 'string' },
      keep: { type: 'boolean', default: false },
      cli: { type: 'boolean', default: false },
      'registry-only': { type: 'boolean', default: false },
      'small-only': { type: 'boolean', default: false },
      'database-url': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return undefined;
  }
  const sizeMiB = positive('size', values.size, 1024);
  const runs = positive('runs', values.runs, 20);
  const layers = positive('layers', values.layers, 4);
  if (layers > sizeMiB) throw new Error('--layers cannot exceed --size (each layer is at least 1 MiB)');
  return {
    sizeMiB,
    smallSizeMiB: positive('small-size', values['small-size'], Math.max(layers, Math.min(256, Math.floor(sizeMiB / 4)))),
    layers,
    runs,
    rounds: positive('rounds', values.rounds, 5),
    smallImports: positive('small-imports', values['small-imports'], Math.max(runs, 200)),
    settleSeconds: values.settle === undefined ? 3 : nonNegative('settle', values.settle),
    skipPeer: values['skip-peer'],
    dir: path.resolve(values.dir ?? path.join(process.cwd(), '.bench')),
    tsx: values.tsx,
    nodeFlags: (values['node-flags'] ?? '').split(/\s+/).filter((f) => f !== ''),
    cpuProf: values['cpu-prof'] === undefined ? undefined : path.resolve(values['cpu-prof']),
    keep: values.keep,
    cli: values.cli,
    registryOnly: values['registry-only'],
    smallOnly: values['small-only'],
    databaseUrl: values['database-url'],
    json: values.json === undefined ? undefined : path.resolve(values.json),
  };
}

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 1024 ** 3)} GiB RAM, Node ${process.version}`;
}
