// Push with real clients: skopeo (from a dir: folder, a multi-arch OCI layout with --all, a docker-archive),
// podman, buildah and docker push into Berth over 127.0.0.1; each push is one repository version of
// kind `push` with a push report, and what the client pushed pulls back byte for byte. Pushing the
// same image again makes no version. Clients that are not installed are skipped with a warning,
// except under .ci/run, which installs them all and requires them (BERTH_TEST_REQUIRE_CLIENTS=1).
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { clientLogin, dirFiles, tempDir, dockerRef, execFileP, sample, sampleDigests, skopeo, tarFiles, withClient } from './helpers/clients.js';
import { ADMIN_TOKEN, startBerth, type TestServer } from './helpers/server.js';

const test = anyTest as TestFn<{ berth: TestServer }>;
const FILE = 'registry-push.test.ts';
const skopeoTest = withClient(test, FILE, 'skopeo', 'install the Debian package "skopeo"');
const podmanTest = withClient(test, FILE, 'podman', 'install the Debian package "podman"');
const buildahTest = withClient(test, FILE, 'buildah', 'install the Debian package "buildah"');
const dockerTest = withClient(test, FILE, 'docker', 'install the Debian package "docker.io" and start dockerd (see .ci/run), with DOCKER_HOST set to its socket');

const creds = `ci:${ADMIN_TOKEN}`;
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

test.before(async (t) => {
  t.context.berth = await startBerth();
});
test.after.always(async (t) => {
  await t.context.berth?.close();
});

/** A sample tar of a skopeo dir: folder, written out as the folder itself. */
async function sampleFolder(t: ExecutionContext, file: string): Promise<{ dir: string; files: Map<string, Buffer> }> {
  const files = await tarFiles(file);
  const dir = path.join(await tempDir(t, 'berth-src-'), 'image');
  await fs.mkdir(dir);
  for (const [name, bytes] of files) await fs.writeFile(path.join(dir, name), bytes);
  return { dir, files };
}

async function pullToDir(t: ExecutionContext, berth: TestServer, name: string, opts: { all?: boolean } = {}): Promise<Map<string, Buffer>> {
  const dest = path.join(await tempDir(t, 'berth-pull-'), 'image');
  await skopeo(['copy', ...(opts.all ? ['--all'] : []), '--src-tls-verify=false', '--src-creds', creds, dockerRef(berth, name), `dir:${dest}`]);
  return dirFiles(dest);
}

const inspectRaw = (berth: TestServer, name: string): Promise<Buffer> => skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds, dockerRef(berth, name)]);

/** The repository's versions, newest first, and the push reports it has. */
async function history(berth: TestServer, name: string): Promise<{ versions: any[]; reports: any[] }> {
  const versions = (await berth.api('GET', `/api/v1/repositories/${name}/versions`)).body.versions;
  const reports = (await berth.api('GET', `/api/v1/imports?repository=${encodeURIComponent(name)}`)).body.imports;
  return { versions, reports };
}

/** The newest version is one push that set `tag` to `digest`, with a completed push report that made it. */
async function assertPushVersion(t: ExecutionContext, berth: TestServer, name: string, tag: string, digest: string): Promise<number> {
  const latest = await berth.latestVersion(name);
  const version = (await berth.api('GET', `/api/v1/repositories/${name}/versions/${latest}`)).body;
  t.is(version.kind, 'push');
  const tags = (await berth.api('GET', `/api/v1/repositories/${name}/tags`)).body.tags as Array<{ name: string; digest: string }>;
  t.is(tags.find((x) => x.name === tag)?.digest, digest);
  const { reports } = await history(berth, name);
  const made = reports.filter((r) => r.new_version);
  t.true(made.length >= 1);
  t.like(made[0], { status: 'completed', format: 'push', version: latest });
  return latest;
}

skopeoTest('skopeo copy dir: → docker:// makes one push version; pulled back byte for byte; the same copy again makes none', async (t) => {
  const { berth } = t.context;
  const found = sample('skopeo-dir-v2s2.tar', 'skopeo-dir');
  if (!('file' in found)) return t.fail(found.skip);
  const { dir, files } = await sampleFolder(t, found.file);
  const manifest = files.get('manifest.json')!;
  await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds, `dir:${dir}`, dockerRef(berth, 'push/skopeo:v1')]);
  const version = await assertPushVersion(t, berth, 'push/skopeo', 'v1', sha256(manifest));
  t.true((await inspectRaw(berth, 'push/skopeo:v1')).equals(manifest));
  const pulled = await pullToDir(t, berth, 'push/skopeo:v1');
  t.deepEqual([...pulled.keys()].sort(), [...files.keys()].sort());
  for (const [name, bytes] of pulled) t.true(bytes.equals(files.get(name)!), `${name} differs from what was pushed`);

  // Again: skopeo finds every blob present (HEAD) and PUTs the same manifest under the same tag.
  await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds, `dir:${dir}`, dockerRef(berth, 'push/skopeo:v1')]);
  t.is(await berth.latestVersion('push/skopeo'), version);
  // A second tag for the same manifest is one more version (a tag move, nothing uploaded).
  await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds, `dir:${dir}`, dockerRef(berth, 'push/skopeo:v2')]);
  t.is(await berth.latestVersion('push/skopeo'), version + 1);
  t.true((await inspectRaw(berth, 'push/skopeo:v2')).equals(manifest));
});

skopeoTest('skopeo copy --all of a multi-arch OCI layout (oci:): index, platform manifests and blobs, pulled back with --all', async (t) => {
  const { berth } = t.context;
  const found = sample('oci-archive-multiarch.tar', 'oci-layout');
  if (!('file' in found)) return t.fail(found.skip);
  const work = await tempDir(t, 'berth-direct-');
  const direct = path.join(work, 'image');
  await skopeo(['copy', '--all', `oci-archive:${found.file}:v2`, `dir:${direct}`]);
  const expected = await dirFiles(direct);
  // the sample's layout as a folder, pushed from the oci: transport
  const layout = path.join(work, 'layout');
  await skopeo(['copy', '--all', `oci-archive:${found.file}:v2`, `oci:${layout}:v2`]);
  await skopeo(['copy', '--all', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${layout}:v2`, dockerRef(berth, 'push/multi:v2')]);
  const index = expected.get('manifest.json')!;
  await assertPushVersion(t, berth, 'push/multi', 'v2', sha256(index));
  t.true((await inspectRaw(berth, 'push/multi:v2')).equals(index));
  const pulled = await pullToDir(t, berth, 'push/multi:v2', { all: true });
  t.deepEqual([...pulled.keys()].sort(), [...expected.keys()].sort());
  for (const [name, bytes] of pulled) t.true(bytes.equals(expected.get(name)!), `${name} differs from what was pushed`);
});

skopeoTest('skopeo copy docker-archive: → docker:// pushes the image (layers compressed on the way); config and layers pull back', async (t) => {
  const { berth } = t.context;
  const found = sample('docker-archive.tar', 'docker-archive');
  if (!('file' in found)) return t.fail(found.skip);
  const expected = await sampleDigests('docker-archive.tar');
  const digestFile = path.join(await tempDir(t, 'berth-digest-'), 'digest');
  await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', creds, '--digestfile', digestFile, `docker-archive:${found.file}`, dockerRef(berth, 'push/archive:v1')]);
  const digest = (await fs.readFile(digestFile, 'utf8')).trim();
  await assertPushVersion(t, berth, 'push/archive', 'v1', digest);
  const manifest = await inspectRaw(berth, 'push/archive:v1');
  t.is(sha256(manifest), digest);
  const parsed = JSON.parse(manifest.toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
  t.is(parsed.config.digest, expected.blobs[0]!);
  const pulled = await pullToDir(t, berth, 'push/archive:v1');
  for (const { digest: blob } of [parsed.config, ...parsed.layers]) {
    const bytes = pulled.get(blob.slice('sha256:'.length));
    t.truthy(bytes, `${blob} was not pulled back`);
    t.is(sha256(bytes!), blob);
  }
});

/** Runs a client with the token on standard input for its login, never on its command line. */
async function login(t: ExecutionContext, cmd: string, flags: string[], registry: string, env: NodeJS.ProcessEnv): Promise<void> {
  const { code, stderr } = await clientLogin(cmd, flags, registry, ADMIN_TOKEN, env);
  t.is(code, 0, `${cmd} login failed: ${stderr}`);
}

podmanTest('podman push after podman login: one push version; the config and layers are the image podman holds', async (t) => {
  const { berth } = t.context;
  const found = sample('docker-archive.tar', 'docker-archive');
  if (!('file' in found)) return t.fail(found.skip);
  const expected = await sampleDigests('docker-archive.tar');
  const registry = `127.0.0.1:${berth.server.port}`;
  const local = `localhost/berth-test/podman-push:${process.pid}`;
  const auth = path.join(await tempDir(t, 'berth-podman-'), 'auth.json');
  const env = { ...process.env, REGISTRY_AUTH_FILE: auth };
  t.teardown(() => execFileP('podman', ['rmi', '-f', local]).then(() => undefined, () => undefined));
  await execFileP('podman', ['pull', '-q', `docker-archive:${found.file}`], { timeout: 120_000 });
  await execFileP('podman', ['tag', expected.blobs[0]!.slice('sha256:'.length), local]);
  await login(t, 'podman', ['--tls-verify=false'], registry, env);
  const digestFile = path.join(path.dirname(auth), 'digest');
  await execFileP('podman', ['push', '-q', '--tls-verify=false', '--digestfile', digestFile, local, `${registry}/push/podman:v1`], { env, timeout: 120_000 });
  const digest = (await fs.readFile(digestFile, 'utf8')).trim();
  await assertPushVersion(t, berth, 'push/podman', 'v1', digest);
  const manifest = await inspectRaw(berth, 'push/podman:v1');
  t.is(sha256(manifest), digest);
  const parsed = JSON.parse(manifest.toString('utf8'));
  t.is(parsed.config.digest, expected.blobs[0]);
  const pulled = await pullToDir(t, berth, 'push/podman:v1');
  for (const layer of parsed.layers as Array<{ digest: string }>) t.true(pulled.has(layer.digest.slice('sha256:'.length)));
});

buildahTest('buildah push of an image built from scratch: one push version, pulled back with its file', async (t) => {
  const { berth } = t.context;
  const registry = `127.0.0.1:${berth.server.port}`;
  const image = `localhost/berth-test/buildah-push:${process.pid}`;
  const work = await tempDir(t, 'berth-buildah-');
  await fs.writeFile(path.join(work, 'hello.txt'), `built by buildah for ${process.pid}\n`);
  const { stdout } = await execFileP('buildah', ['from', 'scratch']);
  const container = stdout.trim();
  t.teardown(async () => {
    await execFileP('buildah', ['rm', container]).catch(() => undefined);
    await execFileP('buildah', ['rmi', '-f', image]).catch(() => undefined);
  });
  await execFileP('buildah', ['copy', container, path.join(work, 'hello.txt'), '/hello.txt']);
  await execFileP('buildah', ['commit', '-q', container, image], { timeout: 120_000 });
  const env = { ...process.env, REGISTRY_AUTH_FILE: path.join(work, 'auth.json') };
  await login(t, 'buildah', ['--tls-verify=false'], registry, env);
  const digestFile = path.join(work, 'digest');
  await execFileP('buildah', ['push', '-q', '--tls-verify=false', '--digestfile', digestFile, image, `docker://${registry}/push/buildah:v1`], { env, timeout: 120_000 });
  const digest = (await fs.readFile(digestFile, 'utf8')).trim();
  await assertPushVersion(t, berth, 'push/buildah', 'v1', digest);
  t.is(sha256(await inspectRaw(berth, 'push/buildah:v1')), digest);
  // the layer Berth serves holds the file buildah copied in
  const oci = path.join(work, 'layout');
  await skopeo(['copy', '--src-tls-verify=false', '--src-creds', creds, dockerRef(berth, 'push/buildah:v1'), `oci:${oci}:v1`]);
  const unpacked = path.join(work, 'rootfs');
  await fs.mkdir(unpacked);
  const index = JSON.parse(await fs.readFile(path.join(oci, 'index.json'), 'utf8'));
  const manifest = JSON.parse(await fs.readFile(path.join(oci, 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8'));
  await execFileP('tar', ['-xzf', path.join(oci, 'blobs', 'sha256', manifest.layers[0].digest.slice(7)), '-C', unpacked]);
  t.is(await fs.readFile(path.join(unpacked, 'hello.txt'), 'utf8'), `built by buildah for ${process.pid}\n`);
});

dockerTest('docker push after docker login: one push version; docker pull by digest gets the same image back', async (t) => {
  const { berth } = t.context;
  const found = sample('docker-save.tar', 'docker-archive');
  if (!('file' in found)) return t.fail(found.skip);
  const expected = await sampleDigests('docker-archive.tar');
  const config = await tempDir(t, 'berth-docker-');
  const env = { ...process.env, DOCKER_CONFIG: config };
  const registry = `127.0.0.1:${berth.server.port}`;
  const reference = `${registry}/push/docker:v1`;
  t.teardown(() => execFileP('docker', ['rmi', '-f', reference], { env }).then(() => undefined, () => undefined));
  await execFileP('docker', ['load', '-q', '-i', found.file], { env, timeout: 120_000 });
  const imageId = expected.blobs[0]!;
  await execFileP('docker', ['tag', imageId, reference], { env });
  await login(t, 'docker', [], registry, env);
  await execFileP('docker', ['push', '-q', reference], { env, timeout: 120_000 });
  const { stdout } = await execFileP('docker', ['image', 'inspect', reference], { env });
  const [inspected] = JSON.parse(stdout) as Array<{ RepoDigests: string[] }>;
  const repoDigest = inspected!.RepoDigests.find((d) => d.startsWith(`${registry}/push/docker@`));
  t.truthy(repoDigest, `docker recorded no digest for the push: ${inspected!.RepoDigests.join(', ')}`);
  const digest = repoDigest!.slice(repoDigest!.indexOf('@') + 1);
  await assertPushVersion(t, berth, 'push/docker', 'v1', digest);
  const manifest = JSON.parse((await inspectRaw(berth, 'push/docker:v1')).toString('utf8'));
  t.is(manifest.config.digest, imageId);

  // pull it back by digest after removing the local copy
  await execFileP('docker', ['rmi', '-f', reference, imageId], { env }).catch(() => undefined);
  await execFileP('docker', ['pull', '-q', `${registry}/push/docker@${digest}`], { env, timeout: 120_000 });
  const back = JSON.parse((await execFileP('docker', ['image', 'inspect', `${registry}/push/docker@${digest}`], { env })).stdout) as Array<{ Id: string; RootFS: { Layers: string[] } }>;
  t.is(back[0]!.Id, imageId);
  t.deepEqual(back[0]!.RootFS.Layers, expected.blobs.slice(1));
});
