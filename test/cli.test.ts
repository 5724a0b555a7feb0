// The `berth` CLI, run as a child process (bin/berth.js, as `npx berth` runs it) against a real server:
// preflight and incomplete uploads, resume after a dropped connection, login, reports, and every
// failure's exit code and one-line message.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { dirEntries, type Entry, gzip, hex, makeImage, sha256, tarOf } from './helpers/archives.js';
import { ADMIN_TOKEN, startBerth, type TestServer } from './helpers/server.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';

const ROOT = path.resolve('.');
const SAMPLES = path.resolve('samples');
const MiB = 1024 * 1024;

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `berth …args` to its end with its own HOME (so no config file leaks in or out). */
function berth(args: string[], env: Record<string, string | undefined> = {}, stdin?: string): Promise<Run> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_') && k !== 'XDG_CONFIG_HOME'));
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'berth.js'), ...args], {
    cwd: ROOT,
    env: { ...inherited, HOME: path.join(os.tmpdir(), 'berth-cli-nohome'), ...env } as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(stdin ?? '');
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

const withToken = { BERTH_TOKEN: ADMIN_TOKEN };
const host = (s: TestServer) => new URL(s.url).host;
/** The last JSON line of a --json run: the import report (or the error). */
const lastJson = (run: Run) => JSON.parse(run.stdout.trim().split('\n').at(-1)!) as any;

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-cli-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes entries as a folder (a skopeo `dir:` copy). */
async function writeFolder(dir: string, entries: Entry[]): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  for (const e of entries) await fs.writeFile(path.join(dir, e.name), e.data ?? '');
  return dir;
}

/** A message printed on failure: one line, no stack trace. */
function assertOneLine(t: { is: (a: unknown, b: unknown, m?: string) => void; false: (v: boolean, m?: string) => void }, run: Run): void {
  const lines = run.stderr.trim().split('\n');
  t.is(lines.length, 1, run.stderr);
  t.false(/\n\s+at /.test(run.stderr) || /\.ts:\d+/.test(run.stderr), run.stderr);
}

let berthServer: TestServer;
test.before(async () => {
  berthServer = await startBerth();
});
test.after.always(async () => {
  await berthServer?.close();
});

test.serial('a second push of the same image sends under 1 % of its bytes and makes no version', async (t) => {
  const repo = await berthServer.newRepository('cli-again');
  const image = makeImage({ layers: [randomBytes(2 * MiB), randomBytes(2 * MiB)] });
  const folder = await writeFolder(path.join(await tempDir(t), 'app'), dirEntries(image));

  const first = await berth(['push', '--json', folder, `${host(berthServer)}/${repo}:v1`], withToken);
  t.is(first.code, 0, first.stderr);
  const r1 = lastJson(first);
  t.is(r1.status, 'completed');
  t.is(r1.version, 1);
  t.true(r1.bytes_received > 4 * MiB);
  t.true(r1.blobs.every((b: { source: string }) => b.source === 'upload'));

  const second = await berth(['push', '--json', folder, `${host(berthServer)}/${repo}:v1`], withToken);
  t.is(second.code, 0, second.stderr);
  const r2 = lastJson(second);
  t.is(r2.status, 'completed');
  t.is(r2.new_version, false);
  t.is(r2.version, 1);
  t.true(r2.bytes_received < r1.bytes_received / 100, `${r2.bytes_received} of ${r1.bytes_received}`);
  t.deepEqual(r2.blobs.map((b: { source: string }) => b.source), ['repository', 'repository', 'repository']);
  t.is(await berthServer.latestVersion(repo), 1);
  // The phases before the report, one JSON line each.
  t.deepEqual(second.stdout.trim().split('\n').slice(0, -1).map((l) => JSON.parse(l).event), ['read', 'preflight', 'uploaded']);
});

test.serial('an image sharing its base layer with the repository sends the other layers only, and the report lists the base as reused', async (t) => {
  const repo = await berthServer.newRepository('cli-base');
  const base = randomBytes(3 * MiB);
  const dir = await tempDir(t);
  const one = makeImage({ layers: [base, randomBytes(64 * 1024)] });
  const two = makeImage({ layers: [base, randomBytes(512 * 1024)] });
  t.is((await berth(['push', await writeFolder(path.join(dir, 'one'), dirEntries(one)), `${host(berthServer)}/${repo}:one`], withToken)).code, 0);

  // The second image as a gzip-compressed skopeo dir tarball: filtered on the fly.
  const archive = path.join(dir, 'two.tar.gz');
  await fs.writeFile(archive, gzip(await tarOf(dirEntries(two, { prefix: './' }))));
  const run = await berth(['push', archive, `${host(berthServer)}/${repo}:two`], withToken);
  t.is(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split('\n');
  t.regex(lines[0]!, /^read .*two\.tar\.gz: skopeo-dir, 1 manifest, 3 blobs/);
  t.regex(lines[1]!, /^preflight: cli-base-\d+ holds 1 of 3 blobs \(3\.00 MiB\)/);
  t.regex(run.stdout, /pushed cli-base-\d+:two: version 2/);
  const id = /report\s+([0-9a-f-]{36})/.exec(run.stdout)![1]!;
  const report = (await berthServer.api('GET', `/api/v1/imports/${id}`)).body;
  const source = Object.fromEntries(report.blobs.map((b: { digest: string; source: string }) => [b.digest, b.source]));
  t.is(source[two.layerDigests[0]!], 'repository');
  t.is(source[two.layerDigests[1]!], 'upload');
  t.is(source[two.configDigest], 'upload');
  t.true(report.bytes_received > 512 * 1024 && report.bytes_received < 600 * 1024, String(report.bytes_received));
});

// Every real sample as an archive, and the skopeo dir: and OCI layout samples unpacked into folders with tar(1).
const SAMPLE_LIST = JSON.parse(readFileSync(path.join(SAMPLES, 'digests.json'), 'utf8')) as Array<{ file: string; format: string; manifest_digest: string }>;
const FOLDER_SAMPLES = new Set(['skopeo-dir-v2s2.tar', 'skopeo-dir-multiarch-oci.tar', 'oci-archive.tar', 'oci-archive-multiarch.tar', 'docker-save.tar']);

/** The config digest of a pushed image manifest, read back through the registry API. */
async function configOf(repo: string, manifestDigest: string): Promise<string> {
  const res = await fetch(`${berthServer.url}/v2/${repo}/manifests/${manifestDigest}`, {
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
  });
  return ((await res.json()) as { config: { digest: string } }).config.digest;
}

for (const sample of SAMPLE_LIST) {
  for (const variant of FOLDER_SAMPLES.has(sample.file) ? (['archive', 'folder'] as const) : (['archive'] as const)) {
    for (const gzipped of sample.file === 'docker-save.tar' && variant === 'archive' ? [false, true] : [false]) {
      const what = `${sample.file}${variant === 'folder' ? ' unpacked into a folder' : ''}${gzipped ? ' gzip-compressed' : ''}`;
      // docker save's layers sit in <id>/layer.tar, named for no digest: their config's rootfs.diff_ids
      // say which blobs they are, so they stay home too; the config travels (the server reads the diff ids from it).
      const dockerSave = sample.file === 'docker-save.tar';
      test.serial(`the sample ${what} pushes as ${sample.format}; pushed again it sends ${dockerSave ? 'only its config' : 'no blob'} and makes no version`, async (t) => {
        let input = path.join(SAMPLES, sample.file);
        if (variant === 'folder') {
          const folder = path.join(await tempDir(t), 'image');
          await fs.mkdir(folder);
          await run('tar', ['-xf', input, '-C', folder]);
          input = folder;
        } else if (gzipped) {
          input = path.join(await tempDir(t), 'image.tar.gz');
          await fs.writeFile(input, gzip(await fs.readFile(path.join(SAMPLES, sample.file))));
        }
        const repo = await berthServer.newRepository('cli-sample');
        const first = await berth(['push', '--json', input, `${host(berthServer)}/${repo}`], withToken);
        t.is(first.code, 0, first.stderr);
        const r1 = lastJson(first);
        t.is(r1.format, sample.format);
        t.true(r1.manifests.some((m: { digest: string }) => m.digest === sample.manifest_digest));
        // A gzip archive of which nothing stays home is sent as it is (its compressed bytes).
        if (gzipped) t.is(r1.bytes_received, (await fs.stat(input)).size);
        const second = await berth(['push', '--json', input, `${host(berthServer)}/${repo}`], withToken);
        t.is(second.code, 0, second.stderr);
        const again = lastJson(second);
        t.is(again.new_version, false);
        const uploaded = again.blobs.filter((b: { source: string }) => b.source === 'upload').map((b: { digest: string }) => b.digest);
        t.deepEqual(uploaded, dockerSave ? [await configOf(repo, sample.manifest_digest)] : []);
        t.true(again.bytes_received < 16 * 1024, String(again.bytes_received));
        t.is(await berthServer.latestVersion(repo), 1);
      });
    }
  }
}

test.serial('a push cut off mid-way and run again sends only what had not arrived; the held blobs count for that repository only', async (t) => {
  const repo = await berthServer.newRepository('cli-resume');
  const other = await berthServer.newRepository('cli-resume-other');
  const image = makeImage({ layers: [randomBytes(MiB), randomBytes(MiB), randomBytes(MiB), randomBytes(MiB)] });
  const folder = await writeFolder(path.join(await tempDir(t), 'app'), dirEntries(image));
  // The folder is sent in name order: which blobs come before the cut is known.
  const order = (await fs.readdir(folder)).sort();
  const sizes = new Map(image.entries.map((e) => [e.name, Buffer.byteLength(e.data ?? '')]));
  const cut = Math.round(2.5 * MiB);
  let offset = 0;
  const whole: string[] = [];
  for (const name of order) {
    offset += 512 + Math.ceil(sizes.get(name)! / 512) * 512;
    if (offset < cut - 64 * 1024 && /^[a-f0-9]{64}$/.test(name)) whole.push(`sha256:${name}`);
  }
  t.true(whole.length >= 1);

  const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(berthServer.url).port) }, { cutAfterBytes: cut });
  t.teardown(() => proxy.close());
  const dropped = await berth(['push', folder, `127.0.0.1:${proxy.port}/${repo}:v1`], withToken);
  t.is(dropped.code, 5, dropped.stderr);
  t.regex(dropped.stderr, /^berth: the connection to http:\/\/127\.0\.0\.1:\d+ broke after \d+ bytes .*run the same command again/);
  assertOneLine(t, dropped);

  // The server records the failure (and holds what arrived whole) once it sees the connection go.
  let failed: any;
  for (let i = 0; i < 100 && !failed; i++) {
    failed = (await berthServer.api('GET', `/api/v1/imports?repository=${repo}&status=failed`)).body.imports[0];
    if (!failed) await new Promise((r) => setTimeout(r, 100));
  }
  t.is(failed?.error?.code, 'CLIENT_ABORTED');
  const preflight = await berthServer.api('POST', `/api/v1/repositories/${repo}/preflight`, { digests: image.layerDigests });
  t.is(preflight.status, 200);
  t.deepEqual(preflight.body.held.map((h: { digest: string }) => h.digest).sort(), whole.filter((d) => image.layerDigests.includes(d)).sort());
  // Another repository gains nothing: the same digests are missing there, and an archive leaving them out is BLOB_UNKNOWN.
  const elsewhere = await berthServer.api('POST', `/api/v1/repositories/${other}/preflight`, { digests: image.layerDigests });
  t.deepEqual(elsewhere.body.held, []);
  const sneaky = await berthServer.importRaw(other, await tarOf(dirEntries(image, { omit: whole })));
  t.is(sneaky.status, 400);
  t.is(sneaky.body.error.code, 'BLOB_UNKNOWN');

  const rerun = await berth(['push', '--json', folder, `${host(berthServer)}/${repo}:v1`], withToken);
  t.is(rerun.code, 0, rerun.stderr);
  const report = lastJson(rerun);
  t.is(report.version, 1);
  const reused = report.blobs.filter((b: { source: string }) => b.source === 'repository').map((b: { digest: string }) => b.digest);
  t.deepEqual(reused.sort(), [...whole].sort());
  const restBytes = image.entries.filter((e) => !whole.includes(`sha256:${e.name}`)).reduce((s, e) => s + Buffer.byteLength(e.data ?? ''), 0);
  t.true(report.bytes_received >= restBytes && report.bytes_received < restBytes + 16 * 1024, `${report.bytes_received} vs ${restBytes}`);
  t.true(report.bytes_received < 4 * MiB - MiB);
});

test.serial('preflight answers what the repository holds, needs push, and checks its digests', async (t) => {
  const repo = await berthServer.newRepository('cli-preflight');
  const image = makeImage();
  t.is((await berthServer.importRaw(repo, await tarOf(dirEntries(image)))).status, 201);
  const unknown = `sha256:${'0'.repeat(64)}`;
  const res = await berthServer.api('POST', `/api/v1/repositories/${repo}/preflight`, { digests: [...image.layerDigests, unknown, image.manifestDigest] });
  t.is(res.status, 200);
  t.deepEqual(res.body, {
    repository: repo,
    held: [
      ...image.layerDigests.map((d, i) => ({ digest: d, size: image.layers[i]!.length })),
      { digest: image.manifestDigest, size: image.manifest.length },
    ],
    missing: [unknown],
  });
  const anonymous = await fetch(`${berthServer.url}/api/v1/repositories/${repo}/preflight`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"digests":[]}' });
  t.is(anonymous.status, 401);
  t.is((await berthServer.api('POST', `/api/v1/repositories/${repo}/preflight`, { digests: ['sha256:nope'] })).body.error.code, 'DIGEST_INVALID');
  t.is((await berthServer.api('POST', `/api/v1/repositories/${repo}/preflight`, { digests: 'x' })).body.error.code, 'BODY_INVALID');
  t.is((await berthServer.api('POST', '/api/v1/repositories/cli-nothing-here/preflight', { digests: [] })).status, 404);
});

test.serial('each failure exits non-zero with one line: missing file, bad archive, no credentials, 401, unreachable, BLOB_UNKNOWN, unknown repository, bad destination', async (t) => {
  const repo = await berthServer.newRepository('cli-fail');
  const dir = await tempDir(t);
  const dest = `${host(berthServer)}/${repo}`;

  const missing = await berth(['push', path.join(dir, 'nope.tar'), dest], withToken);
  t.is(missing.code, 3);
  t.regex(missing.stderr, /^berth: .*nope\.tar: no such file or folder\n$/);
  assertOneLine(t, missing);

  const junk = path.join(dir, 'junk.tar');
  await fs.writeFile(junk, randomBytes(3000));
  const bad = await berth(['push', junk, dest], withToken);
  t.is(bad.code, 3);
  t.regex(bad.stderr, /^berth: .*junk\.tar: ARCHIVE_INVALID: /);
  assertOneLine(t, bad);

  const folder = await writeFolder(path.join(dir, 'app'), dirEntries(makeImage()));
  const noCreds = await berth(['push', folder, dest]);
  t.is(noCreds.code, 4);
  t.regex(noCreds.stderr, /^berth: no credentials for 127\.0\.0\.1:\d+: set BERTH_TOKEN or run berth login/);
  assertOneLine(t, noCreds);

  const wrong = await berth(['push', folder, dest], { BERTH_TOKEN: 'not-the-token-0123456789' });
  t.is(wrong.code, 4);
  t.regex(wrong.stderr, /401/);
  assertOneLine(t, wrong);

  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const unreachable = await berth(['push', folder, `127.0.0.1:${port}/${repo}`], withToken);
  t.is(unreachable.code, 5);
  t.regex(unreachable.stderr, /^berth: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\n$/);

  const image = makeImage();
  const incomplete = await writeFolder(path.join(dir, 'incomplete'), dirEntries(image, { omit: [image.layerDigests[0]!] }));
  const unknown = await berth(['push', '--json', incomplete, dest], withToken);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, new RegExp(`^berth: push ${repo}: BLOB_UNKNOWN: .*missing ${image.layerDigests[0]}.*\\[report [0-9a-f-]{36}\\]\\n$`));
  const failedReport = lastJson(unknown);
  t.is(failedReport.status, 'failed');
  t.is(failedReport.error.code, 'BLOB_UNKNOWN');

  const noRepo = await berth(['push', folder, `${host(berthServer)}/cli-not-created`], withToken);
  t.is(noRepo.code, 1);
  t.regex(noRepo.stderr, /^berth: preflight cli-not-created: NAME_UNKNOWN: /);

  const badDest = await berth(['push', folder, 'just-a-name'], withToken);
  t.is(badDest.code, 2);
  t.regex(badDest.stderr, /<host>\/<repository>\[:tag\]/);
  t.is(await berthServer.latestVersion(repo), 0);
});

test.serial('berth login stores the token in the config file with mode 0600 and push uses it; a wrong token is not stored', async (t) => {
  const home = await tempDir(t);
  const env = { XDG_CONFIG_HOME: path.join(home, 'config') };
  const wrong = await berth(['login', host(berthServer)], env, 'wrong-token-0123456789abcdef\n');
  t.is(wrong.code, 4);
  await t.throwsAsync(fs.stat(path.join(home, 'config', 'berth', 'config.json')));

  const ok = await berth(['login', host(berthServer)], env, `${ADMIN_TOKEN}\n`);
  t.is(ok.code, 0, ok.stderr);
  const file = path.join(home, 'config', 'berth', 'config.json');
  t.is((await fs.stat(file)).mode & 0o777, 0o600);
  const stored = JSON.parse(await fs.readFile(file, 'utf8'));
  t.is(stored.hosts[host(berthServer)].token, ADMIN_TOKEN);
  t.false(ok.stdout.includes(ADMIN_TOKEN));

  const repo = await berthServer.newRepository('cli-login');
  const folder = await writeFolder(path.join(home, 'app'), dirEntries(makeImage()));
  const run = await berth(['push', folder, `${host(berthServer)}/${repo}:v1`], env);
  t.is(run.code, 0, run.stderr);
  // HOME works as well when XDG_CONFIG_HOME is unset.
  const viaHome = await berth(['reports', '--repository', repo, '--json'], { HOME: home, XDG_CONFIG_HOME: path.join(home, 'config') });
  t.is(viaHome.code, 0, viaHome.stderr);
});

test.serial('berth reports and berth report show import reports as tables and as JSON', async (t) => {
  const repo = await berthServer.newRepository('cli-reports');
  const dir = await tempDir(t);
  const image = makeImage();
  const ok = lastJson(await berth(['push', '--json', await writeFolder(path.join(dir, 'ok'), dirEntries(image)), `${host(berthServer)}/${repo}:v1`], withToken));
  const other = makeImage();
  const failed = lastJson(
    await berth(['push', '--json', await writeFolder(path.join(dir, 'bad'), dirEntries(other, { omit: [other.layerDigests[1]!] })), `${host(berthServer)}/${repo}`], withToken),
  );
  const env = { ...withToken, BERTH_HOST: host(berthServer) };

  const table = await berth(['reports', '--repository', repo], env);
  t.is(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split('\n');
  t.regex(lines[0]!, /^ID\s+REPOSITORY\s+STATUS\s+FORMAT\s+TAG\s+VERSION\s+RECEIVED\s+CREATED\s+ERROR$/);
  t.is(lines.length, 3);
  t.true(lines[1]!.startsWith(failed.id) && lines[1]!.includes('failed') && lines[1]!.endsWith('BLOB_UNKNOWN'));
  t.true(lines[2]!.startsWith(ok.id) && lines[2]!.includes('completed'));

  const onlyFailed = JSON.parse((await berth(['reports', '--repository', repo, '--status', 'failed', '--json'], env)).stdout);
  t.deepEqual(onlyFailed.map((r: { id: string }) => r.id), [failed.id]);

  const one = await berth(['report', ok.id], env);
  t.is(one.code, 0, one.stderr);
  t.regex(one.stdout, new RegExp(`^id\\s+${ok.id}$`, 'm'));
  t.regex(one.stdout, /^status\s+completed$/m);
  for (const d of image.layerDigests) t.regex(one.stdout, new RegExp(`^${d}\\s+2\\.00 KiB\\s+upload$`, 'm'));
  t.deepEqual(JSON.parse((await berth(['report', ok.id, '--json'], env)).stdout), (await berthServer.api('GET', `/api/v1/imports/${ok.id}`)).body);

  const none = await berth(['report', '00000000-0000-0000-0000-000000000000'], env);
  t.is(none.code, 1);
  t.regex(none.stderr, /IMPORT_UNKNOWN/);
  t.is(hex(image.configDigest).length, 64);
});

test.serial('with a scoped token: pull-only is 403 (exit 4) before any byte is sent, a repository it cannot see is NAME_UNKNOWN, push scope pushes', async (t) => {
  const repo = await berthServer.newRepository('cli-scoped');
  const folder = await writeFolder(path.join(await tempDir(t), 'app'), dirEntries(makeImage({ layers: [randomBytes(256 * 1024)] })));
  const token = async (name: string, actions: string[]) =>
    (await berthServer.api('POST', '/api/v1/tokens', { name, scopes: [{ repositories: repo, actions }] })).body.secret as string;

  const reader = await berth(['push', folder, `${host(berthServer)}/${repo}:v1`], { BERTH_TOKEN: await token('cli-reader', ['pull']) });
  t.is(reader.code, 4);
  t.regex(reader.stderr, /^berth: preflight cli-scoped-\d+: the token may not do this \(403 DENIED\)\n$/);
  t.is((await berthServer.api('GET', `/api/v1/imports?repository=${repo}`)).body.imports.length, 0);

  // A token scoped to another repository does not learn whether this one exists.
  const otherRepo = await berthServer.newRepository('cli-scoped-other');
  const stranger = await berth(['push', folder, `${host(berthServer)}/${otherRepo}:v1`], { BERTH_TOKEN: await token('cli-stranger', ['push']) });
  t.is(stranger.code, 1);
  t.regex(stranger.stderr, /NAME_UNKNOWN/);

  const pusher = await berth(['push', '--json', folder, `${host(berthServer)}/${repo}:v1`], { BERTH_TOKEN: await token('cli-pusher', ['push']) });
  t.is(pusher.code, 0, pusher.stderr);
  t.is(lastJson(pusher).version, 1);
});

/** A `docker save` (20.10) archive of `image`: `<id>/layer.tar` files, `<id>/json`, the config as `<hex>.json`. */
function dockerSaveEntries(image: ReturnType<typeof makeImage>, opts: { omitLayers?: boolean; omitConfig?: boolean } = {}): Entry[] {
  const ids = image.layers.map((_, i) => hex(sha256(`${image.configDigest}/layer/${i}`)));
  const entries: Entry[] = [];
  for (const [i, id] of ids.entries()) {
    entries.push({ name: `${id}/`, type: 'directory' }, { name: `${id}/VERSION`, data: '1.0' }, { name: `${id}/json`, data: JSON.stringify({ id }) });
    if (!opts.omitLayers) entries.push({ name: `${id}/layer.tar`, data: image.layers[i]! });
  }
  if (!opts.omitConfig) entries.push({ name: `${hex(image.configDigest)}.json`, data: image.config });
  entries.push({ name: 'manifest.json', data: JSON.stringify([{ Config: `${hex(image.configDigest)}.json`, RepoTags: ['team/app:v1'], Layers: ids.map((id) => `${id}/layer.tar`) }]) });
  entries.push({ name: 'repositories', data: JSON.stringify({ 'team/app': { v1: ids.at(-1) } }) });
  return entries;
}

test.serial('a docker save archive may leave out its <id>/layer.tar entries: the config\'s diff_ids name them, and the repository must hold them', async (t) => {
  const repo = await berthServer.newRepository('cli-diffids');
  const other = await berthServer.newRepository('cli-diffids-other');
  const image = makeImage({ layers: [randomBytes(300 * 1024), randomBytes(200 * 1024)] });
  // Nothing held yet: the left-out layers are BLOB_UNKNOWN, by their diff ids.
  const early = await berthServer.importRaw(repo, await tarOf(dockerSaveEntries(image, { omitLayers: true })));
  t.is(early.status, 400);
  t.is(early.body.error.code, 'BLOB_UNKNOWN');
  t.deepEqual([...early.body.error.details.missing].sort(), [...image.layerDigests].sort());

  const whole = await berthServer.importRaw(repo, await tarOf(dockerSaveEntries(image)));
  t.is(whole.status, 201);
  t.deepEqual(whole.body.blobs.filter((b: { source: string }) => b.source === 'upload').map((b: { digest: string }) => b.digest).sort(), [image.configDigest, ...image.layerDigests].sort());

  // With curl: the same archive without its layers reuses them from the repository, and makes no version.
  const rest = await berthServer.importRaw(repo, await tarOf(dockerSaveEntries(image, { omitLayers: true })));
  t.is(rest.status, 201, JSON.stringify(rest.body.error));
  t.is(rest.body.new_version, false);
  t.deepEqual(rest.body.blobs.filter((b: { source: string }) => b.source === 'repository').map((b: { digest: string }) => b.digest).sort(), [...image.layerDigests].sort());
  // Another repository does not gain them by naming them in a config.
  const sneaky = await berthServer.importRaw(other, await tarOf(dockerSaveEntries(image, { omitLayers: true })));
  t.is(sneaky.body.error.code, 'BLOB_UNKNOWN');
  // Without the config nothing says which blobs the layers are (even though the repository holds the config).
  const blind = await berthServer.importRaw(repo, await tarOf(dockerSaveEntries(image, { omitLayers: true, omitConfig: true })));
  t.is(blind.status, 400);
  t.is(blind.body.error.code, 'ARCHIVE_INVALID');

  // berth push of the whole archive, into a repository holding one of the layers: the other layer travels, not hashed by the CLI.
  const partly = await berthServer.newRepository('cli-diffids-partly');
  const base = makeImage({ layers: [image.layers[0]!] });
  t.is((await berthServer.importRaw(partly, await tarOf(dirEntries(base)))).status, 201);
  const archive = path.join(await tempDir(t), 'save.tar');
  await fs.writeFile(archive, await tarOf(dockerSaveEntries(image)));
  const run = await berth(['push', '--json', archive, `${host(berthServer)}/${partly}:v1`], withToken);
  t.is(run.code, 0, run.stderr);
  const report = lastJson(run);
  const source = Object.fromEntries(report.blobs.map((b: { digest: string; source: string }) => [b.digest, b.source]));
  t.is(source[image.layerDigests[0]!], 'repository');
  t.is(source[image.layerDigests[1]!], 'upload');
  t.true(report.bytes_received > 200 * 1024 && report.bytes_received < 200 * 1024 + 16 * 1024, String(report.bytes_received));
});

test.serial('an uncompressed tarball is sent as its own entries minus those the repository holds: GNU and pax long names, a top folder', async (t) => {
  const dir = await tempDir(t);
  for (const format of ['gnu', 'pax']) {
    const repo = await berthServer.newRepository(`cli-tarball-${format}`);
    const base = randomBytes(2 * MiB);
    const one = makeImage({ layers: [base] });
    const two = makeImage({ layers: [base, randomBytes(300 * 1024)] });
    t.is((await berthServer.importRaw(repo, await tarOf(dirEntries(one)))).status, 201);
    // A skopeo dir folder under a top folder whose name is over 100 bytes, packed by tar(1).
    const top = `${'image-'.repeat(20)}${format}`;
    await writeFolder(path.join(dir, format, top), dirEntries(two));
    const archive = path.join(dir, `${format}.tar`);
    await run('tar', [`--format=${format}`, '-C', path.join(dir, format), '-cf', archive, top]);
    const pushed = await berth(['push', '--json', archive, `${host(berthServer)}/${repo}:two`], withToken);
    t.is(pushed.code, 0, pushed.stderr);
    const report = lastJson(pushed);
    t.is(report.version, 2);
    const source = Object.fromEntries(report.blobs.map((b: { digest: string; source: string }) => [b.digest, b.source]));
    t.is(source[two.layerDigests[0]!], 'repository');
    t.is(source[two.layerDigests[1]!], 'upload');
    t.true(report.bytes_received > 300 * 1024 && report.bytes_received < 300 * 1024 + 16 * 1024, String(report.bytes_received));
    // The upload carries its length up front, as curl -T sends a file (see the uploaded event).
    const uploaded = pushed.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.event === 'uploaded');
    t.is(uploaded.bytes, report.bytes_received);
  }
});

test.serial('a tarball with hostile headers fails locally with ARCHIVE_INVALID, exit 3, one line and no stack trace, before anything is sent', async (t) => {
  const repo = await berthServer.newRepository('cli-hostile');
  const dir = await tempDir(t);
  const sample = await fs.readFile(path.join(SAMPLES, 'skopeo-dir-v2s2.tar'));
  const setSize = (buf: Buffer, at: number, field: Buffer) => {
    field.copy(buf, at + 124);
    buf.fill(0x20, at + 148, at + 156);
    let sum = 0;
    for (let i = at; i < at + 512; i++) sum += buf[i]!;
    buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 8, 'latin1');
  };
  const badChecksum = Buffer.from(sample);
  badChecksum[512 + 3] = badChecksum[512 + 3]! ^ 0x01; // the second header's name
  const negative = Buffer.from(sample);
  setSize(negative, 512, Buffer.alloc(12, 0xff));
  const huge = Buffer.from(sample);
  const big = Buffer.alloc(12);
  big[0] = 0x80;
  big.writeUIntBE(2 ** 44, 6, 6);
  setSize(huge, 512, big);
  const cases: Array<[string, Buffer, RegExp]> = [
    ['checksum', badChecksum, /checksum/],
    ['negative', negative, /negative/],
    ['huge', huge, /past the end/],
    ['truncated', sample.subarray(0, 512 + 512 + 100), /past the end|ends inside/],
  ];
  for (const [name, bytes, why] of cases) {
    const file = path.join(dir, `${name}.tar`);
    await fs.writeFile(file, bytes);
    const result = await berth(['push', file, `${host(berthServer)}/${repo}`], withToken);
    t.is(result.code, 3, `${name}: ${result.stderr}`);
    t.regex(result.stderr, new RegExp(`^berth: .*${name}\\.tar: ARCHIVE_INVALID: `));
    t.regex(result.stderr, why);
    assertOneLine(t, result);
  }
  t.is((await berthServer.api('GET', `/api/v1/imports?repository=${repo}`)).body.imports.length, 0);
});

test.serial('--create makes a missing repository with push scope alone; without it NAME_UNKNOWN says how; pull-only or another name creates nothing', async (t) => {
  const dir = await tempDir(t);
  const folder = await writeFolder(path.join(dir, 'app'), dirEntries(makeImage({ layers: [randomBytes(64 * 1024)] })));
  const suffix = randomBytes(3).toString('hex');
  const name = `team-${suffix}/app`;

  const plain = await berth(['push', folder, `${host(berthServer)}/${name}:v1`], withToken);
  t.is(plain.code, 1);
  t.regex(plain.stderr, /NAME_UNKNOWN: .*berth push --create makes it/);
  assertOneLine(t, plain);
  t.is((await berthServer.api('GET', `/api/v1/repositories/${name}`)).status, 404);

  const token = async (tokenName: string, actions: string[]) =>
    (await berthServer.api('POST', '/api/v1/tokens', { name: tokenName, scopes: [{ repositories: `team-${suffix}/*`, actions }] })).body.secret as string;
  const reader = await berth(['push', '--create', folder, `${host(berthServer)}/${name}:v1`], { BERTH_TOKEN: await token(`cli-create-reader-${suffix}`, ['pull']) });
  t.not(reader.code, 0);
  t.is((await berthServer.api('GET', `/api/v1/repositories/${name}`)).status, 404);
  const pusher = await token(`cli-create-pusher-${suffix}`, ['push']);
  const outside = await berth(['push', '--create', folder, `${host(berthServer)}/elsewhere-${suffix}:v1`], { BERTH_TOKEN: pusher });
  t.is(outside.code, 1);
  t.regex(outside.stderr, /NAME_UNKNOWN/);
  t.is((await berthServer.api('GET', `/api/v1/repositories/elsewhere-${suffix}`)).status, 404);

  const created = await berth(['push', '--json', '--create', folder, `${host(berthServer)}/${name}:v1`], { BERTH_TOKEN: pusher });
  t.is(created.code, 0, created.stderr);
  const report = lastJson(created);
  t.is(report.version, 1);
  t.is(report.tag, 'v1');
  t.is(await berthServer.latestVersion(name), 1);
  // Pushed again with --create: the repository exists, nothing is sent but the manifest, no version.
  const again = lastJson(await berth(['push', '--json', '--create', folder, `${host(berthServer)}/${name}:v1`], { BERTH_TOKEN: pusher }));
  t.is(again.new_version, false);
  t.true(again.bytes_received < 16 * 1024);

  // The API itself: ?create=true on an import, and a value that is not true or false.
  const viaApi = await berthServer.importRaw(`team-${suffix}/api`, await tarOf(dirEntries(makeImage())), { tag: 'v1' });
  t.is(viaApi.status, 404);
  const res = await fetch(`${berthServer.url}/api/v1/repositories/team-${suffix}/api/imports?create=true&tag=v1`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/x-tar' },
    body: new Uint8Array(await tarOf(dirEntries(makeImage()))),
  });
  t.is(res.status, 201);
  t.is(((await res.json()) as { version: number }).version, 1);
  const bad = await fetch(`${berthServer.url}/api/v1/repositories/team-${suffix}/api/imports?create=yes`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/x-tar' },
    body: new Uint8Array(await tarOf(dirEntries(makeImage()))),
  });
  t.is(bad.status, 400);
  t.is(((await bad.json()) as { error: { code: string } }).error.code, 'BODY_INVALID');
});

test.serial('bin/berth.js runs the compiled CLI when dist/ is at least as new as src/, and the sources through tsx otherwise', async (t) => {
  // The bundle npm run build makes (the package's prepare step) pushes an image, as the sources do.
  const bundleDir = await tempDir(t);
  await run(process.execPath, [path.join(ROOT, 'scripts', 'bundle-cli.mjs'), path.join(bundleDir, 'berth.mjs')]);
  const repo = await berthServer.newRepository('cli-bundle');
  const bundled = await new Promise<Run>((resolve) => {
    const child = spawn(process.execPath, [path.join(bundleDir, 'berth.mjs'), 'push', '--json', path.join(SAMPLES, 'docker-save.tar'), `${host(berthServer)}/${repo}`], {
      env: { PATH: process.env.PATH, HOME: bundleDir, ...withToken },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  t.is(bundled.code, 0, bundled.stderr);
  t.is(lastJson(bundled).version, 1);

  // A copy of the bin in a package of its own, whose two CLIs say which one ran.
  const root = await tempDir(t);
  await fs.mkdir(path.join(root, 'bin'));
  await fs.copyFile(path.join(ROOT, 'bin', 'berth.js'), path.join(root, 'bin', 'berth.js'));
  await fs.symlink(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
  await fs.writeFile(path.join(root, 'package.json'), '{"type":"module"}');
  await fs.mkdir(path.join(root, 'src', 'cli'), { recursive: true });
  await fs.writeFile(path.join(root, 'src', 'cli', 'main.ts'), "const from: string = 'source';\nprocess.stdout.write(from);\n");
  const which = () =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(root, 'bin', 'berth.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.once('error', reject);
      child.once('close', () => resolve(out));
    });
  t.is(await which(), 'source', 'no dist/');
  await fs.mkdir(path.join(root, 'dist', 'cli'), { recursive: true });
  await fs.writeFile(path.join(root, 'dist', 'cli', 'berth.mjs'), "process.stdout.write('compiled');\n");
  t.is(await which(), 'compiled', 'dist/ newer than src/');
  const later = new Date(Date.now() + 5000);
  await fs.utimes(path.join(root, 'src', 'cli', 'main.ts'), later, later);
  t.is(await which(), 'source', 'a source edited after the build');

  // With the build's list of its sources (dist/cli/berth.inputs.json), only those are compared.
  await fs.writeFile(path.join(root, 'src', 'server.ts'), '');
  await fs.utimes(path.join(root, 'src', 'server.ts'), later, later);
  const built = new Date(Date.now() + 10_000);
  await fs.writeFile(path.join(root, 'dist', 'cli', 'berth.inputs.json'), JSON.stringify(['src/cli/main.ts']));
  await fs.utimes(path.join(root, 'dist', 'cli', 'berth.mjs'), built, built);
  t.is(await which(), 'compiled', 'a newer file the CLI is not built from');
  const latest = new Date(Date.now() + 15_000);
  await fs.utimes(path.join(root, 'src', 'cli', 'main.ts'), latest, latest);
  t.is(await which(), 'source', 'a listed source edited after the build');
  await fs.writeFile(path.join(root, 'dist', 'cli', 'berth.inputs.json'), JSON.stringify(['src/cli/gone.ts']));
  t.is(await which(), 'source', 'a listed source gone');
});

test('the command line: --version, --help, and a bad command line exits 2 with one line', async (t) => {
  const version = await berth(['--version']);
  t.is(version.code, 0);
  t.is(version.stdout, `${(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  const help = await berth(['push', '--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /^Usage: berth push\|import \[options\] <image> <destination>\n/);
  t.regex(help.stdout, /--create/);
  const none = await berth([]);
  t.is(none.code, 2);
  t.regex(none.stderr, /^Usage: berth/);
  for (const [args, message] of [
    [['push', 'app.tar'], "missing required argument 'destination'"],
    [['push', '--jsn', 'app.tar', 'localhost/a'], "unknown option '--jsn'"],
    [['pull', 'x'], "unknown command 'pull'"],
    [['reports', '--status', 'done'], "option '--status <status>' argument 'done' is invalid"],
    [['report', 'a', 'b'], "too many arguments for 'report'"],
  ] as const) {
    const run = await berth([...args], withToken);
    t.is(run.code, 2, args.join(' '));
    t.true(run.stderr.startsWith(`berth: ${message}`), run.stderr);
    assertOneLine(t, run);
  }
});
