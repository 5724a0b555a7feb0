// A version's tags, manifests and blobs come in pages (first page in the version itself, `next` links
// to the rest); its added/removed part stays whole; past versions page the same way.
import anyTest, { type TestFn } from 'ava';
import { dirEntries, makeImage, tarOf } from './helpers/archives.js';
import { ADMIN_TOKEN, startBerth, type TestServer } from './helpers/server.js';

const test = anyTest as TestFn<{ berth: TestServer }>;

test.before(async (t) => {
  t.context.berth = await startBerth();
});
test.after.always(async (t) => {
  await t.context.berth?.close();
});

/** Follows `next` links from `first` to the end, collecting `key` items. */
async function walk(berth: TestServer, first: { items: any[]; next: string | null }, key: string): Promise<{ items: any[]; pages: number }> {
  const items = [...first.items];
  let next = first.next;
  let pages = 1;
  while (next !== null) {
    const page = await berth.api('GET', next);
    if (page.status !== 200) throw new Error(`${next}: ${page.status} ${JSON.stringify(page.body)}`);
    items.push(...page.body[key]);
    next = page.body.next;
    pages++;
  }
  return { items, pages };
}

test("a version's tags, manifests and blobs page through next links, in the latest and in a past version", async (t) => {
  const { berth } = t.context;
  const repo = await berth.newRepository('paged');
  const images = [makeImage({ layerCount: 3 }), makeImage({ layerCount: 2 })];
  for (const [i, image] of images.entries()) {
    const res = await berth.importMultipart(repo, await tarOf(dirEntries(image)), { tag: `img${i}` });
    t.is(res.status, 201, JSON.stringify(res.body));
  }
  // 25 more tags on the first image, one version each; names chosen so byte order differs from insertion order
  const names = Array.from({ length: 25 }, (_, i) => `t-${String.fromCharCode(122 - i)}${i}`);
  for (const name of names) {
    const res = await berth.api('PUT', `/api/v1/repositories/${repo}/tags/${name}`, { digest: images[0]!.manifestDigest });
    t.is(res.status, 201);
  }
  const latest = await berth.latestVersion(repo);
  const allTags = ['img0', 'img1', ...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

  const version = await berth.api('GET', `/api/v1/repositories/${repo}/versions/${latest}?limit=10`);
  t.is(version.status, 200);
  t.is(version.body.tags.length, 10);
  t.truthy(version.body.next.tags);
  const tags = await walk(berth, { items: version.body.tags, next: version.body.next.tags }, 'tags');
  t.deepEqual(tags.items.map((x: { name: string }) => x.name), allTags);
  t.is(tags.pages, 3);
  // the added part stays whole: this version added one tag
  t.deepEqual(version.body.added.tags.map((x: { name: string }) => x.name), [names.at(-1)]);

  const blobDigests = [...images.flatMap((i) => [i.configDigest, ...i.layerDigests])];
  const small = await berth.api('GET', `/api/v1/repositories/${repo}/versions/${latest}?limit=2`);
  const blobs = await walk(berth, { items: small.body.blobs, next: small.body.next.blobs }, 'blobs');
  t.deepEqual(blobs.items.map((b: { digest: string }) => b.digest).sort(), [...blobDigests].sort());
  t.is(blobs.pages, Math.ceil(blobDigests.length / 2));
  const manifests = await walk(berth, { items: small.body.manifests, next: small.body.next.manifests }, 'manifests');
  t.deepEqual(manifests.items.map((m: { digest: string }) => m.digest).sort(), images.map((i) => i.manifestDigest).sort());
  t.is(manifests.pages, 1);

  // a past version: version 2 (after both imports, before any tag change) has exactly two tags
  const past = await berth.api('GET', `/api/v1/repositories/${repo}/versions/2/tags?limit=1`);
  t.is(past.status, 200);
  const pastTags = await walk(berth, { items: past.body.tags, next: past.body.next }, 'tags');
  t.deepEqual(pastTags.items.map((x: { name: string }) => x.name), ['img0', 'img1']);
  const pastBlobs = await berth.api('GET', `/api/v1/repositories/${repo}/versions/1/blobs`);
  t.deepEqual(pastBlobs.body.blobs.map((b: { digest: string }) => b.digest).sort(), [images[0]!.configDigest, ...images[0]!.layerDigests].sort());
  t.is(pastBlobs.body.next, null);

  // /v2 tags/list agrees with the pages
  const v2 = await fetch(`${berth.url}/v2/${repo}/tags/list?n=100`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  t.deepEqual(((await v2.json()) as { tags: string[] }).tags, allTags);
});

test('bad page cursors and limits are 400 BODY_INVALID; an unknown version is 404 VERSION_UNKNOWN', async (t) => {
  const { berth } = t.context;
  const repo = await berth.newRepository('paged-bad');
  const bad = await berth.api('GET', `/api/v1/repositories/${repo}/versions/0/blobs?after=abc`);
  t.is(bad.status, 400);
  t.is(bad.body.error.code, 'BODY_INVALID');
  const limit = await berth.api('GET', `/api/v1/repositories/${repo}/versions/0/tags?limit=0`);
  t.is(limit.status, 400);
  t.is(limit.body.error.code, 'BODY_INVALID');
  const unknown = await berth.api('GET', `/api/v1/repositories/${repo}/versions/7/manifests`);
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, 'VERSION_UNKNOWN');
  const empty = await berth.api('GET', `/api/v1/repositories/${repo}/versions/0/tags`);
  t.deepEqual(empty.body, { tags: [], next: null });
});
