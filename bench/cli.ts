// `npm run bench -- --cli`: `berth push` of an image whose repository already holds three of its four
// layers, against curl sending exactly what is left (manifest, config and the fourth layer, as a
// tarball made beforehand) into a repository in the same state. The CLI reads the whole image, asks
// the server (preflight) and streams only the rest; the target is ≤ 1.2× curl's time.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { BerthProcess, expectImported } from './berth.js';
import { generateImage, writeTar } from './image.js';
import type { BenchOptions } from './options.js';
import { settle, syncDisks, timedCommand } from './processes.js';
import { median, mib, ms, rate, type Row } from './report.js';

const CONFIG_TYPE = 'application/vnd.docker.container.image.v1+json';
const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';

interface Contestant {
  name: string;
  /** the command line, for the report */
  shown: string;
  run(berth: BerthProcess, repository: string): Promise<{ ms: number; bytes: number }>;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export async function cliBench(opts: BenchOptions, root: string, repoDir: string, log: (m: string) => void): Promise<{ rows: Row[]; header: string[] }> {
  if (opts.layers < 2) throw new Error('--cli needs at least 2 layers');
  log(`generating a ${opts.sizeMiB} MiB image (${opts.layers} layers) under ${root}`);
  const image = await generateImage(path.join(root, 'cli'), opts.sizeMiB, opts.layers, `cli-${process.pid}`);
  const manifest = JSON.parse(await fs.readFile(path.join(image.dir, 'manifest.json'), 'utf8')) as {
    config: { digest: string };
    layers: Array<{ mediaType: string; size: number; digest: string }>;
  };
  const hexOf = (d: string) => d.slice('sha256:'.length);
  const last = manifest.layers.at(-1)!;
  const held = manifest.layers.slice(0, -1);

  // The base image the repository holds beforehand: every layer but the last, under its own manifest.
  const baseDir = path.join(root, 'cli', 'base');
  await fs.mkdir(baseDir);
  const baseConfig = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const baseManifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, config: { mediaType: CONFIG_TYPE, size: baseConfig.length, digest: `sha256:${sha(baseConfig)}` }, layers: held }),
  );
  await fs.writeFile(path.join(baseDir, sha(baseConfig)), baseConfig);
  await fs.writeFile(path.join(baseDir, 'manifest.json'), baseManifest);
  await fs.writeFile(path.join(baseDir, 'version'), 'Directory Transport Version: 1.1\n');
  for (const l of held) await fs.link(path.join(image.dir, hexOf(l.digest)), path.join(baseDir, hexOf(l.digest)));
  const baseTar = path.join(root, 'cli', 'base.tar');
  await writeTar(baseDir, ['version', 'manifest.json', sha(baseConfig), ...held.map((l) => hexOf(l.digest))], baseTar);

  // What a pipeline that knew what to leave out would send: the image without the held layers.
  const restTar = path.join(root, 'cli', 'rest.tar');
  const restBytes = await writeTar(image.dir, ['version', 'manifest.json', hexOf(manifest.config.digest), hexOf(last.digest)], restTar);

  // The compiled CLI as bin/berth.js runs it (the one-file bundle `npm run build` makes), and the bin itself.
  const cliCompiled = path.join(repoDir, 'dist', 'cli', 'berth.mjs');
  const cliBin = path.join(repoDir, 'bin', 'berth.js');
  const push = (entry: string, input: string): Contestant['run'] => async (berth, repository) => {
    const { ms, stdout } = await timedCommand(process.execPath, [entry, 'push', '--json', input, `${berth.url.replace(/^http:\/\//, '')}/${repository}:v2`], {
      PATH: process.env.PATH,
      HOME: root,
      BERTH_TOKEN: berth.token,
    });
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as { status: string; new_version: boolean; bytes_received: number; blobs: Array<{ digest: string; source: string }> };
    expectImported({ ms, status: 201, report }, 'berth push', true);
    const reused = report.blobs.filter((b) => b.source === 'repository').map((b) => b.digest);
    if (reused.length !== held.length) throw new Error(`berth push reused ${reused.length} layers, not ${held.length}`);
    return { ms, bytes: report.bytes_received };
  };
  const contestants: Contestant[] = [
    {
      name: 'curl',
      shown: 'curl -T rest.tar (manifest, config, last layer)',
      run: async (berth, repository) => {
        const result = await berth.importFile(repository, restTar, 'v2', 'raw');
        expectImported(result, 'curl import of the rest', true);
        return { ms: result.ms, bytes: restBytes };
      },
    },
    { name: 'cli-folder', shown: 'node dist/cli/berth.mjs push <skopeo dir folder>', run: push(cliCompiled, image.dir) },
    { name: 'cli-tar', shown: 'node dist/cli/berth.mjs push <its tarball>', run: push(cliCompiled, image.tar) },
    { name: 'npx-folder', shown: 'npx berth push <skopeo dir folder> (node bin/berth.js: checks dist/ is current, then runs dist/cli/berth.mjs)', run: push(cliBin, image.dir) },
  ];

  const times = new Map<string, number[]>(contestants.map((c) => [c.name, []]));
  const sent = new Map<string, number>();
  let serial = 0;
  for (let round = 1; round <= opts.rounds; round++) {
    // Rotate the order, so that no contestant always follows the same one.
    const order = contestants.map((_, i) => contestants[(i + round - 1) % contestants.length]!);
    for (const c of order) {
      // A fresh Berth per push: the last layer is new to its blob store, so every contestant writes it.
      const berth = await BerthProcess.start({ repoDir, dataDir: path.join(root, `cli-berth-${serial++}`), tsx: opts.tsx, nodeFlags: opts.nodeFlags, cpuProf: opts.cpuProf });
      try {
        await berth.createRepository('bench/app');
        expectImported(await berth.importFile('bench/app', baseTar, 'base', 'raw'), 'base import', true);
        syncDisks();
        await settle(opts.settleSeconds);
        const result = await c.run(berth, 'bench/app');
        times.get(c.name)!.push(result.ms);
        sent.set(c.name, result.bytes);
      } finally {
        await berth.stop();
        await fs.rm(berth.dataDir, { recursive: true, force: true });
      }
    }
    log(`round ${round}/${opts.rounds}: ${contestants.map((c) => `${c.name} ${ms(times.get(c.name)!.at(-1)!)}`).join(', ')}`);
  }

  const curl = median(times.get('curl')!);
  const rows: Row[] = [{ figure: `curl sends the rest (${mib(restBytes)})`, value: `${ms(curl)} (${rate(restBytes, curl)})`, baseline: '' }];
  for (const c of contestants.slice(1)) {
    const t = median(times.get(c.name)!);
    rows.push({
      figure: `${c.name === 'cli-folder' ? 'berth push, folder' : c.name === 'cli-tar' ? 'berth push, tarball' : 'npx berth push, folder'} (sent ${mib(sent.get(c.name)!)})`,
      value: ms(t),
      baseline: `curl ${ms(curl)}`,
      ratio: t / curl,
      target: '≤ 1.2×',
      met: t / curl <= 1.2,
    });
  }
  const header = [
    `image: ${opts.sizeMiB} MiB in ${opts.layers} layers (tarball ${mib(image.tarBytes)}); the repository holds all layers but the last (${mib(last.size)})`,
    ...contestants.map((c) => `  ${c.name}: ${c.shown}`),
    `medians of ${opts.rounds} rounds, a fresh Berth per push (holding the base image), ${opts.settleSeconds} s of quiet after a sync before each push; times are whole commands (process start to exit)`,
  ];
  return { rows, header };
}
