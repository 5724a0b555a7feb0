// Group commit (services/commit.ts): concurrent changes share transactions, yet each keeps its own
// version and its own outcome. A change refused by its checks fails alone; the others in its group
// commit; versions of one repository stay consecutive, each with its report.
import test from 'ava';
import type { Tag } from '../src/core/names.js';
import type { Digest } from '../src/core/digest.js';
import { commitVersion } from '../src/services/commit.js';
import { getRepositoryRow } from '../src/services/repositories.js';
import { dirEntries, makeImage, sha256, tarOf } from './helpers/archives.js';
import { startBerth } from './helpers/server.js';

test('24 tag changes committed at once, a quarter refused under the lock (MANIFEST_UNKNOWN): the others commit in shared transactions, one version each', async (t) => {
  const berth = await startBerth();
  t.teardown(() => berth.close());
  const names = await Promise.all([0, 1, 2].map(() => berth.newRepository('group')));
  const images = names.map(() => makeImage());
  for (const [k, name] of names.entries()) t.is((await berth.importRaw(name, await tarOf(dirEntries(images[k]!)), { tag: 'first' })).status, 201);
  const repos = await Promise.all(names.map((n) => getRepositoryRow(berth.server.services, n)));
  const begins: string[] = [];
  berth.server.services.db.on('query', (q: { sql: string }) => {
    if (/^begin/i.test(q.sql)) begins.push(q.sql);
  });
  const changes = Array.from({ length: 24 }, (_, i) => {
    const k = i % 3;
    const refused = i % 4 === 3;
    return { i, k, refused, tag: `t${i}` as Tag, digest: (refused ? sha256(`nothing ${i}`) : images[k]!.manifestDigest) as Digest };
  });
  const outcomes = await Promise.allSettled(
    changes.map((c) =>
      commitVersion(berth.server.services, { repository: { id: repos[c.k]!.id, name: names[c.k]! }, kind: 'tag', actor: 'test', reportId: null, tags: [{ tag: c.tag, digest: c.digest }] }),
    ),
  );
  for (const [n, c] of changes.entries()) {
    const o = outcomes[n]!;
    if (c.refused) {
      t.is(o.status, 'rejected', `change ${c.i}`);
      if (o.status === 'rejected') t.is((o.reason as { code?: string }).code, 'MANIFEST_UNKNOWN');
    } else {
      t.is(o.status, 'fulfilled', `change ${c.i}: ${o.status === 'rejected' ? String(o.reason) : ''}`);
    }
  }
  for (const [k, name] of names.entries()) {
    const mine = changes.flatMap((c, n) => (c.k === k && !c.refused && outcomes[n]!.status === 'fulfilled' ? [(outcomes[n] as PromiseFulfilledResult<{ version: number }>).value.version] : []));
    // version 1 is the import; each accepted change made the next one, none twice
    t.deepEqual(mine.sort((a, b) => a - b), Array.from({ length: mine.length }, (_, j) => j + 2), name);
    t.is(await berth.latestVersion(name), mine.length + 1);
    const tags = (await (await fetch(`${berth.url}/v2/${name}/tags/list`, { headers: { Authorization: `Bearer ${berth.config.adminToken}` } })).json()) as { tags: string[] };
    const expected = ['first', ...changes.filter((c) => c.k === k && !c.refused).map((c) => c.tag)].sort();
    t.deepEqual([...tags.tags].sort(), expected);
  }
  t.true(begins.length < 18, `${begins.length} transactions for 18 commits`);
});

test('16 imports at once into 4 repositories, a quarter of them refused: each gets its own outcome, versions stay consecutive, and commits were shared', async (t) => {
  const berth = await startBerth();
  t.teardown(() => berth.close());
  const repos = await Promise.all([0, 1, 2, 3].map(() => berth.newRepository('group')));
  // transactions begun, less those of the running-report rows on PostgreSQL (db/imports.ts insertRunningImport)
  const begins: string[] = [];
  berth.server.services.db.on('query', (q: { sql: string }) => {
    if (/^begin/i.test(q.sql)) begins.push(q.sql);
    if (/^set local synchronous_commit/i.test(q.sql)) begins.pop();
  });
  const jobs = Array.from({ length: 16 }, (_, i) => {
    const repo = repos[Math.floor(i / 4)]!;
    const image = makeImage();
    // every fourth one omits a layer its repository does not hold: BLOB_UNKNOWN
    const refused = i % 4 === 3;
    return { i, repo, image, refused, tag: `t${i}` };
  });
  const archives = await Promise.all(jobs.map((j) => tarOf(dirEntries(j.image, j.refused ? { omit: [j.image.layerDigests[0]!] } : {}))));
  const answers = await Promise.all(jobs.map((j, k) => berth.importRaw(j.repo, archives[k]!, { tag: j.tag })));

  for (const [k, j] of jobs.entries()) {
    const a = answers[k]!;
    if (j.refused) {
      t.is(a.status, 400, `import ${j.i}`);
      t.is(a.body.error.code, 'BLOB_UNKNOWN');
    } else {
      t.is(a.status, 201, `import ${j.i}: ${JSON.stringify(a.body).slice(0, 200)}`);
      t.true(a.body.new_version);
    }
  }
  for (const repo of repos) {
    const mine = jobs.flatMap((j, k) => (j.repo === repo && !j.refused ? [{ j, report: answers[k]!.body }] : []));
    const versions = mine.map((m) => m.report.version as number).sort((a, b) => a - b);
    t.deepEqual(versions, [1, 2, 3], repo);
    t.is(await berth.latestVersion(repo), 3);
    for (const { j, report } of mine) {
      const version = (await berth.api('GET', `/api/v1/repositories/${repo}/versions/${report.version}`)).body;
      t.is(version.import_id, report.id);
      const tag = await fetch(`${berth.url}/v2/${repo}/manifests/${j.tag}`, {
        headers: { Authorization: `Bearer ${berth.config.adminToken}`, Accept: j.image.mediaType },
      });
      t.is(tag.headers.get('docker-content-digest'), j.image.manifestDigest);
      await tag.arrayBuffer();
    }
  }
  // 12 commits (the refused ones are refused by the archive reader, before theirs) in fewer transactions than that.
  t.true(begins.length < 12, `${begins.length} transactions for 12 commits`);
  t.deepEqual(await berth.stagingEntries(), []);
});
