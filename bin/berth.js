#!/usr/bin/env node
// The `berth` command of package.json's bin (`npx berth`). Runs the compiled CLI, dist/cli/berth.mjs
// (built by `npm ci` / `npm install` through the package's `prepare` script, or by `npm run build`;
// see scripts/bundle-cli.mjs), when it is at least as new as its sources: the quickest cold start.
// When it is missing or older than them (an edited or freshly checked-out clone), it runs
// src/cli/main.ts through tsx instead, so that it never runs stale code.
import { readdirSync, readFileSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const compiled = new URL('dist/cli/berth.mjs', root);

/** The newest modification time of the files under `dir` (a URL ending in /). */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const url = new URL(entry.isDirectory() ? `${entry.name}/` : entry.name, dir);
    latest = Math.max(latest, entry.isDirectory() ? newest(url) : statSync(url).mtimeMs);
  }
  return latest;
}

/**
 * The newest modification time of the sources the bundle was built from, as the build listed them
 * (dist/cli/berth.inputs.json: the files under src/ it read, about 25); a listed file gone counts as
 * newer than any build. Without that list, every file under src/ (about 90, a few ms more).
 */
function newestSource() {
  let inputs;
  try {
    inputs = JSON.parse(readFileSync(new URL('dist/cli/berth.inputs.json', root), 'utf8'));
  } catch {
    return newest(new URL('src/', root));
  }
  let latest = 0;
  for (const file of inputs) latest = Math.max(latest, statSync(new URL(file, root), { throwIfNoEntry: false })?.mtimeMs ?? Infinity);
  return latest;
}

let built = 0;
try {
  built = statSync(compiled).mtimeMs;
} catch {
  // not built
}
if (built > 0 && built >= newestSource()) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
