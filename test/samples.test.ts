// Imports the real skopeo dir archives in samples/ (made by umoci and skopeo; see samples/README.md).
import fs from 'node:fs/promises';
import path from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { startBerth, type TestServer } from './helpers/server.js';

interface Sample {
  file: string;
  format: string;
  /** the root manifest: the one a tag names */
  manifest_digest: string;
  manifest_media_type: string;
  /** every manifest the archive brings (root first), and every blob */
  manifests: string[];
  blobs: string[];
  /** tags the archive names itself (docker RepoTags, OCI ref.name) */
  tags: string[];
  /** several images in one archive: each root manifest and its tag */
  images?: Array<{ digest: string; tag: string }>;
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

const repoFor = (file: string): string => `samples/${file.replace(/\.tar$/, '').replace(/[^a-z0-9]+/g, '-')}`;

for (const sample of samples) {
  const tagged = sample.tags.length > 0 ? `the tags it names (${sample.tags.join(', ')})` : 'the tag field';
  test(`the real sample ${sample.file} imports as ${sample.format} into one version with every manifest, blob and ${tagged}`, async (t) => {
    const { berth } = t.context;
    const repo = repoFor(sample.file);
    t.is((await berth.api('POST', '/api/v1/repositories', { name: repo })).status, 201);
    const archive = await fs.readFile(path.join(SAMPLES, sample.file));
    // Archives that name their own tags import without a tag field; skopeo dirs get one.
    const res = await berth.importMultipart(repo, archive, sample.tags.length > 0 ? {} : { tag: 'v1' });
    t.is(res.status, 201, JSON.stringify(res.body.error));
    t.is(res.body.format, sample.format);
    t.is(res.body.version, 1);
    t.deepEqual(res.body.manifests.map((m: { digest: string }) => m.digest).sort(), [...sample.manifests].sort());
    t.is(res.body.manifests.find((m: { digest: string }) => m.digest === sample.manifest_digest)?.media_type, sample.manifest_media_type);
    t.deepEqual(res.body.blobs.map((b: { digest: string }) => b.digest).sort(), [...sample.blobs].sort());
    t.true(res.body.blobs.every((b: { source: string }) => b.source === 'upload'));

    const version = await berth.api('GET', `/api/v1/repositories/${repo}/versions/1`);
    const expectedTags = sample.images ?? (sample.tags.length > 0 ? sample.tags : ['v1']).map((tag) => ({ tag, digest: sample.manifest_digest }));
    t.deepEqual(
      version.body.tags.map((x: { name: string; digest: string }) => [x.name, x.digest]).sort(),
      expectedTags.map((x) => [x.tag, x.digest]).sort(),
    );
    t.deepEqual(version.body.manifests.map((m: { digest: string }) => m.digest).sort(), [...sample.manifests].sort());
    t.deepEqual(version.body.blobs.map((b: { digest: string }) => b.digest).sort(), [...sample.blobs].sort());
    for (const d of [...sample.manifests, ...sample.blobs]) t.true(await berth.blobExists(d), d);
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
