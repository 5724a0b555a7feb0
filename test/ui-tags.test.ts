// Tags from the web pages, in a real browser (Debian's chromium through playwright-core): set a tag on
// a manifest and remove one with plain forms (POST, CSRF token, 303 back to the repository page), the
// change visible on the page and through /v2; refused changes (MANIFEST_UNKNOWN, TAG_INVALID,
// TAG_UNKNOWN, CSRF_INVALID, DENIED) shown as escaped text with nothing changed; tokens without push
// or delete see no forms and a forged POST is refused as the API refuses it; tags and a version's
// lists in pages. Screenshots go to test-artifacts/ui/ with the other page tests'.
import test from 'ava';
import type { Browser, Page } from 'playwright-core';
import { dirEntries, type Image, makeImage, tarOf } from './helpers/archives.js';
import { axeViolations, launchChromium, newPage as openPage, scrollWidth, shot, signIn as signInAt } from './helpers/browser.js';
import { ADMIN_TOKEN, startBerth, type TestServer } from './helpers/server.js';

const HOSTILE_TAG = '"><img src=x onerror="window.__xss=1">';

let berth: TestServer;
let browser: Browser;
let repo: string;
let first: Image;
let second: Image;

test.before(async () => {
  berth = await startBerth();
  repo = await berth.newRepository('team/tagged');
  first = makeImage({ layerCount: 1 });
  second = makeImage({ layerCount: 1 });
  for (const [image, tag] of [
    [first, 'v1'],
    [second, 'v2'],
  ] as const) {
    const res = await berth.importRaw(repo, await tarOf(dirEntries(image)), { tag });
    if (res.status !== 201) throw new Error(`import: ${res.status} ${JSON.stringify(res.body)}`);
  }
  browser = await launchChromium();
});

test.after.always(async () => {
  await browser?.close();
  await berth?.close();
});

const newPage = (opts: { width?: number; javaScript?: boolean } = {}) => openPage(browser, opts);
const signIn = (page: Page, token = ADMIN_TOKEN): Promise<void> => signInAt(page, berth.url, token);
const repoUrl = (name = repo) => `${berth.url}/ui/repositories/${name}`;

/** The repository page's tags table as [tag, digest] rows. */
const tagRows = (page: Page): Promise<string[][]> =>
  page.locator('#tags table tbody tr').evaluateAll((rows) => rows.map((r) => Array.from(r.querySelectorAll('td')).slice(0, 2).map((td) => td.textContent!.trim())));

/** The tags /v2 lists, read with the admin token. */
async function v2Tags(name = repo): Promise<string[]> {
  const res = await fetch(`${berth.url}/v2/${name}/tags/list`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  return ((await res.json()) as { tags: string[] }).tags;
}

test.serial('set a tag on a manifest from the repository page, see it there and through /v2, then remove it', async (t) => {
  const { context, page } = await newPage();
  await signIn(page);
  await page.goto(repoUrl());
  t.deepEqual(await tagRows(page), [
    ['v1', first.manifestDigest],
    ['v2', second.manifestDigest],
  ]);
  // "Tag this manifest" on v1's row fills the form's digest.
  await page.getByRole('link', { name: 'Tag this manifest (v1)' }).click();
  await page.waitForURL(/digest=/);
  t.is(await page.getByLabel('Manifest digest').inputValue(), first.manifestDigest);
  const before = await berth.latestVersion(repo);
  await page.getByLabel('Tag', { exact: true }).fill('release-1.0');
  await page.getByRole('button', { name: 'Set tag' }).click();
  await page.waitForURL(`${repoUrl()}?changed=${before + 1}`);
  t.regex(await page.getByRole('status').innerText(), new RegExp(`version ${before + 1} made`));
  t.deepEqual(await tagRows(page), [
    ['release-1.0', first.manifestDigest],
    ['v1', first.manifestDigest],
    ['v2', second.manifestDigest],
  ]);
  t.deepEqual(await v2Tags(), ['release-1.0', 'v1', 'v2']);
  const version = (await berth.api('GET', `/api/v1/repositories/${repo}/versions/${before + 1}`)).body;
  t.is(version.kind, 'tag');
  t.is(version.actor, 'admin');
  t.deepEqual(version.added.tags, [{ name: 'release-1.0', digest: first.manifestDigest }]);
  await shot(page, 'tag-set');
  t.deepEqual(await axeViolations(page), []);

  // Setting it again to the same manifest makes no version; moving it makes one.
  await page.getByLabel('Tag', { exact: true }).fill('release-1.0');
  await page.getByLabel('Manifest digest').fill(first.manifestDigest);
  await page.getByRole('button', { name: 'Set tag' }).click();
  await page.waitForURL(/\?unchanged=1$/);
  t.regex(await page.getByRole('status').innerText(), /Nothing changed/);
  t.is(await berth.latestVersion(repo), before + 1);
  await page.getByLabel('Tag', { exact: true }).fill('release-1.0');
  await page.getByLabel('Manifest digest').fill(second.manifestDigest);
  await page.getByRole('button', { name: 'Set tag' }).click();
  await page.waitForURL(`${repoUrl()}?changed=${before + 2}`);
  t.deepEqual((await tagRows(page))[0], ['release-1.0', second.manifestDigest]);

  // The notice links to what changed.
  await page.getByRole('link', { name: 'See what changed' }).click();
  await page.waitForURL(new RegExp(`/-/versions/${before + 2}#changes$`));
  t.regex(await page.getByRole('region', { name: /What changed/ }).innerText(), /Added tags[\s\S]*release-1\.0[\s\S]*Removed tags[\s\S]*release-1\.0/);

  // Remove it: one button per tag.
  await page.goto(repoUrl());
  await page.getByRole('button', { name: 'Remove tag release-1.0' }).click();
  await page.waitForURL(`${repoUrl()}?changed=${before + 3}`);
  t.deepEqual(
    (await tagRows(page)).map((r) => r[0]),
    ['v1', 'v2'],
  );
  t.deepEqual(await v2Tags(), ['v1', 'v2']);
  const untag = (await berth.api('GET', `/api/v1/repositories/${repo}/versions/${before + 3}`)).body;
  t.is(untag.kind, 'untag');
  t.deepEqual(untag.removed.tags, [{ name: 'release-1.0', digest: second.manifestDigest }]);
  await shot(page, 'tag-removed');
  await context.close();
});

test.serial('without JavaScript the forms work the same: post, then 303 back to the page', async (t) => {
  const { context, page } = await newPage({ javaScript: false });
  await signIn(page);
  await page.goto(repoUrl());
  const before = await berth.latestVersion(repo);
  await page.getByLabel('Tag', { exact: true }).fill('nojs');
  await page.getByLabel('Manifest digest').fill(second.manifestDigest);
  const [answer] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Set tag' }).click()]);
  t.is(answer.status(), 303);
  await page.waitForURL(`${repoUrl()}?changed=${before + 1}`);
  t.true((await v2Tags()).includes('nojs'));
  await page.getByRole('button', { name: 'Remove tag nojs' }).click();
  await page.waitForURL(`${repoUrl()}?changed=${before + 2}`);
  t.false((await v2Tags()).includes('nojs'));
  await context.close();
});

test.serial('refused changes are shown on the page as text, with the form as sent, and change nothing', async (t) => {
  const { context, page } = await newPage();
  await signIn(page);
  await page.goto(repoUrl());
  const before = await berth.latestVersion(repo);
  // A digest the repository does not hold: MANIFEST_UNKNOWN, 404, the digest named.
  const unknown = `sha256:${'0'.repeat(64)}`;
  await page.getByLabel('Tag', { exact: true }).fill('ghost');
  await page.getByLabel('Manifest digest').fill(unknown);
  const [missing] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Set tag' }).click()]);
  t.is(missing.status(), 404);
  await page.waitForLoadState();
  const alert = page.getByRole('alert');
  t.regex(await alert.innerText(), /The tag was not set: MANIFEST_UNKNOWN the repository holds no manifest with this digest/);
  t.regex(await alert.innerText(), new RegExp(`digest\\s+${unknown}`));
  t.is(await page.getByLabel('Tag', { exact: true }).inputValue(), 'ghost', 'the form keeps what was sent');
  t.is(await page.getByLabel('Manifest digest').inputValue(), unknown);
  t.deepEqual(await axeViolations(page), []);
  await shot(page, 'tag-refused');
  t.true((await scrollWidth(page)) <= 1280);

  // A hostile tag name (the browser's own check switched off, as a forged form would be): TAG_INVALID, as text.
  await page.evaluate(() => {
    (document.querySelector('form.tag-form') as HTMLFormElement).noValidate = true;
  });
  await page.getByLabel('Tag', { exact: true }).fill(HOSTILE_TAG);
  await page.getByLabel('Manifest digest').fill(first.manifestDigest);
  const [invalid] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Set tag' }).click()]);
  t.is(invalid.status(), 400);
  await page.waitForLoadState();
  t.regex(await page.getByRole('alert').innerText(), /TAG_INVALID/);
  t.true((await page.getByRole('alert').innerText()).includes(HOSTILE_TAG));
  t.is(await page.getByLabel('Tag', { exact: true }).inputValue(), HOSTILE_TAG);
  t.is(await page.locator('main img').count(), 0);
  t.is(await page.evaluate(() => (window as any).__xss), undefined);
  t.false((await invalid.text()).includes('<img'), 'the answer holds no markup of the tag');
  await shot(page, 'tag-hostile');
  await page.setViewportSize({ width: 390, height: 900 });
  t.true((await scrollWidth(page)) <= 390, 'the refusal fits a phone');
  await shot(page, 'tag-hostile-390px');
  t.deepEqual(await axeViolations(page), []);
  await page.setViewportSize({ width: 1280, height: 900 });

  // A tag removed meanwhile (a stale page): TAG_UNKNOWN, 404.
  await page.goto(repoUrl());
  t.is((await berth.api('DELETE', `/api/v1/repositories/${repo}/tags/v2`)).status, 200);
  const afterApi = await berth.latestVersion(repo);
  const [gone] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Remove tag v2' }).click()]);
  t.is(gone.status(), 404);
  await page.waitForLoadState();
  t.regex(await page.getByRole('alert').innerText(), /The tag “v2” was not removed: TAG_UNKNOWN/);
  t.is(await berth.latestVersion(repo), afterApi);
  t.is(afterApi, before + 1, 'only the API’s own removal made a version');
  t.is((await berth.api('PUT', `/api/v1/repositories/${repo}/tags/v2`, { digest: second.manifestDigest })).status, 201);
  await context.close();
});

test.serial('CSRF: a set or remove without the session’s CSRF token is refused with CSRF_INVALID and changes nothing', async (t) => {
  const { context, page } = await newPage();
  await signIn(page);
  await page.goto(repoUrl());
  const before = await berth.latestVersion(repo);
  // Tampered forms, posted by the browser.
  await page.locator('form.tag-form input[name="csrf"]').evaluate((input: HTMLInputElement) => {
    input.value = 'forged';
  });
  await page.getByLabel('Tag', { exact: true }).fill('forged');
  await page.getByLabel('Manifest digest').fill(first.manifestDigest);
  const [setAnswer] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Set tag' }).click()]);
  t.is(setAnswer.status(), 403);
  await page.waitForLoadState();
  t.regex(await page.locator('main').innerText(), /CSRF_INVALID/);
  await shot(page, 'tag-csrf-refused');
  await page.goto(repoUrl());
  await page.locator('form.inline input[name="csrf"]').first().evaluate((input: HTMLInputElement) => {
    input.value = '';
  });
  const [removeAnswer] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Remove tag v1' }).click()]);
  t.is(removeAnswer.status(), 403);
  await page.waitForLoadState();
  t.regex(await page.locator('main').innerText(), /CSRF_INVALID/);
  // And posted by a script without any token.
  // (no named functions inside evaluate: tsx would wrap them in a helper the page does not have)
  const answers = await page.evaluate(
    async ({ name, digest }) =>
      Promise.all(
        [
          ['tag', `tag=forged&digest=${encodeURIComponent(digest)}`],
          ['untag', 'tag=v1'],
        ].map(([path, body]) =>
          fetch(`/ui/repositories/${name}/-/${path}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body }).then((r) => r.status),
        ),
      ),
    { name: repo, digest: first.manifestDigest },
  );
  t.deepEqual(answers, [403, 403]);
  t.is(await berth.latestVersion(repo), before);
  t.deepEqual(await v2Tags(), ['v1', 'v2']);
  await context.close();
});

/** POSTs a form to `path` from the signed-in page, with the session's own CSRF token: status and text. */
async function postWithSessionCsrf(page: Page, path: string, fields: Record<string, string>): Promise<{ status: number; text: string }> {
  return page.evaluate(
    async ({ path, fields }) => {
      const csrf = (document.querySelector('form.sign-out input[name="csrf"]') as HTMLInputElement).value;
      const res = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...fields, csrf }).toString() });
      return { status: res.status, text: await res.text() };
    },
    { path, fields },
  );
}

test.serial('tokens without push or delete see no forms; a forged POST is refused as the API refuses it', async (t) => {
  const viewer = await berth.token('tag-viewer', [{ repositories: repo, actions: ['pull'] }]);
  const pusher = await berth.token('tag-pusher', [{ repositories: repo, actions: ['push'] }]);
  const deleter = await berth.token('tag-deleter', [{ repositories: repo, actions: ['pull', 'delete'] }]);
  const stranger = await berth.token('tag-stranger', [{ repositories: 'elsewhere/*', actions: ['pull', 'push', 'delete'] }]);
  const before = await berth.latestVersion(repo);
  const api = async (secret: string, method: string, tag: string, body?: unknown) => {
    const res = await fetch(`${berth.url}/api/v1/repositories/${repo}/tags/${tag}`, {
      method,
      headers: { Authorization: `Bearer ${secret}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code };
  };
  const code = (text: string) => /<code>([A-Z_]+)<\/code>/.exec(text)?.[1];

  // Pull only: no forms, no buttons, no tag links; both POSTs refused 403 DENIED, as the API's PUT and DELETE.
  const v = await newPage();
  await signIn(v.page, viewer.secret);
  await v.page.goto(repoUrl());
  t.is(await v.page.locator('main form').count(), 0);
  t.is(await v.page.getByRole('button').filter({ hasText: /Remove|Set tag|Upload/ }).count(), 0);
  t.is(await v.page.getByRole('link', { name: /Tag this manifest/ }).count(), 0);
  t.deepEqual(await tagRows(v.page), [
    ['v1', first.manifestDigest],
    ['v2', second.manifestDigest],
  ]);
  t.is(await v.page.locator('#tags thead th').count(), 2, 'no Change column');
  await shot(v.page, 'tags-read-only');
  t.deepEqual(await axeViolations(v.page), []);
  await v.page.goto(`${repoUrl()}/-/versions/${before}`);
  t.is(await v.page.getByRole('link', { name: /Tag this manifest/ }).count(), 0);
  await v.page.goto(repoUrl());
  const forgedSet = await postWithSessionCsrf(v.page, `/ui/repositories/${repo}/-/tag`, { tag: 'forged', digest: first.manifestDigest });
  const forgedUntag = await postWithSessionCsrf(v.page, `/ui/repositories/${repo}/-/untag`, { tag: 'v1' });
  t.deepEqual([forgedSet.status, code(forgedSet.text)], [403, 'DENIED']);
  t.deepEqual([forgedUntag.status, code(forgedUntag.text)], [403, 'DENIED']);
  t.deepEqual(await api(viewer.secret, 'PUT', 'forged', { digest: first.manifestDigest }), { status: 403, code: 'DENIED' });
  t.deepEqual(await api(viewer.secret, 'DELETE', 'v1'), { status: 403, code: 'DENIED' });
  await v.context.close();

  // Push without delete: the set form and tag links, no remove buttons; a forged remove is DENIED.
  const p = await newPage();
  await signIn(p.page, pusher.secret);
  await p.page.goto(repoUrl());
  t.is(await p.page.locator('form.tag-form').count(), 1);
  t.is(await p.page.getByRole('button', { name: /^Remove tag/ }).count(), 0);
  const pushUntag = await postWithSessionCsrf(p.page, `/ui/repositories/${repo}/-/untag`, { tag: 'v1' });
  t.deepEqual([pushUntag.status, code(pushUntag.text)], [403, 'DENIED']);
  t.deepEqual(await api(pusher.secret, 'DELETE', 'v1'), { status: 403, code: 'DENIED' });
  await p.page.goto(`${repoUrl()}/-/versions/${before}`);
  t.is(await p.page.getByRole('link', { name: 'Tag this manifest' }).count(), 2, 'the latest version’s manifests link to the set form');
  await p.context.close();

  // Delete without push: remove buttons, no set form; a forged set is DENIED.
  const d = await newPage();
  await signIn(d.page, deleter.secret);
  await d.page.goto(repoUrl());
  t.is(await d.page.locator('form.tag-form').count(), 0);
  t.is(await d.page.getByRole('button', { name: /^Remove tag/ }).count(), 2);
  const deleteSet = await postWithSessionCsrf(d.page, `/ui/repositories/${repo}/-/tag`, { tag: 'forged', digest: first.manifestDigest });
  t.deepEqual([deleteSet.status, code(deleteSet.text)], [403, 'DENIED']);
  await d.context.close();

  // A token for other repositories: this one does not exist for it (404 NAME_UNKNOWN), on the page as on the API.
  const s = await newPage();
  await signIn(s.page, stranger.secret);
  const hiddenSet = await postWithSessionCsrf(s.page, `/ui/repositories/${repo}/-/tag`, { tag: 'forged', digest: first.manifestDigest });
  const hiddenUntag = await postWithSessionCsrf(s.page, `/ui/repositories/${repo}/-/untag`, { tag: 'v1' });
  t.deepEqual([hiddenSet.status, code(hiddenSet.text)], [404, 'NAME_UNKNOWN']);
  t.deepEqual([hiddenUntag.status, code(hiddenUntag.text)], [404, 'NAME_UNKNOWN']);
  t.deepEqual(await api(stranger.secret, 'PUT', 'forged', { digest: first.manifestDigest }), { status: 404, code: 'NAME_UNKNOWN' });
  await s.context.close();

  t.is(await berth.latestVersion(repo), before);
  t.deepEqual(await v2Tags(), ['v1', 'v2']);
});

test.serial('keyboard: set a tag without a mouse', async (t) => {
  const { context, page } = await newPage();
  await signIn(page);
  await page.goto(repoUrl());
  await page.getByLabel('Tag', { exact: true }).focus();
  await page.keyboard.type('typed');
  await page.keyboard.press('Tab');
  t.is(await page.evaluate(() => document.activeElement?.id), 's-digest');
  await page.keyboard.type(first.manifestDigest);
  await page.keyboard.press('Tab');
  t.is(await page.evaluate(() => document.activeElement?.textContent), 'Set tag');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\?changed=\d+$/);
  t.true((await v2Tags()).includes('typed'));
  // The remove button is reached and pressed from the keyboard too.
  const set = await berth.latestVersion(repo);
  await page.getByRole('button', { name: 'Remove tag typed' }).focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(`${repoUrl()}?changed=${set + 1}`);
  t.false((await v2Tags()).includes('typed'));
  await context.close();
});

test.serial('tags and a version’s lists come in pages of 100 with next links', async (t) => {
  const many = await berth.newRepository('team/many');
  const image = makeImage({ layerCount: 130 });
  t.is((await berth.importRaw(many, await tarOf(dirEntries(image)), { tag: 'latest' })).status, 201);
  const names = Array.from({ length: 249 }, (_, i) => `t${String(i).padStart(3, '0')}`);
  for (const name of names) t.is((await berth.api('PUT', `/api/v1/repositories/${many}/tags/${name}`, { digest: image.manifestDigest })).status, 201);
  const all = ['latest', ...names].sort();
  const latest = await berth.latestVersion(many);

  const { context, page } = await newPage({ width: 390 });
  await signIn(page);
  await page.goto(repoUrl(many));
  const seen: string[] = [];
  for (const size of [100, 100, 50]) {
    const rows = (await tagRows(page)).map((r) => r[0]!);
    t.is(rows.length, size);
    seen.push(...rows);
    t.true((await scrollWidth(page)) <= 390);
    const next = page.getByRole('navigation', { name: 'Tag pages' }).getByRole('link', { name: 'Next tags' });
    if (size === 50) {
      t.is(await next.count(), 0);
      break;
    }
    await next.click();
    await page.waitForURL(/tags_after=/);
  }
  t.deepEqual(seen, all);
  await shot(page, 'tags-last-page-390px');
  t.deepEqual(await axeViolations(page), []);
  await page.getByRole('link', { name: 'First tags' }).click();
  await page.waitForURL(`${repoUrl(many)}#tags`);
  t.is((await tagRows(page))[0]![0], all[0]);

  // Its 251 versions (create, import, 249 tags), 50 a page by number (keyset: versions_before=).
  const versionNumbers = async () =>
    (await page.locator('table:has(caption:has-text("Versions")) tbody tr td:first-child').allInnerTexts()).map((v) => Number(v.replace('version ', '')));
  const versions: number[] = [];
  for (;;) {
    const shown = await versionNumbers();
    versions.push(...shown);
    const older = page.getByRole('navigation', { name: 'Version pages' }).getByRole('link', { name: 'Older versions' });
    if ((await older.count()) === 0) break;
    t.is(shown.length, 50);
    await older.click();
    await page.waitForURL(new RegExp(`versions_before=${shown.at(-1)}#versions$`));
  }
  t.deepEqual(versions, Array.from({ length: latest + 1 }, (_, i) => latest - i));
  await page.getByRole('link', { name: 'Newest versions' }).click();
  await page.waitForURL(`${repoUrl(many)}#versions`);
  t.is((await versionNumbers())[0], latest);

  // The version page: its 250 tags in three pages, its 131 blobs in two; each list pages on its own.
  await page.goto(`${repoUrl(many)}/-/versions/${latest}`);
  t.regex(await page.locator('#tags-heading').innerText(), /Tags \(the first 100\)/);
  t.regex(await page.locator('#blobs-heading').innerText(), /Blobs \(the first 100\)/);
  t.regex(await page.locator('#manifests-heading').innerText(), /Manifests \(1\)/);
  t.is(await page.getByRole('navigation', { name: 'Manifests pages' }).count(), 0);
  await page.getByRole('navigation', { name: 'Blobs pages' }).getByRole('link', { name: 'Next blobs' }).click();
  await page.waitForURL(/blobs_after=/);
  t.regex(await page.locator('#blobs-heading').innerText(), /Blobs \(31 more\)/);
  t.is(await page.locator('#blobs tbody tr').count(), 31);
  t.is(await page.locator('#tags tbody tr').count(), 100, 'the tags stay on their first page');
  await page.getByRole('navigation', { name: 'Tags pages' }).getByRole('link', { name: 'Next tags' }).click();
  await page.waitForURL(/tags_after=.*blobs_after=|blobs_after=.*tags_after=/);
  t.is(await page.locator('#tags tbody tr').first().locator('td').first().innerText(), all[100]!);
  t.is(await page.locator('#blobs tbody tr').count(), 31, 'the blobs stay on their page');
  const apiBlobs = (await berth.api('GET', `/api/v1/repositories/${many}/versions/${latest}/blobs?limit=1000`)).body.blobs.map((b: any) => b.digest);
  const pageBlobs = await page.locator('#blobs tbody tr td:first-child').allInnerTexts();
  t.deepEqual(pageBlobs, apiBlobs.slice(100));
  t.true((await scrollWidth(page)) <= 390);
  await shot(page, 'version-paged-390px');
  t.deepEqual(await axeViolations(page), []);
  const bad = await page.goto(`${repoUrl(many)}/-/versions/${latest}?blobs_after=nope`);
  t.is(bad?.status(), 400);
  t.regex(await page.locator('main').innerText(), /BODY_INVALID/);
  await context.close();
});
