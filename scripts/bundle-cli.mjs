// The second step of `npm run build`: the `berth` CLI as ES modules, dist/cli/berth.mjs, which
// bin/berth.js (`npx berth`) runs. `berth push` loads that one file (about 25 ms less start-up than
// the 23 modules tsc writes for it, which Node.js resolves and links one by one), minified (less to
// read and compile on every run); what a push does not always need — the gzip reader and tar-stream,
// the progress bar (a terminal only), login, the report tables — is split into dist/cli/chunks/ and
// loaded only by a run that needs it. dist/src/cli/main.js, tsc's output, still works the same.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

// (another path as the argument: the tests bundle into a folder of their own)
const outfile = process.argv[2] ?? new URL('../dist/cli/berth.mjs', import.meta.url).pathname;
const outdir = path.dirname(outfile);
const name = path.basename(outfile, '.mjs');
// Chunks are named by their content: an old build's are removed, not left to pile up.
rmSync(path.join(outdir, 'chunks'), { recursive: true, force: true });

const { metafile } = await build({
  absWorkingDir: new URL('..', import.meta.url).pathname,
  metafile: true,
  entryPoints: { [name]: 'src/cli/main.ts' },
  outdir,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  minify: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // cli-progress and tar-stream are CommonJS: their require() of Node's own modules (the only ones
  // left unbundled) needs a require() inside an ES module.
  banner: { js: 'const require = (id) => process.getBuiltinModule(id);' },
});

// The sources it was built from, for bin/berth.js to tell whether it is current without walking src/.
const sources = Object.keys(metafile.inputs).filter((file) => file.startsWith('src/'));
writeFileSync(path.join(outdir, `${name}.inputs.json`), `${JSON.stringify(sources)}\n`);
