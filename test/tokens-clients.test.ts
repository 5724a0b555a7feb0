// Tokens with real clients: skopeo, podman and docker log in with a token as the password (through
// stdin, so no command line shows it), pull with the stored credentials, and push; a pull-only
// token's push is refused with Berth's message, which the client prints. The version a push makes
// records the pushing token. Clients that are not installed are skipped with a warning, except under
// .ci/run, which installs them all and requires them (BERTH_TEST_REQUIRE_CLIENTS=1).
import fs from 'node:fs/promises';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { clientLogin, execFileP, sample, sampleDigests, tempDir, withClient } from './helpers/clients.js';
import { startBerth, type TestServer } from './helpers/server.js';

interface Context {
  berth: TestServer;
  registry: string;
  puller: string;
  pusher: string;
}
const test = anyTest as TestFn<Context>;
const FILE = 'tokens-clients.test.ts';
const skopeoTest = withClient(test, FILE, 'skopeo', 'install the Debian package "skopeo"');
const podmanTest = withClient(test, FILE, 'podman', 'install the Debian package "podman"');
const dockerTest = withClient(test, FILE, 'docker', 'install the Debian package "docker.io" and start dockerd (see .ci/run), with DOCKER_HOST set to its socket');

/** What Berth answers a push by a token that may only pull (the client prints it). */
const REFUSED = /may not push/;

test.before(async (t) => {
  const berth = await startBerth();
  t.context.berth = berth;
  t.context.registry = `127.0.0.1:${berth.server.port}`;
  const found = sample('docker-archive.tar', 'docker-archive');
  if ('file' in found) {
    await berth.api('POST', '/api/v1/repositories', { name: 'cli/app' });
    const imported = await berth.importRaw('cli/app', await fs.readFile(found.file), { tag: 'v1' });
    if (imported.status !== 201) throw new Error(`seeding cli/app: ${imported.status} ${JSON.stringify(imported.body)}`);
  }
  t.context.puller = (await berth.token('cli-puller', [{ repositories: 'cli/*', actions: ['pull'] }])).secret;
  t.context.pusher = (await berth.token('cli-pusher', [{ repositories: 'cli/*', actions: ['push'] }])).secret;
});
test.after.always(async (t) => {
  await t.context.berth?.close();
});

async function login(t: ExecutionContext<Context>, cmd: string, flags: string[], secret: string, env: NodeJS.ProcessEnv): Promise<void> {
  const { code, stderr } = await clientLogin(cmd, flags, t.context.registry, secret, env);
  t.is(code, 0, `${cmd} login failed: ${stderr}`);
}

/** Runs a client command expected to fail; returns everything it printed (its last line is logged). */
async function refused(t: ExecutionContext, cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  try {
    await execFileP(cmd, args, { env, timeout: 120_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    const printed = `${e.stdout ?? ''}${e.stderr ?? ''}`;
    t.log(`${cmd} printed: ${printed.trim().split('\n').at(-1)}`);
    return printed;
  }
  t.fail(`${cmd} ${args.join(' ')} succeeded`);
  return '';
}

/** The repository's newest version is a push made by `actor`, with a push report by `actor`. */
async function assertPushedBy(t: ExecutionContext<Context>, name: string, actor: string): Promise<void> {
  const { berth } = t.context;
  const versions = (await berth.api('GET', `/api/v1/repositories/${name}/versions`)).body.versions;
  t.like(versions[0], { kind: 'push', actor });
  const reports = (await berth.api('GET', `/api/v1/imports?repository=${encodeURIComponent(name)}&status=completed`)).body.imports;
  t.is(reports[0].actor, actor);
}

skopeoTest('skopeo login with a token: a pull-only token pulls and its push is refused with Berth’s message; a push token pushes', async (t) => {
  const { registry, puller, pusher } = t.context;
  const found = sample('docker-archive.tar', 'docker-archive');
  if (!('file' in found)) return t.fail(found.skip);
  const work = await tempDir(t, 'berth-skopeo-login-');
  const env = { ...process.env, REGISTRY_AUTH_FILE: path.join(work, 'auth.json') };
  await login(t, 'skopeo', ['--tls-verify=false'], puller, env);
  const dest = path.join(work, 'pulled');
  await execFileP('skopeo', ['--insecure-policy', 'copy', '--src-tls-verify=false', `docker://${registry}/cli/app:v1`, `dir:${dest}`], { env, timeout: 120_000 });
  const expected = await sampleDigests('docker-archive.tar');
  t.true((await fs.readdir(dest)).includes(expected.blobs[0]!.slice('sha256:'.length)));

  const push = ['--insecure-policy', 'copy', '--dest-tls-verify=false', `dir:${dest}`, `docker://${registry}/cli/skopeo:v1`];
  t.regex(await refused(t, 'skopeo', push, env), REFUSED);
  await login(t, 'skopeo', ['--tls-verify=false'], pusher, env);
  await execFileP('skopeo', push, { env, timeout: 120_000 });
  await assertPushedBy(t, 'cli/skopeo', 'cli-pusher');
});

podmanTest('podman login with a token: pull, a refused push printed by podman, then a push with a push token', async (t) => {
  const { registry, puller, pusher } = t.context;
  const work = await tempDir(t, 'berth-podman-login-');
  const env = { ...process.env, REGISTRY_AUTH_FILE: path.join(work, 'auth.json') };
  const pulled = `${registry}/cli/app:v1`;
  const local = `${registry}/cli/podman:v1`;
  t.teardown(() => execFileP('podman', ['rmi', '-f', pulled, local]).then(() => undefined, () => undefined));
  await login(t, 'podman', ['--tls-verify=false'], puller, env);
  await execFileP('podman', ['pull', '-q', '--tls-verify=false', pulled], { env, timeout: 120_000 });
  await execFileP('podman', ['tag', pulled, local]);
  t.regex(await refused(t, 'podman', ['push', '--tls-verify=false', local], env), REFUSED);
  await login(t, 'podman', ['--tls-verify=false'], pusher, env);
  await execFileP('podman', ['push', '-q', '--tls-verify=false', local], { env, timeout: 120_000 });
  await assertPushedBy(t, 'cli/podman', 'cli-pusher');
});

dockerTest('docker login with a token: pull, a refused push printed by docker, then a push with a push token', async (t) => {
  const { registry, puller, pusher } = t.context;
  const env = { ...process.env, DOCKER_CONFIG: await tempDir(t, 'berth-docker-login-') };
  const pulled = `${registry}/cli/app:v1`;
  const local = `${registry}/cli/docker:v1`;
  t.teardown(() => execFileP('docker', ['rmi', '-f', pulled, local], { env }).then(() => undefined, () => undefined));
  await login(t, 'docker', [], puller, env);
  await execFileP('docker', ['pull', '-q', pulled], { env, timeout: 120_000 });
  await execFileP('docker', ['tag', pulled, local], { env });
  t.regex(await refused(t, 'docker', ['push', local], env), REFUSED);
  await login(t, 'docker', [], pusher, env);
  await execFileP('docker', ['push', '-q', local], { env, timeout: 120_000 });
  await assertPushedBy(t, 'cli/docker', 'cli-pusher');
});

skopeoTest('skopeo login with a revoked token fails, and the client says why', async (t) => {
  const { berth, registry } = t.context;
  const { id, secret } = await berth.token('cli-revoked', [{ repositories: 'cli/*', actions: ['pull'] }]);
  const work = await tempDir(t, 'berth-skopeo-revoked-');
  const env = { ...process.env, REGISTRY_AUTH_FILE: path.join(work, 'auth.json') };
  await login(t, 'skopeo', ['--tls-verify=false'], secret, env);
  t.is((await berth.api('DELETE', `/api/v1/tokens/${id}`)).status, 204);
  const again = await clientLogin('skopeo', ['--tls-verify=false'], registry, secret, env);
  t.not(again.code, 0);
  t.regex(again.stderr, /401|unauthorized|invalid/i);
  const pull = await refused(t, 'skopeo', ['--insecure-policy', 'inspect', '--tls-verify=false', `docker://${registry}/cli/app:v1`], env);
  t.regex(pull, /401|unauthorized|authentication required/i);
});
