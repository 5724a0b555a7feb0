import { startBerth } from './test/helpers/server.js';
import { dirEntries, makeImage, tarOf } from './test/helpers/archives.js';
const b = await startBerth();
const repo = await b.newRepository('t');
const img = makeImage();
await b.importRaw(repo, await tarOf(dirEntries(img)), { tag: 'v1' });
const inc = await tarOf(dirEntries(img, { omit: img.layerDigests }));
const xs: number[] = [];
for (let i = 0; i < 300; i++) { const t = performance.now(); const r = await b.importRaw(repo, inc, { tag: 'v1' }); if (r.status !== 201) throw new Error(String(r.status)); xs.push(performance.now() - t); }
xs.sort((a, b) => a - b);
console.log(process.env.VARIANT ?? 'current', 'median', xs[150]!.toFixed(2), 'p90', xs[270]!.toFixed(2));
await b.close();
