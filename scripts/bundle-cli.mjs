// The second step of `npm run build`: the `berth` CLI as one ES module, dist/cli/berth.mjs, which
// bin/berth.js (`npx berth`) runs. One file starts quicker than the 23 modules tsc writes for it
// (Node.js resolves and links each one): about 25 ms of a start-up that `berth push` pays on every
// run. dist/src/cli/main.js, tsc's output, still works the same and is what the bench calls
// "node dist/src/cli/main.js".
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('../src/cli/main.ts', import.meta.url).pathname],
  // (another path as the argument: the tests bundle into a folder of their own)
  outfile: process.argv[2] ?? new URL('../dist/cli/berth.mjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // commander is CommonJS: its require() of Node's own modules needs a require() inside an ES module.
  banner: { js: "import { createRequire as __berthRequire } from 'node:module'; const require = __berthRequire(import.meta.url);" },
});
