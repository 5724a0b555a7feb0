// Round trips with a real OCI client: import an image, pull it back with skopeo over 127.0.0.1 into a
// `dir:` and compare every file skopeo writes with what was imported, byte for byte. Without skopeo
// (Debian package "skopeo") these tests are skipped with a warning; .ci/run installs it and requires them.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { type Entry, hex, makeImage, sha256, tarOf } from './helpers/archives.js';
import { dirFiles, dockerRef as ref, execFileP, have, sample, sampleDigests, skopeo, tarFiles, withClient } from './helpers/clients.js';
import { ADMIN_TOKEN, startBerth, type TestServer } from './helpers/server.js';

const test = anyTest as TestFn<{ berth: TestServer }>;
const FILE = 'registry-roundtrip.test.ts';
const roundTrip = withClient(test, FILE, 'skopeo', 'install the Debian package "skopeo"');
const haveSkopeo = have.skopeo;

const creds = `pull:${ADMIN_TOKEN}`;

async function pullToDir(t: ExecutionContext, berth: TestServer, name: string, opts: { all?: boolean } = {}): Promise<string> {
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-pull-'));
  t.teardown(() => fs.rm(out, { recursive: true, force: true }));
  const dest = path.join(out, 'image');
  await skopeo(['copy', ...(opts.all ? ['--all'] : []), '--src-tls-verify=false', '--src-creds', creds, ref(berth, name), `dir:${dest}`]);
  return dest;
}

async function inspectRaw(berth: TestServer, name: string): Promise<Buffer> {
  return skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds, ref(berth, name)]);
}

/** Every file in `dir` is one of `expected` with the same bytes, and every expected file is there. */
async function assertDirHolds(t: ExecutionContext, dir: string, expected: Map<string, Buffer>): Promise<void> {
  const names = (await fs.readdir(dir)).sort();
  t.deepEqual(names, [...expected.keys()].sort());
  for (const name of names) {
    const bytes = await fs.readFile(path.join(dir, name));
    t.true(bytes.equals(expected.get(name)!), `${name} differs from what was imported`);
  }
}

const asFiles = (entries: Entry[]): Map<string, Buffer> => new Map(entries.map((e) => [e.name, Buffer.from(e.data ?? '')]));

async function importRaw(t: ExecutionContext, berth: TestServer, name: string, archive: Buffer, tag: string): Promise<{ manifests: Array<{ digest: string }> }> {
  const created = await berth.api('POST', '/api/v1/repositories', { name });
  t.true(created.status === 201 || created.status === 409);
  const res = await berth.importRaw(name, archive, { tag });
  t.is(res.status, 201, JSON.stringify(res.body.error));
  return res.body;
}

test.before(async (t) => {
  t.context.berth = await startBerth();
});
test.after.always(async (t) => {
  await t.context.berth?.close();
});

for (const oci of [false, true]) {
  const kind = oci ? 'an OCI' : 'a Docker schema 2';
  roundTrip(`skopeo pulls ${kind} image back byte for byte, and inspect --raw is the imported manifest`, async (t) => {
    const { berth } = t.context;
    const image = makeImage({ oci, layerCount: 3 });
    const name = oci ? 'team/app-oci' : 'team/app';
    await importRaw(t, berth, name, await tarOf(image.entries), 'v1');
    const dir = await pullToDir(t, berth, `${name}:v1`);
    await assertDirHolds(t, dir, asFiles(image.entries));
    t.true((await inspectRaw(berth, `${name}:v1`)).equals(image.manifest));
    t.true((await inspectRaw(berth, `${name}@${image.manifestDigest}`)).equals(image.manifest));
    const inspected = JSON.parse((await skopeo(['inspect', '--tls-verify=false', '--creds', creds, ref(berth, `${name}:v1`)])).toString('utf8'));
    t.is(inspected.Digest, image.manifestDigest);
    t.deepEqual(inspected.Layers, image.layerDigests);
  });
}

roundTrip('skopeo copy --all pulls a multi-arch image back byte for byte: index, platform manifests and blobs', async (t) => {
  const { berth } = t.context;
  const platforms = [
    { architecture: 'amd64', image: makeImage({ layerCount: 2 }) },
    { architecture: 'arm64', image: makeImage({ layerCount: 1 }) },
  ];
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      manifests: platforms.map((p) => ({
        mediaType: p.image.mediaType,
        size: p.image.manifest.length,
        digest: p.image.manifestDigest,
        platform: { architecture: p.architecture, os: 'linux' },
      })),
    }),
  );
  // skopeo's dir: layout of a multi-arch copy: the index as manifest.json, each platform manifest as <hex>.manifest.json
  const entries: Entry[] = [
    { name: 'version', data: 'Directory Transport Version: 1.1\n' },
    { name: 'manifest.json', data: index },
    ...platforms.flatMap((p) => [
      { name: `${hex(p.image.manifestDigest)}.manifest.json`, data: p.image.manifest },
      ...p.image.entries.filter((e) => e.name !== 'version' && e.name !== 'manifest.json'),
    ]),
  ];
  await importRaw(t, berth, 'team/multi', await tarOf(entries), 'v1');
  const dir = await pullToDir(t, berth, 'team/multi:v1', { all: true });
  await assertDirHolds(t, dir, asFiles(entries));
  t.true((await inspectRaw(berth, 'team/multi:v1')).equals(index));
  t.is(sha256(index), sha256(await fs.readFile(path.join(dir, 'manifest.json'))));
});

for (const { file, all, what } of [
  { file: 'skopeo-dir-v2s2.tar', all: false, what: 'the real skopeo dir sample' },
  { file: 'skopeo-dir-multiarch-oci.tar', all: true, what: 'the real multi-arch sample, with copy --all,' },
]) {
  const found = sample(file, 'skopeo-dir');
  (haveSkopeo && 'file' in found ? test : test.skip)(`skopeo pulls ${what} back byte for byte, and inspect --raw is its manifest.json`, async (t) => {
    if (!('file' in found)) return;
    const { berth } = t.context;
    const name = all ? 'samples/multi' : 'samples/dir';
    const files = await tarFiles(found.file);
    await importRaw(t, berth, name, await fs.readFile(found.file), 'v1');
    const dir = await pullToDir(t, berth, `${name}:v1`, { all });
    await assertDirHolds(t, dir, files);
    t.true((await inspectRaw(berth, `${name}:v1`)).equals(files.get('manifest.json')!));
  });
  if ('skip' in found) console.warn(`registry-roundtrip.test.ts: ${file} round trip SKIPPED: ${found.skip}`);
}

const dockerSample = sample('docker-archive.tar', 'docker-archive');
(haveSkopeo && 'file' in dockerSample ? test : test.skip)(
  'an image imported from a docker-archive pulls back exactly as skopeo reads the archive itself',
  async (t) => {
    if (!('file' in dockerSample)) return;
    const { berth } = t.context;
    // What skopeo makes of the archive directly is what it must get from Berth: same manifest, config and layers.
    const direct = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-direct-'));
    t.teardown(() => fs.rm(direct, { recursive: true, force: true }));
    await skopeo(['copy', `docker-archive:${dockerSample.file}`, `dir:${path.join(direct, 'image')}`]);
    const expected = await dirFiles(path.join(direct, 'image'));

    const created = await berth.api('POST', '/api/v1/repositories', { name: 'samples/docker' });
    t.is(created.status, 201);
    const res = await berth.importRaw('samples/docker', await fs.readFile(dockerSample.file));
    t.is(res.status, 201, JSON.stringify(res.body.error));
    const dir = await pullToDir(t, berth, 'samples/docker:v1');
    await assertDirHolds(t, dir, expected);
    t.true((await inspectRaw(berth, 'samples/docker:v1')).equals(await skopeo(['inspect', '--raw', `docker-archive:${dockerSample.file}`])));
  },
);
if ('skip' in dockerSample) console.warn(`registry-roundtrip.test.ts: docker-archive sample round trip SKIPPED: ${dockerSample.skip}`);

const podmanTest = withClient(test, FILE, 'podman', 'install the Debian package "podman"');
('file' in dockerSample ? podmanTest : test.skip)('podman pulls the image imported from the real docker-archive and stores its config and layers', async (t) => {
  if (!('file' in dockerSample)) return;
  const { berth } = t.context;
  const expected = await sampleDigests('docker-archive.tar');
  await importRaw(t, berth, 'samples/podman', await fs.readFile(dockerSample.file), 'v1');
  const reference = `127.0.0.1:${berth.server.port}/samples/podman:v1`;
  t.teardown(() => execFileP('podman', ['rmi', '-f', reference]).then(() => undefined, () => undefined));
  await execFileP('podman', ['pull', '-q', '--tls-verify=false', '--creds', creds, reference], { timeout: 120_000 });
  const { stdout } = await execFileP('podman', ['image', 'inspect', reference]);
  const [inspected] = JSON.parse(stdout) as Array<{ Digest: string; Id: string; RootFS: { Layers: string[] } }>;
  t.is(inspected!.Digest, expected.manifest_digest);
  t.is(`sha256:${inspected!.Id}`, expected.blobs[0]!);
  // docker-archive layers are uncompressed, so their digests are the image's diff IDs
  t.deepEqual(inspected!.RootFS.Layers, expected.blobs.slice(1));
});

// docker pull: runs where a Docker daemon answers (.ci/run starts one when dockerd is installed).
const dockerTest = withClient(test, FILE, 'docker', 'install the Debian package "docker.io" and start dockerd (see .ci/run), with DOCKER_HOST set to its socket');
('file' in dockerSample ? dockerTest : test.skip)('docker pulls the image imported from the real docker-archive with its digest, config and layers', async (t) => {
  if (!('file' in dockerSample)) return;
  const { berth } = t.context;
  const expected = await sampleDigests('docker-archive.tar');
  await importRaw(t, berth, 'samples/docker-pull', await fs.readFile(dockerSample.file), 'v1');
  // A login of its own, so the test neither needs nor touches the user's ~/.docker.
  const config = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-docker-'));
  const env = { ...process.env, DOCKER_CONFIG: config };
  const registry = `127.0.0.1:${berth.server.port}`;
  const reference = `${registry}/samples/docker-pull:v1`;
  t.teardown(async () => {
    await execFileP('docker', ['rmi', '-f', reference], { env }).catch(() => undefined);
    await fs.rm(config, { recursive: true, force: true });
  });
  const login = execFile('docker', ['login', '-u', 'ci', '--password-stdin', registry], { env });
  login.stdin!.end(ADMIN_TOKEN);
  await new Promise<void>((resolve, reject) => login.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`docker login exited ${code}`)))));
  await execFileP('docker', ['pull', '-q', reference], { env, timeout: 120_000 });
  const { stdout } = await execFileP('docker', ['image', 'inspect', reference], { env });
  const [inspected] = JSON.parse(stdout) as Array<{ Id: string; RepoDigests: string[]; RootFS: { Layers: string[] } }>;
  t.true(inspected!.RepoDigests.includes(`${registry}/samples/docker-pull@${expected.manifest_digest}`));
  t.is(inspected!.Id, expected.blobs[0]!);
  t.deepEqual(inspected!.RootFS.Layers, expected.blobs.slice(1));
});
