// The shape of the code, checked: one-way layers, one writer of versions, one route table.
import fs from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { apiRoutes } from '../src/http/api/routes.js';
import { REGISTRY_ROUTES } from '../src/http/registry/routes.js';
import { ACTIONS } from '../src/core/policy.js';
import { openApiDocument } from '../src/http/api/openapi.js';

const SRC = path.resolve('src');

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

/** The layer of a file under src/: its top folder, or the file itself for top-level modules. */
function layerOf(file: string): string {
  const rel = path.relative(SRC, file);
  const top = rel.split(path.sep)[0]!;
  return top.endsWith('.ts') ? top.slice(0, -3) : top;
}

const LEAVES = new Set(['errors', 'config', 'log', 'metrics']);
/** What each layer may import besides itself and the leaves: http → services → {db, blobs, archive} → core. */
const MAY_IMPORT: Record<string, string[]> = {
  http: ['services', 'core'],
  services: ['db', 'blobs', 'archive', 'core'],
  db: ['core'],
  blobs: ['core'],
  archive: ['core'],
  core: [],
  cli: ['archive', 'core'],
  // the composition roots wire everything together
  app: ['http', 'services', 'db', 'blobs', 'core'],
  server: ['app', 'services', 'db', 'blobs', 'core'],
  main: ['server'],
  fsck: ['server', 'services'],
};

async function importsOf(file: string): Promise<string[]> {
  const text = await fs.readFile(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/gm)].map((m) => path.resolve(path.dirname(file), m[1]!.replace(/\.js$/, '.ts')));
}

test('imports in src/ point one way: http → services → {db, blobs, archive} → core, plus the leaf modules', async (t) => {
  const broken: string[] = [];
  const files = await sourceFiles(SRC);
  t.true(files.length > 30);
  for (const file of files) {
    const from = layerOf(file);
    t.truthy(MAY_IMPORT[from] ?? (LEAVES.has(from) ? [] : undefined), `no layer rule for ${from}`);
    for (const target of await importsOf(file)) {
      const to = layerOf(target);
      if (to === from || LEAVES.has(to)) continue;
      if (LEAVES.has(from) || !(MAY_IMPORT[from] ?? []).includes(to)) broken.push(`${path.relative(SRC, file)} → ${path.relative(SRC, target)}`);
    }
  }
  t.deepEqual(broken, []);
});

test('the layer check fails on an import that points the wrong way', (t) => {
  // The rule itself, on made-up edges: a reader that imports the blob store, db importing blobs.
  const allowed = (from: string, to: string) => to === from || LEAVES.has(to) || (MAY_IMPORT[from] ?? []).includes(to);
  t.false(allowed('archive', 'blobs'));
  t.false(allowed('db', 'blobs'));
  t.false(allowed('core', 'services'));
  t.false(allowed('http', 'db'));
  t.true(allowed('services', 'archive'));
});

test('only the commit service writes repository versions', async (t) => {
  const writers: string[] = [];
  for (const file of await sourceFiles(SRC)) {
    const text = await fs.readFile(file, 'utf8');
    if (/\binsertVersion\(/.test(text) && !file.endsWith(path.join('db', 'versions.ts'))) writers.push(path.relative(SRC, file));
    if (/'repository_versions'\)\s*\.insert/.test(text) && !file.endsWith(path.join('db', 'versions.ts'))) writers.push(path.relative(SRC, file));
  }
  t.deepEqual(writers, ['services/commit.ts']);
});

test('every /api and /v2 route declares the action it needs, and every /api route is in the OpenAPI document', (t) => {
  const routes = apiRoutes({} as never);
  t.true(routes.length >= 12);
  for (const route of routes) t.true((ACTIONS as readonly string[]).includes(route.action), `${route.method} ${route.path}`);
  for (const [kind, methods] of Object.entries(REGISTRY_ROUTES)) {
    t.true(Object.keys(methods).length > 0, kind);
    for (const [method, entry] of Object.entries(methods)) t.true((ACTIONS as readonly string[]).includes(entry!.action), `${method} /v2 ${kind}`);
  }
  const doc = openApiDocument(routes) as { paths: Record<string, Record<string, { 'x-berth-action': string }>> };
  for (const route of routes) t.is(doc.paths[route.path]?.[route.method.toLowerCase()]?.['x-berth-action'], route.action, `${route.method} ${route.path}`);
});
