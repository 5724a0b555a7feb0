// The archive formats beyond a single skopeo dir, built with tar-stream: docker-archive, OCI layout,
// multi-arch dirs, gzip outer tarballs, and the hostile or ambiguous variants that must be refused
// leaving nothing behind. The real archives made by real tools are in test/samples.test.ts.
import { randomBytes } from 'node:crypto';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import {
  dirEntries,
  dockerArchiveEntries,
  dockerArchiveManifest,
  type Entry,
  gzip,
  hex,
  type Image,
  makeImage,
  ociLayoutEntries,
  sha256,
  tarOf,
} from './helpers/archives.js';
import { startBerth, type TestServer } from './helpers/server.js';

const hooks = anyTest as TestFn<{ berth: TestServer }>;
// Serial: every test asserts that staging/ is empty afterwards.
const test = hooks.serial;

hooks.before(async (t) => {
  t.context.berth = await startBerth({ BERTH_MAX_UPLOAD_BYTES: String(1024 * 1024) });
});
hooks.after.always(async (t) => {
  await t.context.berth?.close();
});

const newRepo = (berth: TestServer): Promise<string> => berth.newRepository('formats/app');
const latest = (berth: TestServer, repo: string): Promise<number> => berth.latestVersion(repo);

async function tags(berth: TestServer, repo: string): Promise<Array<[string, string]>> {
  const res = await berth.api('GET', `/api/v1/repositories/${repo}/tags`);
  return res.body.tags.map((x: { name: string; digest: string }) => [x.name, x.digest]).sort();
}

/** A refused import: the code, the report, the repository still at `version`, nothing in staging. */
async function assertRefused(t: ExecutionContext, berth: TestServer, repo: string, res: { status: number; body: any }, code: string, version = 0): Promise<void> {
  t.true(res.status >= 400 && res.status < 500, `status ${res.status}`);
  t.is(res.body.error?.code, code, JSON.stringify(res.body.error));
  t.is(res.body.status, 'failed');
  t.is(await latest(berth, repo), version);
  t.deepEqual(await berth.stagingEntries(), []);
}

const digests = (list: Array<{ digest: string }>): string[] => list.map((x) => x.digest).sort();

// docker-archive

test('a docker-archive imports with a manifest built from its own layer bytes, and its RepoTags tag', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage({ layerCount: 2 });
  const res = await berth.importMultipart(repo, await tarOf(dockerArchiveEntries([{ image, repoTags: ['localhost/team/app:v1'] }])));
  t.is(res.status, 201, JSON.stringify(res.body.error));
  t.is(res.body.format, 'docker-archive');
  const manifest = dockerArchiveManifest(image);
  t.deepEqual(res.body.manifests, [{ digest: sha256(manifest), media_type: 'application/vnd.docker.distribution.manifest.v2+json', source: 'upload' }]);
  t.deepEqual(digests(res.body.blobs), [image.configDigest, ...image.layerDigests].sort());
  t.deepEqual(await tags(berth, repo), [['v1', sha256(manifest)]]);
  // The registry serves exactly the built manifest and the archive's layer bytes.
  const served = await fetch(`${berth.url}/v2/${repo}/manifests/v1`, { headers: { Authorization: `Bearer ${(berth.server.adminToken)}` } });
  t.true(Buffer.from(await served.arrayBuffer()).equals(manifest));
  const layer = await fetch(`${berth.url}/v2/${repo}/blobs/${image.layerDigests[0]}`, { headers: { Authorization: `Bearer ${berth.server.adminToken}` } });
  t.true(Buffer.from(await layer.arrayBuffer()).equals(image.layers[0]!));
  t.deepEqual(await berth.stagingEntries(), []);
});

test('a docker save archive of the older kind, with <id>/layer.tar files and <id>/json, imports the same image', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage({ layerCount: 2 });
  // Replace each link by the layer file itself, as docker save before 25 writes it.
  const linked = dockerArchiveEntries([{ image, repoTags: ['app:v1'] }]);
  const byName = new Map(linked.map((e) => [e.name, e]));
  const entries = linked
    .filter((e) => !/^[a-f0-9]{64}\.tar$/.test(e.name))
    .flatMap((e): Entry[] =>
      e.type === 'symlink'
        ? [{ name: e.name.replace('layer.tar', 'json'), data: '{}' }, { name: e.name, data: byName.get(e.linkname!.slice(3))!.data! }]
        : [e],
    );
  const res = await berth.importRaw(repo, await tarOf(entries));
  t.is(res.status, 201, JSON.stringify(res.body.error));
  t.deepEqual(await tags(berth, repo), [['v1', sha256(dockerArchiveManifest(image))]]);
});

test('several images in one docker-archive all import, each with its RepoTags; no RepoTags means untagged', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const shared = randomBytes(2048);
  const a = makeImage({ layers: [shared, randomBytes(1024)] });
  const b = makeImage({ layers: [shared] });
  const c = makeImage({ layerCount: 1 });
  const archive = await tarOf(
    dockerArchiveEntries([
      { image: a, repoTags: ['team/app:v1', 'team/app:latest'] },
      { image: b, repoTags: ['docker.io/library/tool:2.0'] },
      { image: c, repoTags: null },
    ]),
  );
  const res = await berth.importRaw(repo, archive);
  t.is(res.status, 201, JSON.stringify(res.body.error));
  t.is(res.body.version, 1);
  const [ma, mb, mc] = [a, b, c].map((i) => sha256(dockerArchiveManifest(i)));
  t.deepEqual(digests(res.body.manifests), [ma, mb, mc].sort());
  t.is(res.body.blobs.length, 3 + 3 + 1 - 1, 'the shared layer is listed once');
  t.deepEqual(await tags(berth, repo), [['2.0', mb!], ['latest', ma!], ['v1', ma!]].sort() as Array<[string, string]>);
});

test('a tag field with a docker-archive of several images is TAG_AMBIGUOUS', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const archive = await tarOf(dockerArchiveEntries([{ image: makeImage(), repoTags: null }, { image: makeImage(), repoTags: null }]));
  const res = await berth.importMultipart(repo, archive, { tag: 'v1' });
  await assertRefused(t, berth, repo, res, 'TAG_AMBIGUOUS');
  t.is(res.body.error.details.images.length, 2);
});

test('a docker-archive that gives one tag to two images is TAG_AMBIGUOUS', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const archive = await tarOf(dockerArchiveEntries([{ image: makeImage(), repoTags: ['a:v1'] }, { image: makeImage(), repoTags: ['b:v1'] }]));
  await assertRefused(t, berth, repo, await berth.importRaw(repo, archive), 'TAG_AMBIGUOUS');
});

test('a tag field overrides the RepoTags of a single-image docker-archive', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage();
  const res = await berth.importMultipart(repo, await tarOf(dockerArchiveEntries([{ image, repoTags: ['team/app:v1'] }])), { tag: 'release' });
  t.is(res.status, 201);
  t.deepEqual(await tags(berth, repo), [['release', sha256(dockerArchiveManifest(image))]]);
});

for (const [what, linkname] of [
  ['leaves the archive', '../../../etc/passwd'],
  ['is absolute', '/etc/passwd'],
  ['names an entry the archive does not hold', '../missing/layer.tar'],
  ['loops', 'layer.tar'],
] as const) {
  test(`a docker-archive whose layer link ${what} is refused with ENTRY_UNSAFE`, async (t) => {
    const { berth } = t.context;
    const repo = await newRepo(berth);
    const image = makeImage({ layerCount: 1 });
    const entries = dockerArchiveEntries([{ image, repoTags: null }]).map((e) => (e.type === 'symlink' ? { ...e, linkname } : e));
    await assertRefused(t, berth, repo, await berth.importRaw(repo, await tarOf(entries)), 'ENTRY_UNSAFE');
  });
}

test('a docker-archive may omit layers its destination repository holds, and only those', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const other = await newRepo(berth);
  const base = makeImage({ layerCount: 2 });
  t.is((await berth.importRaw(repo, await tarOf(dockerArchiveEntries([{ image: base, repoTags: ['x:v1'] }])))).status, 201);
  const next = makeImage({ layers: [...base.layers, randomBytes(1024)] });
  const incomplete = await tarOf(dockerArchiveEntries([{ image: next, repoTags: ['x:v2'] }], { omit: base.layerDigests }));

  // The other repository does not own the base layers: BLOB_UNKNOWN names both.
  const refused = await berth.importRaw(other, incomplete);
  await assertRefused(t, berth, other, refused, 'BLOB_UNKNOWN');
  t.deepEqual([...refused.body.error.details.missing].sort(), [...base.layerDigests].sort());

  const res = await berth.importRaw(repo, incomplete);
  t.is(res.status, 201, JSON.stringify(res.body.error));
  t.is(res.body.version, 2);
  t.deepEqual(
    res.body.blobs.filter((b: { source: string }) => b.source === 'repository').map((b: { digest: string }) => b.digest).sort(),
    [...base.layerDigests].sort(),
  );
  const manifest = await fetch(`${berth.url}/v2/${repo}/manifests/v2`, { headers: { Authorization: `Bearer ${berth.server.adminToken}` } });
  t.true(Buffer.from(await manifest.arrayBuffer()).equals(dockerArchiveManifest(next)), 'sizes of omitted layers come from the repository');
});

test('a docker-archive may leave out its <hex>.json config too; sent again with nothing but manifest.json it changes nothing', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage({ layerCount: 2 });
  const full = dockerArchiveEntries([{ image, repoTags: ['x:v1'] }]);
  t.is((await berth.importRaw(repo, await tarOf(full))).status, 201);
  const bare = await berth.importRaw(repo, await tarOf(dockerArchiveEntries([{ image, repoTags: ['x:v1'] }], { omit: [image.configDigest, ...image.layerDigests] })));
  t.is(bare.status, 201, JSON.stringify(bare.body.error));
  t.false(bare.body.new_version);
  t.true(bare.body.blobs.every((b: { source: string }) => b.source === 'repository'));
  t.deepEqual(await berth.stagingEntries(), []);
});

test('a docker-archive config whose bytes do not match its <hex>.json name is DIGEST_INVALID', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const entries = dockerArchiveEntries([{ image: makeImage(), repoTags: null }]).map((e) => (e.name.endsWith('.json') && e.name !== 'manifest.json' ? { ...e, data: '{"os":"linux"}' } : e));
  await assertRefused(t, berth, repo, await berth.importRaw(repo, await tarOf(entries)), 'DIGEST_INVALID');
});

test('a docker-archive naming a layer it does not hold under a name that is no digest, and that no diff id of its config names, is ARCHIVE_INVALID', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage({ layerCount: 1 });
  // The config names the layer by its diff id: the left-out <id>/layer.tar is that blob, which the repository lacks.
  const named = dockerArchiveEntries([{ image, repoTags: null }]).filter((e) => e.type !== 'symlink');
  const unknown = await berth.importRaw(repo, await tarOf(named));
  await assertRefused(t, berth, repo, unknown, 'BLOB_UNKNOWN');
  t.deepEqual(unknown.body.error.details.missing, image.layerDigests);
  // A config without diff ids: nothing says which blob the layer is.
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const unnamed = named.map((e) => {
    if (e.name === `${hex(image.configDigest)}.json`) return { ...e, name: `${hex(sha256(config))}.json`, data: config };
    if (e.name === 'manifest.json') return { ...e, data: String(e.data).replace(`${hex(image.configDigest)}.json`, `${hex(sha256(config))}.json`) };
    return e;
  });
  await assertRefused(t, berth, repo, await berth.importRaw(repo, await tarOf(unnamed)), 'ARCHIVE_INVALID');
});

test('a docker-archive whose layer bytes do not match its <hex>.tar name is DIGEST_INVALID', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage({ layerCount: 1 });
  const entries = dockerArchiveEntries([{ image, repoTags: null }]).map((e) => (e.name.endsWith('.tar') && e.type !== 'symlink' ? { ...e, data: randomBytes(100) } : e));
  await assertRefused(t, berth, repo, await berth.importRaw(repo, await tarOf(entries)), 'DIGEST_INVALID');
});

test('a docker-archive manifest.json that is not an array of images is MANIFEST_INVALID', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const entries = dockerArchiveEntries([{ image: makeImage(), repoTags: null }]).map((e) =>
    e.name === 'manifest.json' ? { ...e, data: '{"Config":"x.json"}' } : e,
  );
  await assertRefused(t, berth, repo, await berth.importRaw(repo, await tarOf(entries)), 'MANIFEST_INVALID');
});

// OCI layout

test('an OCI layout imports every manifest its index.json names, tagged by ref.name', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const a = makeImage({ oci: true });
  const b = makeImage({ oci: true });
  const entries = ociLayoutEntries([{ image: a, refName: 'v1' }, { image: b, refName: 'registry.example/team/app:v2' }], { extra: [randomBytes(64)] });
  const res = await berth.importRaw(repo, await tarOf(entries));
  t.is(res.status, 201, JSON.stringify(res.body.error));
  t.is(res.body.format, 'oci-layout');
  t.deepEqual(digests(res.body.manifests), [a.manifestDigest, b.manifestDigest].sort());
  t.deepEqual(digests(res.body.blobs), [a.configDigest, ...a.layerDigests, b.configDigest, ...b.layerDigests].sort(), 'an unreferenced blob is not imported');
  t.deepEqual(await tags(berth, repo), [['v1', a.manifestDigest], ['v2', b.manifestDigest]]);
});

test('a docker save (25+) archive, an OCI layout with a docker manifest.json beside it, is read as the OCI layout', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage({ oci: true });
  const dockerManifest = [{ Config: `blobs/sha256/${hex(image.configDigest)}`, RepoTags: ['app:v1'], Layers: image.layerDigests.map((d) => `blobs/sha256/${hex(d)}`) }];
  const entries = [...ociLayoutEntries([{ image, refName: 'v1' }]), { name: 'manifest.json', data: JSON.stringify(dockerManifest) }, { name: 'repositories', data: '{}' }];
  const res = await berth.importRaw(repo, await tarOf(entries));
  t.is(res.status, 201, JSON.stringify(res.body.error));
  t.is(res.body.format, 'oci-layout');
  t.deepEqual(await tags(berth, repo), [['v1', image.manifestDigest]], 'the manifest in the layout is kept, not rebuilt');
});

test('an OCI layout whose index names a manifest that is nowhere is BLOB_UNKNOWN', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage({ oci: true });
  const res = await berth.importRaw(repo, await tarOf(ociLayoutEntries([{ image, refName: 'v1' }], { omit: [image.manifestDigest] })));
  await assertRefused(t, berth, repo, res, 'BLOB_UNKNOWN');
  t.deepEqual(res.body.error.details.missing, [image.manifestDigest]);
});

test('an OCI layout may name a manifest its repository already holds, to tag it', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage({ oci: true });
  t.is((await berth.importRaw(repo, await tarOf(ociLayoutEntries([{ image, refName: 'v1' }])))).status, 201);
  const all = [image.manifestDigest, image.configDigest, ...image.layerDigests];
  const res = await berth.importRaw(repo, await tarOf(ociLayoutEntries([{ image, refName: 'stable' }], { omit: all })));
  t.is(res.status, 201, JSON.stringify(res.body.error));
  t.deepEqual(res.body.manifests, [{ digest: image.manifestDigest, media_type: image.mediaType, source: 'repository' }]);
  t.deepEqual(await tags(berth, repo), [['stable', image.manifestDigest], ['v1', image.manifestDigest]]);
});

test('an OCI layout blob whose bytes do not match its name is DIGEST_INVALID', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const image = makeImage({ oci: true });
  const entries = ociLayoutEntries([{ image }]).map((e) => (e.name === `blobs/sha256/${hex(image.layerDigests[0]!)}` ? { ...e, data: randomBytes(2048) } : e));
  await assertRefused(t, berth, repo, await berth.importRaw(repo, await tarOf(entries)), 'DIGEST_INVALID');
});

test('an OCI layout with an unknown layout version is UNSUPPORTED_ARCHIVE', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const entries = ociLayoutEntries([{ image: makeImage({ oci: true }) }]).map((e) => (e.name === 'oci-layout' ? { ...e, data: '{"imageLayoutVersion":"9"}' } : e));
  await assertRefused(t, berth, repo, await berth.importRaw(repo, await tarOf(entries)), 'UNSUPPORTED_ARCHIVE');
});

test('a tag field with an OCI layout of several images is TAG_AMBIGUOUS; with one image it tags it', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const [a, b] = [makeImage({ oci: true }), makeImage({ oci: true })];
  const two = await tarOf(ociLayoutEntries([{ image: a }, { image: b }]));
  await assertRefused(t, berth, repo, await berth.importMultipart(repo, two, { tag: 'v1' }), 'TAG_AMBIGUOUS');
  const one = await berth.importMultipart(repo, await tarOf(ociLayoutEntries([{ image: a, refName: 'ignored' }])), { tag: 'v1' });
  t.is(one.status, 201);
  t.deepEqual(await tags(berth, repo), [['v1', a.manifestDigest]]);
});

// multi-arch skopeo dir

function multiArch(): { index: Buffer; platforms: Image[]; entries: Entry[] } {
  const platforms = [makeImage({ layerCount: 2 }), makeImage({ layerCount: 1 })];
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      manifests: platforms.map((p, i) => ({
        mediaType: p.mediaType,
        size: p.manifest.length,
        digest: p.manifestDigest,
        platform: { architecture: ['amd64', 'arm64'][i], os: 'linux' },
      })),
    }),
  );
  const entries: Entry[] = [
    { name: 'version', data: 'Directory Transport Version: 1.1\n' },
    { name: 'manifest.json', data: index },
    ...platforms.flatMap((p) => [{ name: `${hex(p.manifestDigest)}.manifest.json`, data: p.manifest }, ...dirEntries(p).filter((e) => e.name !== 'version' && e.name !== 'manifest.json')]),
  ];
  return { index, platforms, entries };
}

test('a multi-arch skopeo dir imports the index, every platform manifest and blob; the tag names the index', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const { index, platforms, entries } = multiArch();
  const res = await berth.importMultipart(repo, await tarOf(entries), { tag: 'v1' });
  t.is(res.status, 201, JSON.stringify(res.body.error));
  t.deepEqual(digests(res.body.manifests), [sha256(index), ...platforms.map((p) => p.manifestDigest)].sort());
  t.is(res.body.blobs.length, 3 + 2);
  t.deepEqual(await tags(berth, repo), [['v1', sha256(index)]]);
});

test('a multi-arch dir may omit a platform manifest its repository holds, and not one it does not', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const { platforms, entries } = multiArch();
  const [amd64] = platforms;
  const omitAmd64 = entries.filter((e) => !e.name.startsWith(hex(amd64!.manifestDigest)) && !amd64!.layerDigests.concat(amd64!.configDigest).map(hex).includes(e.name));
  const refused = await berth.importRaw(repo, await tarOf(omitAmd64));
  await assertRefused(t, berth, repo, refused, 'BLOB_UNKNOWN');
  t.deepEqual(refused.body.error.details.missing, [amd64!.manifestDigest]);

  t.is((await berth.importRaw(repo, await tarOf(dirEntries(amd64!)), { tag: 'amd64' })).status, 201);
  const res = await berth.importRaw(repo, await tarOf(omitAmd64), { tag: 'v1' });
  t.is(res.status, 201, JSON.stringify(res.body.error));
  t.is(res.body.manifests.find((m: { digest: string }) => m.digest === amd64!.manifestDigest).source, 'repository');
});

// what every format shares

test('layers compressed with zstd, foreign layers and artifacts are stored as the blobs they are', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const zstd = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), randomBytes(1000)]);
  const artifactConfig = Buffer.from('{"kind":"helm chart"}');
  const foreignDigest = sha256('a layer that lives elsewhere');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', size: artifactConfig.length, digest: sha256(artifactConfig) },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', size: zstd.length, digest: sha256(zstd) },
        { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', size: 28, digest: foreignDigest, urls: ['https://example.com/layer'] },
      ],
    }),
  );
  const entries: Entry[] = [
    { name: 'version', data: 'Directory Transport Version: 1.1\n' },
    { name: 'manifest.json', data: manifest },
    { name: hex(sha256(artifactConfig)), data: artifactConfig },
    { name: hex(sha256(zstd)), data: zstd },
  ];
  const res = await berth.importRaw(repo, await tarOf(entries), { tag: 'v1' });
  t.is(res.status, 201, JSON.stringify(res.body.error));
  t.deepEqual(digests(res.body.blobs), [sha256(artifactConfig), sha256(zstd)].sort(), 'the foreign layer is neither stored nor required');
  const served = await fetch(`${berth.url}/v2/${repo}/blobs/${sha256(zstd)}`, { headers: { Authorization: `Bearer ${berth.server.adminToken}` } });
  t.true(Buffer.from(await served.arrayBuffer()).equals(zstd), 'the zstd layer comes back as it went in');
});

const formats: Array<[string, () => Entry[]]> = [
  ['skopeo-dir', () => dirEntries(makeImage())],
  ['docker-archive', () => dockerArchiveEntries([{ image: makeImage(), repoTags: null }])],
  ['oci-layout', () => ociLayoutEntries([{ image: makeImage({ oci: true }) }])],
];
for (const [format, entries] of formats) {
  for (const mode of ['multipart', 'raw application/gzip'] as const) {
    test(`a gzip-compressed ${format} imports through a ${mode} body`, async (t) => {
      const { berth } = t.context;
      const repo = await newRepo(berth);
      const archive = gzip(await tarOf(entries()));
      const res =
        mode === 'multipart'
          ? await berth.importMultipart(repo, archive, { tag: 'v1', filename: 'image.tar.gz' })
          : await berth.importRaw(repo, archive, { tag: 'v1', contentType: 'application/gzip' });
      t.is(res.status, 201, JSON.stringify(res.body.error));
      t.is(res.body.format, format);
      t.is(res.body.version, 1);
      t.deepEqual(await berth.stagingEntries(), []);
    });
  }
}

test('a gzip archive that decompresses past the size limit is UPLOAD_TOO_LARGE (413)', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  // 4 MiB of zeros compress to a few KiB; the server's limit here is 1 MiB.
  const archive = gzip(await tarOf([...dirEntries(makeImage()), { name: 'padding', data: Buffer.alloc(4 * 1024 * 1024) }]));
  t.true(archive.length < 64 * 1024);
  const res = await berth.importRaw(repo, archive, { contentType: 'application/gzip' });
  t.is(res.status, 413);
  await assertRefused(t, berth, repo, { ...res, status: 400 }, 'UPLOAD_TOO_LARGE');
});

test('an archive that matches no format is UNSUPPORTED_ARCHIVE and names the entries it saw', async (t) => {
  const { berth } = t.context;
  const repo = await newRepo(berth);
  const res = await berth.importRaw(repo, await tarOf([{ name: 'README' , data: 'hi' }, { name: 'src/main.c', data: 'int main;' }]));
  await assertRefused(t, berth, repo, res, 'UNSUPPORTED_ARCHIVE');
  t.deepEqual(res.body.error.details.entries, ['README', 'src/main.c']);
});
