// The admin web pages in a real browser: Debian's chromium driven by playwright-core against a real
// server. Signs in, filters, opens failed and completed reports, uploads with the progress bar (and
// without JavaScript), checks CSRF refusals, hostile text, phone width, keyboard use and axe-core.
// Screenshots of each page go to test-artifacts/ui/ (not committed).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { Browser, Page } from 'playwright-core';
import { dirEntries, makeImage, tarOf } from './helpers/archives.js';
import { ARTIFACTS, axeViolations, launchChromium, newPage as openPage, shot, signIn as signInAt } from './helpers/browser.js';
import { ADMIN_TOKEN, startBerth, type TestServer } from './helpers/server.js';

const HOSTILE_ENTRY = '<img src=x onerror="window.__xss=1">';
const HOSTILE_TAG = '"><script>window.__xss=1</script>';

let berth: TestServer;
let browser: Browser;
let repo: string;
let other: string;
const reports: Record<'sample' | 'reused' | 'missing' | 'hostile' | 'badTag', string> = {} as never;
let missingDigest: string;
let tmp: string;

async function form(repoName: string, archive: Buffer, tag?: string): Promise<{ status: number; body: any }> {
  return berth.importMultipart(repoName, archive, tag !== undefined ? { tag } : {});
}

test.before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-ui-'));
  berth = await startBerth();
  repo = await berth.newRepository('team/app');
  other = await berth.newRepository('team/other');
  reports.sample = (await form(repo, await fs.readFile('samples/skopeo-dir-v2s2.tar'), 'v1')).body.id;
  const base = makeImage({ layerCount: 2 });
  await form(repo, await tarOf(base.entries), 'v2');
  // A layer the repository holds is left out: reused. One it does not hold is left out: BLOB_UNKNOWN.
  const next = makeImage({ layers: [base.layers[0]!, randomBytes(4096)] });
  const reused = await form(repo, await tarOf(dirEntries(next, { omit: [base.layerDigests[0]!] })), 'v3');
  if (reused.status !== 201) throw new Error(`reused import: ${JSON.stringify(reused.body)}`);
  reports.reused = reused.body.id;
  const lacking = makeImage({ layerCount: 2 });
  missingDigest = lacking.layerDigests[1]!;
  const missing = await form(repo, await tarOf(dirEntries(lacking, { omit: [missingDigest] })));
  if (missing.body.error?.code !== 'BLOB_UNKNOWN') throw new Error(`missing import: ${JSON.stringify(missing.body)}`);
  reports.missing = missing.body.id;
  const hostile = await form(repo, await tarOf([{ name: HOSTILE_ENTRY, data: 'x' }]));
  if (hostile.body.error?.code !== 'UNSUPPORTED_ARCHIVE') throw new Error(`hostile import: ${JSON.stringify(hostile.body)}`);
  reports.hostile = hostile.body.id;
  const badTag = await form(repo, await tarOf(makeImage().entries), HOSTILE_TAG);
  if (badTag.body.error?.code !== 'TAG_INVALID') throw new Error(`bad tag import: ${JSON.stringify(badTag.body)}`);
  reports.badTag = badTag.body.id;
  await form(other, await fs.readFile('samples/oci-archive.tar'), 'latest');
  browser = await launchChromium();
});

test.after.always(async () => {
  await browser?.close();
  await berth?.close();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const newPage = (opts: { width?: number; javaScript?: boolean } = {}) => openPage(browser, opts);
const signIn = (page: Page, token = ADMIN_TOKEN): Promise<void> => signInAt(page, berth.url, token);

const rowsOf = (page: Page) => page.locator('table.imports tbody tr');
const rowsHrefs = (page: Page): Promise<string[]> =>
  page.locator('table.imports tbody tr td:first-child a').evaluateAll((as) => as.map((a) => a.getAttribute('href')!));

test.serial('signing in: an unauthenticated page sends the browser to sign in and back; a wrong token is refused', async (t) => {
  const { context, page } = await newPage();
  const res = await page.goto(`${berth.url}/ui/repositories`);
  t.regex(page.url(), /\/ui\/sign-in\?next=%2Fui%2Frepositories$/);
  t.is(res?.status(), 200);
  await shot(page, 'sign-in');
  await page.getByLabel('Token').fill('not-the-token-at-all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
  t.is(await page.getByRole('alert').innerText(), 'That token is not valid (unknown, revoked or expired).');
  t.deepEqual(
    (await context.cookies()).filter((c) => c.name === 'berth_session'),
    [],
  );
  await page.getByLabel('Token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${berth.url}/ui/repositories`);
  const cookie = (await context.cookies()).find((c) => c.name === 'berth_session')!;
  t.true(cookie.httpOnly);
  t.is(cookie.sameSite, 'Strict');
  t.false(cookie.value.includes(ADMIN_TOKEN));
  t.false(Buffer.from(cookie.value, 'base64url').toString('latin1').includes(ADMIN_TOKEN));
  t.deepEqual(await page.locator('main table tbody tr td:first-child').allInnerTexts(), [repo, other]);
  await shot(page, 'repositories');
  // Signing out ends the session: pages send the browser to sign in again.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/ui\/sign-in$/);
  await page.goto(`${berth.url}/ui/imports`);
  t.regex(page.url(), /\/ui\/sign-in\?next=/);
  await context.close();
});

test.serial('imports: newest first, filtered by status, repository, format, actor and time, with the chart per day', async (t) => {
  const { context, page } = await newPage();
  await signIn(page);
  t.is(await rowsOf(page).count(), 7);
  const started = await page.locator('table.imports tbody tr td:first-child').allInnerTexts();
  t.deepEqual([...started].sort().reverse(), started);
  t.is(await rowsOf(page).first().locator('td').nth(1).innerText(), other);
  // The chart: today's bar has 4 completed and 3 failed imports, and its data table says so.
  t.is(await page.locator('svg.chart rect.bar-completed title').last().textContent(), `${new Date().toISOString().slice(0, 10)}: 4 completed`);
  t.is(await page.locator('svg.chart rect.bar-failed title').last().textContent(), `${new Date().toISOString().slice(0, 10)}: 3 failed`);
  const today = page.locator('figure details table tbody tr').last();
  t.deepEqual((await today.locator('td').allTextContents()).slice(0, 4), [new Date().toISOString().slice(0, 10), '4', '3', '0']);
  await shot(page, 'imports');

  await page.getByLabel('Status').selectOption('failed');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/status=failed/);
  t.is(await rowsOf(page).count(), 3);
  for (const status of await page.locator('table.imports .status').allInnerTexts()) t.is(status, 'failed');
  t.is(await page.getByLabel('Status').inputValue(), 'failed');
  t.is(await page.locator('svg.chart rect.bar-completed').count(), 1, 'only the legend: the chart follows the filter');

  await page.getByLabel('Status').selectOption('');
  await page.getByLabel('Repository').fill(other);
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/repository=/);
  t.is(await rowsOf(page).count(), 1);
  t.is(await rowsOf(page).locator('td').nth(3).innerText(), 'oci-layout');

  // Pages of 5: the newest 5, then the 2 older ones, and back.
  await page.goto(`${berth.url}/ui/imports?per=5`);
  const first = await rowsHrefs(page);
  t.is(first.length, 5);
  t.is(await page.getByRole('link', { name: 'Newer' }).count(), 0);
  await page.getByRole('link', { name: 'Older' }).click();
  await page.waitForURL(/older=/);
  const second = await rowsHrefs(page);
  t.is(second.length, started.length - 5);
  t.deepEqual(second.filter((h) => first.includes(h)), []);
  t.is(await page.getByRole('link', { name: 'Older' }).count(), 0);
  await page.getByRole('link', { name: 'Newer' }).click();
  await page.waitForURL(/newer=/);
  t.deepEqual(await rowsHrefs(page), first);

  await page.goto(`${berth.url}/ui/imports?format=skopeo-dir&actor=admin`);
  t.is(await rowsOf(page).count(), 4);
  await page.goto(`${berth.url}/ui/imports?actor=nobody`);
  t.is(await page.locator('p.empty').innerText(), 'No imports match.');
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  await page.goto(`${berth.url}/ui/imports?from=${tomorrow}`);
  t.is(await rowsOf(page).count(), 0);
  await page.goto(`${berth.url}/ui/imports?to=${new Date().toISOString().slice(0, 10)}`);
  t.is(await rowsOf(page).count(), 7);
  const bad = await page.goto(`${berth.url}/ui/imports?from=yesterday`);
  t.is(bad?.status(), 400);
  t.regex(await page.locator('main').innerText(), /BODY_INVALID/);
  await context.close();
});

test.serial('a failed report shows its error code, message and the missing digests of BLOB_UNKNOWN', async (t) => {
  const { context, page } = await newPage();
  await signIn(page);
  await page.getByLabel('Status').selectOption('failed');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/status=failed/);
  await page.locator(`a[href="/ui/imports/${reports.missing}"]`).click();
  await page.waitForURL(`${berth.url}/ui/imports/${reports.missing}`);
  t.is(await page.locator('h1').innerText(), 'Import failed');
  const failure = page.getByRole('region', { name: 'Why it failed' });
  t.regex(await failure.innerText(), /BLOB_UNKNOWN/);
  t.deepEqual(await failure.locator('ul.digests li').allInnerTexts(), [missingDigest]);
  t.regex(await page.locator('dl.facts').innerText(), /Version\s+none made/);
  await shot(page, 'report-failed');
  await context.close();
});

test.serial('a completed report lists each blob with size and source, and links to the version it made and its diff', async (t) => {
  const { context, page } = await newPage();
  await signIn(page);
  await page.locator(`a[href="/ui/imports/${reports.reused}"]`).click();
  await page.waitForURL(`${berth.url}/ui/imports/${reports.reused}`);
  t.is(await page.locator('h1').innerText(), 'Import completed');
  const facts = await page.locator('dl.facts').innerText();
  t.regex(facts, /Format\s+skopeo-dir/);
  t.regex(facts, /Actor\s+admin/);
  t.regex(facts, /Tag\s+v3/);
  t.regex(facts, /Duration\s+\d/);
  const blobs = await page.locator('h2:has-text("Blobs") + p + table tbody tr').evaluateAll((rows) =>
    rows.map((r) => Array.from(r.querySelectorAll('td')).map((td) => td.textContent!.trim())),
  );
  t.is(blobs.length, 3);
  t.is(blobs.filter((b) => b[2] === 'reused from the repository').length, 1);
  t.is(blobs.filter((b) => b[2] === 'uploaded').length, 2);
  for (const b of blobs) t.regex(b[0]!, /^sha256:[0-9a-f]{64}$/);
  await page.setViewportSize({ width: 1100, height: 900 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'report-completed.png'), fullPage: true });
  if (process.env.BERTH_UI_README_SCREENSHOT) await page.screenshot({ path: process.env.BERTH_UI_README_SCREENSHOT, fullPage: true });

  await page.getByRole('link', { name: 'what changed' }).click();
  await page.waitForURL(/\/-\/versions\/3#changes$/);
  t.is(await page.locator('h1').innerText(), `${repo}, version 3`);
  const changes = page.getByRole('region', { name: /What changed against version 2/ });
  t.regex(await changes.innerText(), /Added tags[\s\S]*v3/);
  t.is(await changes.locator('h4:has-text("Added blobs") + table tbody tr').count(), 2, 'the new layer and config; the reused layer was already there');
  t.is(await page.locator('h2:has-text("Tags") + table tbody tr').count(), 3);
  await shot(page, 'version');
  await page.getByRole('link', { name: repo, exact: true }).click();
  await page.waitForURL(`${berth.url}/ui/repositories/${repo}`);
  const versions = await page.locator('table:has(caption:has-text("Versions")) tbody tr td:nth-child(2)').allInnerTexts();
  t.deepEqual(versions, ['import', 'import', 'import', 'create']);
  t.deepEqual(await page.locator('h2:has-text("Tags") + table tbody tr td:first-child').allInnerTexts(), ['v1', 'v2', 'v3']);
  await shot(page, 'repository');
  await context.close();
});

test.serial('upload: the form streams an archive to the import endpoint with a live progress bar, then shows the report', async (t) => {
  // A 6 MiB image sent at 2 MiB/s, so the bar is seen moving.
  const image = makeImage({ layers: [randomBytes(3 * 1024 * 1024), randomBytes(3 * 1024 * 1024)] });
  const file = path.join(tmp, 'upload.tar');
  await fs.writeFile(file, await tarOf(image.entries));
  const { context, page } = await newPage();
  await signIn(page);
  await page.goto(`${berth.url}/ui/repositories/${repo}`);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 2 * 1024 * 1024 });
  await page.getByLabel('Tag (optional)').fill('uploaded');
  await page.getByLabel('Archive', { exact: true }).setInputFiles(file);
  const before = await berth.latestVersion(repo);
  await page.getByRole('button', { name: 'Upload' }).click();
  await page.waitForFunction(() => {
    const bar = document.getElementById('u-progress') as HTMLProgressElement | null;
    return bar !== null && bar.value > 5 && bar.value < 95;
  });
  t.regex(await page.locator('#u-progress-text').innerText(), /MiB of 6\.0 MiB sent/);
  await shot(page, 'upload-progress');
  await page.waitForURL(/\/ui\/imports\/[0-9a-f-]{36}$/, { timeout: 30_000 });
  t.is(await page.locator('h1').innerText(), 'Import completed');
  t.regex(await page.locator('dl.facts').innerText(), /Tag\s+uploaded/);
  t.is(await berth.latestVersion(repo), before + 1);
  t.deepEqual((await berth.api('GET', `/api/v1/repositories/${repo}/tags`)).body.tags.find((x: any) => x.name === 'uploaded'), { name: 'uploaded', digest: image.manifestDigest });
  await context.close();
});

test.serial('upload without JavaScript: the browser posts the form and lands on the report', async (t) => {
  const { context, page } = await newPage({ javaScript: false });
  await signIn(page);
  await page.goto(`${berth.url}/ui/repositories/${other}`);
  await page.getByLabel('Archive', { exact: true }).setInputFiles(path.resolve('samples/docker-archive.tar'));
  await page.getByRole('button', { name: 'Upload' }).click();
  await page.waitForURL(/\/ui\/imports\/[0-9a-f-]{36}$/);
  t.is(await page.locator('h1').innerText(), 'Import completed');
  t.regex(await page.locator('dl.facts').innerText(), /Format\s+docker-archive/);
  await context.close();
});

test.serial('CSRF: a change without the session’s CSRF token is refused with CSRF_INVALID and changes nothing', async (t) => {
  const { context, page } = await newPage();
  await signIn(page);
  await page.goto(`${berth.url}/ui/repositories/${repo}`);
  const versionBefore = await berth.latestVersion(repo);
  const answers = await page.evaluate(
    async ({ repoName }) => {
      const tar = new Blob([new Uint8Array(1024)], { type: 'application/x-tar' });
      const data = new FormData();
      data.append('file', tar, 'x.tar');
      const noToken = await fetch(`/api/v1/repositories/${repoName}/imports`, { method: 'POST', body: data });
      const wrongToken = await fetch(`/api/v1/repositories/${repoName}/imports`, { method: 'POST', body: data, headers: { 'X-CSRF-Token': 'forged' } });
      const signOut = await fetch('/ui/sign-out', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'csrf=forged' });
      return [
        { status: noToken.status, body: await noToken.json() },
        { status: wrongToken.status, body: await wrongToken.json() },
        { status: signOut.status, text: await signOut.text() },
      ];
    },
    { repoName: repo },
  );
  t.is(answers[0]!.status, 403);
  t.is(answers[0]!.body.error.code, 'CSRF_INVALID');
  t.is(answers[1]!.status, 403);
  t.is(answers[1]!.body.error.code, 'CSRF_INVALID');
  t.is(answers[2]!.status, 403);
  t.regex(answers[2]!.text!, /CSRF_INVALID/);
  t.is(await berth.latestVersion(repo), versionBefore);
  // A tampered sign-out form is refused too, and the session goes on.
  await page.locator('form.sign-out input[name="csrf"]').evaluate((input: HTMLInputElement) => {
    input.value = 'tampered';
  });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForLoadState();
  t.regex(await page.locator('main').innerText(), /CSRF_INVALID/);
  await shot(page, 'csrf-refused');
  const still = await page.goto(`${berth.url}/ui/imports`);
  t.is(still?.status(), 200);
  t.is(new URL(page.url()).pathname, '/ui/imports');
  // A sign-in form from elsewhere (no sign-in cookie) is refused as well.
  const forged = await fetch(`${berth.url}/ui/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: ADMIN_TOKEN, csrf: 'x', next: '/ui/imports' }),
  });
  t.is(forged.status, 403);
  t.is(forged.headers.get('set-cookie'), null);
  await context.close();
});

test.serial('hostile archive entry names, tags and filter values reach the page as text, never as markup', async (t) => {
  const { context, page } = await newPage();
  await signIn(page);
  await page.goto(`${berth.url}/ui/imports/${reports.hostile}`);
  t.regex(await page.locator('.failure').innerText(), /UNSUPPORTED_ARCHIVE/);
  t.true((await page.locator('.failure pre').innerText()).includes(HOSTILE_ENTRY.replace(/"/g, '\\"')));
  t.is(await page.locator('main img').count(), 0);
  await page.goto(`${berth.url}/ui/imports/${reports.badTag}`);
  t.true((await page.locator('.failure pre').innerText()).includes(HOSTILE_TAG.replace(/"/g, '\\"')));
  t.is(await page.locator('main script').count(), 0);
  await shot(page, 'report-hostile');
  await page.goto(`${berth.url}/ui/imports?repository=${encodeURIComponent(HOSTILE_TAG)}&actor=${encodeURIComponent('<b id=x>')}`);
  t.is(await page.getByLabel('Repository').inputValue(), HOSTILE_TAG);
  t.is(await page.getByLabel('Actor').inputValue(), '<b id=x>');
  t.is(await page.locator('#x').count(), 0);
  t.is(await page.evaluate(() => (window as any).__xss), undefined);
  await context.close();
});

test.serial('unknown things are 404 pages; the report of an unknown id says IMPORT_UNKNOWN', async (t) => {
  const { context, page } = await newPage();
  await signIn(page);
  const unknown = await page.goto(`${berth.url}/ui/imports/00000000-0000-4000-8000-000000000000`);
  t.is(unknown?.status(), 404);
  t.regex(await page.locator('main').innerText(), /IMPORT_UNKNOWN/);
  const noRepo = await page.goto(`${berth.url}/ui/repositories/team/nothing-here`);
  t.is(noRepo?.status(), 404);
  const noVersion = await page.goto(`${berth.url}/ui/repositories/${repo}/-/versions/999`);
  t.is(noVersion?.status(), 404);
  t.regex(await page.locator('main').innerText(), /VERSION_UNKNOWN/);
  await context.close();
});

test.serial('tokens: an admin makes one (secret shown once) and revokes it; a scoped token sees only what it may pull', async (t) => {
  const admin = await newPage();
  await signIn(admin.page);
  await admin.page.getByRole('link', { name: 'Tokens' }).click();
  await admin.page.waitForURL(`${berth.url}/ui/tokens`);
  await admin.page.getByLabel('Name').fill('bad-scope');
  await admin.page.getByLabel('Scopes').fill('team/* fly');
  await admin.page.getByRole('button', { name: 'Make token' }).click();
  await admin.page.waitForLoadState();
  t.regex(await admin.page.getByRole('alert').innerText(), /BODY_INVALID .*unknown action/);
  t.is(await admin.page.getByLabel('Scopes').inputValue(), 'team/* fly', 'the form keeps what was typed');
  await admin.page.getByLabel('Name').fill('viewer');
  await admin.page.getByLabel('Scopes').fill(`${other} pull`);
  await admin.page.getByRole('button', { name: 'Make token' }).click();
  await admin.page.waitForLoadState();
  const secret = await admin.page.locator('#secret').innerText();
  t.regex(secret, /^berth_[A-Za-z0-9_-]{43}$/);
  t.is(new URL(admin.page.url()).pathname, '/ui/tokens');
  await shot(admin.page, 'tokens-created');
  await admin.page.goto(`${berth.url}/ui/tokens`);
  t.false((await admin.page.content()).includes(secret), 'the secret is shown once');
  t.regex(await admin.page.locator('main table tbody').innerText(), new RegExp(`viewer\\s+${other.replace('/', '\\/')} pull`));
  await shot(admin.page, 'tokens');

  const viewer = await newPage();
  await signIn(viewer.page, secret);
  t.regex(await viewer.page.locator('header').innerText(), /Signed in as viewer/);
  t.is(await viewer.page.getByRole('link', { name: 'Tokens' }).count(), 0);
  const repos = await viewer.page.locator('table.imports tbody tr td:nth-child(2)').allInnerTexts();
  t.true(repos.length >= 1);
  for (const name of repos) t.is(name, other);
  t.is(await viewer.page.locator('svg.chart rect.bar-failed title').count(), 0, 'the chart counts only what the token may pull');
  await viewer.page.goto(`${berth.url}/ui/repositories`);
  t.deepEqual(await viewer.page.locator('main table tbody tr td:first-child').allInnerTexts(), [other]);
  const hidden = await viewer.page.goto(`${berth.url}/ui/imports/${reports.reused}`);
  t.is(hidden?.status(), 404);
  t.regex(await viewer.page.locator('main').innerText(), /IMPORT_UNKNOWN/);
  t.false((await viewer.page.locator('main').innerText()).includes(repo));
  t.is((await viewer.page.goto(`${berth.url}/ui/repositories/${repo}`))?.status(), 404);
  t.is((await viewer.page.goto(`${berth.url}/ui/repositories/${repo}/-/versions/1`))?.status(), 404);
  t.is((await viewer.page.goto(`${berth.url}/ui/imports?repository=${repo}`))?.status(), 200);
  t.is(await rowsOf(viewer.page).count(), 0);
  await viewer.page.goto(`${berth.url}/ui/repositories/${other}`);
  t.is(await viewer.page.locator('form#upload').count(), 0, 'pull only: no upload form');
  t.is((await viewer.page.goto(`${berth.url}/ui/tokens`))?.status(), 403);

  // Revoked: the viewer's session ends at its next request.
  await admin.page.getByRole('button', { name: 'Revoke viewer' }).click();
  await admin.page.waitForURL(`${berth.url}/ui/tokens`);
  t.regex(await admin.page.locator('main table tbody').innerText(), /revoked/);
  await viewer.page.goto(`${berth.url}/ui/repositories/${other}`);
  t.regex(viewer.page.url(), /\/ui\/sign-in\?next=/);
  await admin.context.close();
  await viewer.context.close();
});

test.serial('phone (390 px): no page scrolls sideways; every page has no serious axe-core violation', async (t) => {
  const pages = [
    ['imports', '/ui/imports'],
    ['report-completed', `/ui/imports/${reports.reused}`],
    ['report-failed', `/ui/imports/${reports.missing}`],
    ['repositories', '/ui/repositories'],
    ['repository', `/ui/repositories/${repo}`],
    ['version', `/ui/repositories/${repo}/-/versions/3`],
    ['tokens', '/ui/tokens'],
  ] as const;
  for (const width of [390, 1600]) {
    const { context, page } = await newPage({ width });
    await signIn(page);
    for (const [name, url] of pages) {
      await page.goto(`${berth.url}${url}`);
      const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
      t.true(scroll <= width, `${name} at ${width}px is ${scroll}px wide`);
      await shot(page, `${name}-${width}px`);
      t.deepEqual(await axeViolations(page), [], `${name} at ${width}px`);
    }
    await context.close();
  }
  const { context, page } = await newPage({ width: 390 });
  await page.goto(`${berth.url}/ui/sign-in`);
  t.deepEqual(await axeViolations(page), [], 'sign-in');
  t.true((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390);
  await context.close();
});

test.serial('keyboard: sign in, filter and open a report without a mouse', async (t) => {
  const { context, page } = await newPage();
  await page.goto(`${berth.url}/ui/sign-in`);
  await page.keyboard.press('Tab');
  t.is(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await page.keyboard.press('Tab');
  t.is(await page.evaluate(() => document.activeElement?.textContent), 'Berth');
  await page.keyboard.press('Tab');
  t.is(await page.evaluate(() => document.activeElement?.id), 'token');
  await page.keyboard.type(ADMIN_TOKEN);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/ui\/imports$/);
  await page.getByLabel('Status').focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  t.is(await page.getByLabel('Status').inputValue(), 'failed');
  // On to the Filter button past format, actor and the date fields (each date part is a stop).
  let tabs = 0;
  while ((await page.evaluate(() => document.activeElement?.textContent)) !== 'Filter' && tabs++ < 20) await page.keyboard.press('Tab');
  t.true(tabs < 20);
  await page.keyboard.press('Enter');
  await page.waitForURL(/status=failed/);
  t.is(await rowsOf(page).count(), 3);
  await rowsOf(page).first().locator('a').first().focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/ui\/imports\/[0-9a-f-]{36}$/);
  t.is(await page.locator('h1').innerText(), 'Import failed');
  await context.close();
});
