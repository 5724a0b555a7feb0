// Imports the real skopeo dir archives in samples/ (made by umoci and skopeo; see samples/README.md).
import fs from 'node:fs/promises';
import path from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { startBerth, type TestServer } from './helpers/server.js';

interface Sample {
  file: string;
  format: string;
  manifest_digest: string | null;
  manifest_media_type?: string;
  config_digest?: string;
  layer_digests?: string[];
}

const hooks = anyTest as TestFn<{ berth: TestServer }>;
// Serial: each test checks that staging/ is empty afterwards.
const test = hooks.serial;
const SAMPLES = path.resolve('samples');
const samples = JSON.parse(await fs.readFile(path.join(SAMPLES, 'digests.json'), 'utf8')) as Sample[];

hooks.before(async (t) => {
  t.context.berth = await startBerth();
});
hooks.after.always(async (t) => {
  await t.context.berth?.close();
});

for (const sample of samples.filter((s) => s.format === 'skopeo-dir')) {
  test(`the real sample ${sample.file} imports into one version with its manifest, config, layers and tag`, async (t) => {
    const { berth } = t.context;
    const repo = `samples/${sample.file.replace(/[^a-z0-9]+/g, '-').replace(/-tar$/, '')}`;
    t.is((await berth.api('POST', '/api/v1/repositories', { name: repo })).status, 201);
    const archive = await fs.readFile(path.join(SAMPLES, sample.file));
    const res = await berth.importMultipart(repo, archive, { tag: 'v1' });
    t.is(res.status, 201, JSON.stringify(res.body.error));
    t.is(res.body.format, 'skopeo-dir');
    t.is(res.body.version, 1);
    t.deepEqual(res.body.manifests.map((m: { digest: string; media_type: string }) => [m.digest, m.media_type]), [
      [sample.manifest_digest, sample.manifest_media_type],
    ]);
    t.deepEqual(res.body.blobs.map((b: { digest: string }) => b.digest), [sample.config_digest, ...sample.layer_digests!]);
    const version = await berth.api('GET', `/api/v1/repositories/${repo}/versions/1`);
    t.deepEqual(version.body.tags, [{ name: 'v1', digest: sample.manifest_digest }]);
    t.is(version.body.blobs.length, 1 + sample.layer_digests!.length);
    for (const d of [sample.manifest_digest!, sample.config_digest!, ...sample.layer_digests!]) t.true(await berth.blobExists(d), d);
    t.deepEqual(await berth.stagingEntries(), []);
  });
}

test('the same real image imported again as raw gzip changes nothing', async (t) => {
  const { berth } = t.context;
  const sample = samples.find((s) => s.file === 'skopeo-dir-v2s2.tar')!;
  await berth.api('POST', '/api/v1/repositories', { name: 'samples/again' });
  const archive = await fs.readFile(path.join(SAMPLES, sample.file));
  t.is((await berth.importRaw('samples/again', archive, { tag: 'v1' })).body.version, 1);
  const { gzipSync } = await import('node:zlib');
  const again = await berth.importRaw('samples/again', gzipSync(archive), { tag: 'v1', contentType: 'application/gzip' });
  t.is(again.status, 201);
  t.is(again.body.version, 1);
  t.false(again.body.new_version);
});
