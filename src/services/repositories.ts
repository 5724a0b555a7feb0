// Repositories, their versions and their tags. Each change is one transaction and one new version.
import { type Digest, parseDigest } from '../core/digest.js';
import type { NameFilter } from '../core/policy.js';
import { parseNewRepositoryName, parseRepositoryName, parseTag } from '../core/names.js';
import { now } from '../db/common.js';
import * as reposDb from '../db/repositories.js';
import * as tagsDb from '../db/tags.js';
import * as versionsDb from '../db/versions.js';
import type { RepositoryRow, TagRow } from '../db/rows.js';
import { BerthError } from '../errors.js';
import { commitVersion, writeInitialVersion } from './commit.js';
import { holdings } from './ownership.js';
import type { Services } from './deps.js';

export interface RepositoryView {
  name: string;
  latest_version: number;
  created_at: string;
  updated_at: string;
}

export function repositoryView(row: RepositoryRow): RepositoryView {
  return { name: row.name, latest_version: row.latest_version, created_at: row.created_at, updated_at: row.updated_at };
}

export async function getRepositoryRow(s: Pick<Services, 'db'>, rawName: string): Promise<RepositoryRow> {
  const name = parseRepositoryName(rawName);
  const row = await reposDb.findRepository(s.db, name);
  if (!row) throw new BerthError('NAME_UNKNOWN', 'repository not found', { name });
  return row;
}

export async function createRepository(s: Services, rawName: unknown, actor: string): Promise<RepositoryView> {
  const name = parseNewRepositoryName(rawName);
  return s.db.transaction(async (tx) => {
    if (await reposDb.findRepository(tx, name)) throw new BerthError('REPOSITORY_EXISTS', 'repository already exists', { name });
    try {
      const row = await reposDb.insertRepository(tx, name, now());
      await writeInitialVersion(tx, row, actor);
      return repositoryView(row);
    } catch (err) {
      // Another process created it between our check and insert.
      if (/unique|duplicate/i.test(String((err as Error).message))) {
        throw new BerthError('REPOSITORY_EXISTS', 'repository already exists', { name });
      }
      throw err;
    }
  });
}

/**
 * The repository a push goes to; one that does not exist is created (the caller's token may push to
 * that name, which the route has checked), as registries do: `docker push` has no create step. An
 * import asked to create its repository (`?create=true`, `berth push --create`) comes here too.
 */
export async function pushTarget(s: Services, rawName: string, actor: string): Promise<RepositoryRow> {
  try {
    return await getRepositoryRow(s, rawName);
  } catch (err) {
    if (!(err instanceof BerthError) || err.code !== 'NAME_UNKNOWN') throw err;
  }
  try {
    await createRepository(s, rawName, actor);
  } catch (err) {
    if (!(err instanceof BerthError) || err.code !== 'REPOSITORY_EXISTS') throw err;
  }
  return getRepositoryRow(s, rawName);
}

/** Repositories by name, of those `opts.visible` lets through (what the caller may pull). */
export async function listRepositories(s: Services, opts: { limit: number; after?: string; visible: NameFilter }): Promise<RepositoryView[]> {
  return (await reposDb.listRepositories(s.db, opts)).map(repositoryView);
}

export async function deleteRepository(s: Services, rawName: string): Promise<void> {
  const row = await getRepositoryRow(s, rawName);
  await s.db.transaction(async (tx) => {
    await reposDb.lockRepository(tx, row.id);
    await reposDb.deleteRepository(tx, row.id);
  });
}

export interface VersionSummary {
  number: number;
  kind: string;
  import_id: string | null;
  /** the name of the token that made it (null for versions made before actors were kept) */
  actor: string | null;
  created_at: string;
}

/** Versions newest first: `offset` in (the API), or those numbered below `before` (keyset, the web page). */
export async function listVersions(s: Services, rawName: string, opts: { limit: number; offset?: number; before?: number }): Promise<VersionSummary[]> {
  const repo = await getRepositoryRow(s, rawName);
  const rows = await versionsDb.listVersions(s.db, repo.id, opts);
  return rows.map((r) => ({ number: r.number, kind: r.kind, import_id: r.import_id, actor: r.actor, created_at: r.created_at }));
}

interface ContentView {
  digest: string;
  media_type: string | null;
  size: number;
}

/** The three lists of a version that come in pages. */
export const VERSION_PARTS = ['tags', 'manifests', 'blobs'] as const;
export type VersionPart = (typeof VERSION_PARTS)[number];

/** One page of a version's part, and the path of the next page (null on the last). */
export interface PartPage<T> {
  items: T[];
  next: string | null;
}

export interface VersionView extends VersionSummary {
  repository: string;
  /** the first page of each list; `next` names the rest (GET …/versions/{number}/{tags|manifests|blobs}) */
  tags: Array<{ name: string; digest: string }>;
  manifests: ContentView[];
  blobs: ContentView[];
  next: Record<VersionPart, string | null>;
  added: { tags: Array<{ name: string; digest: string }>; manifests: ContentView[]; blobs: ContentView[] };
  removed: { tags: Array<{ name: string; digest: string }>; manifests: ContentView[]; blobs: ContentView[] };
}

const tagView = (t: Pick<TagRow, 'name' | 'digest'>) => ({ name: t.name, digest: t.digest });
const contentView = (c: { digest: string; media_type: string | null; size: number }): ContentView => ({
  digest: c.digest,
  media_type: c.media_type,
  size: c.size,
});

async function findVersionOf(s: Services, rawName: string, number: number) {
  const repo = await getRepositoryRow(s, rawName);
  const version = await versionsDb.findVersion(s.db, repo.id, number);
  if (!version) throw new BerthError('VERSION_UNKNOWN', 'repository has no such version', { name: repo.name, version: number });
  return { repo, version };
}

type TagView = { name: string; digest: string };

/** A page cursor: a tag name, or the row id of the last manifest or blob of the page before. */
function readCursor(part: VersionPart, after: string | undefined): string | number | undefined {
  if (after === undefined || part === 'tags') return after;
  if (!/^\d{1,15}$/.test(after)) throw new BerthError('BODY_INVALID', 'after must be the cursor a next link gave', { parameter: 'after' });
  return Number(after);
}

async function partPage(
  s: Services,
  repo: RepositoryRow,
  number: number,
  part: VersionPart,
  page: { limit: number; after?: string },
): Promise<PartPage<TagView | ContentView>> {
  const after = readCursor(part, page.after);
  const fetch = page.limit + 1;
  let items: Array<TagView | ContentView>;
  let last: string | undefined;
  if (part === 'tags') {
    const rows = await tagsDb.listTagPage(s.db, repo.id, number, { limit: fetch, ...(after !== undefined ? { after: String(after) } : {}) });
    items = rows.slice(0, page.limit).map(tagView);
    last = rows.length > page.limit ? rows[page.limit - 1]!.name : undefined;
  } else {
    const kind = part === 'manifests' ? 'manifest' : 'blob';
    const rows = await versionsDb.listContentPage(s.db, repo.id, number, kind, { limit: fetch, ...(after !== undefined ? { after: Number(after) } : {}) });
    items = rows.slice(0, page.limit).map(contentView);
    last = rows.length > page.limit ? String(rows[page.limit - 1]!.id) : undefined;
  }
  const path = `/api/v1/repositories/${repo.name}/versions/${number}/${part}`;
  return { items, next: last === undefined ? null : `${path}?limit=${page.limit}&after=${encodeURIComponent(last)}` };
}

/**
 * One version: a page (`limit`) of its tags, manifests and blobs with links to the rest — the first
 * page of each, or the one after `after[part]` (a cursor from a next link) — and the whole of what it
 * added and removed against the version before. Its cost does not grow with the repository: each
 * list is read through an index for one page only.
 */
export async function getVersion(
  s: Services,
  rawName: string,
  number: number,
  limit = 100,
  after: Partial<Record<VersionPart, string>> = {},
): Promise<VersionView> {
  const { repo, version } = await findVersionOf(s, rawName, number);
  const pageOf = (part: VersionPart) => ({ limit, ...(after[part] !== undefined ? { after: after[part] } : {}) });
  const [tags, manifests, blobs, contentDiff, tagDiff] = await Promise.all([
    partPage(s, repo, number, 'tags', pageOf('tags')),
    partPage(s, repo, number, 'manifests', pageOf('manifests')),
    partPage(s, repo, number, 'blobs', pageOf('blobs')),
    versionsDb.contentChanges(s.db, repo.id, number),
    tagsDb.tagChanges(s.db, repo.id, number),
  ]);
  const split = (rows: Array<{ kind: string; digest: string; media_type: string | null; size: number }>) => ({
    manifests: rows.filter((c) => c.kind === 'manifest').map(contentView),
    blobs: rows.filter((c) => c.kind === 'blob').map(contentView),
  });
  return {
    repository: repo.name,
    number: version.number,
    kind: version.kind,
    import_id: version.import_id,
    actor: version.actor,
    created_at: version.created_at,
    tags: tags.items as TagView[],
    manifests: manifests.items as ContentView[],
    blobs: blobs.items as ContentView[],
    next: { tags: tags.next, manifests: manifests.next, blobs: blobs.next },
    added: { tags: tagDiff.added.map(tagView), ...split(contentDiff.added) },
    removed: { tags: tagDiff.removed.map(tagView), ...split(contentDiff.removed) },
  };
}

/** A further page of one of a version's lists (tags by name in byte order, manifests or blobs in the order added). */
export async function getVersionPart(
  s: Services,
  rawName: string,
  number: number,
  part: VersionPart,
  page: { limit: number; after?: string },
): Promise<PartPage<TagView | ContentView>> {
  const { repo } = await findVersionOf(s, rawName, number);
  return partPage(s, repo, number, part, page);
}

export async function listTags(s: Services, rawName: string): Promise<Array<{ name: string; digest: string }>> {
  const repo = await getRepositoryRow(s, rawName);
  return (await tagsDb.listTags(s.db, repo.id, 'latest')).map(tagView);
}

export interface TagChange {
  name: string;
  digest: Digest | null;
  version: number;
  new_version: boolean;
}

/** Points `tag` at a manifest the repository's latest version holds; one new version unless nothing changes. */
export async function putTag(s: Services, rawName: string, rawTag: string, rawDigest: unknown, actor: string): Promise<TagChange> {
  const tag = parseTag(rawTag);
  const digest = parseDigest(rawDigest);
  const repo = await getRepositoryRow(s, rawName);
  const outcome = await commitVersion(s, { repository: repo, kind: 'tag', actor, reportId: null, tags: [{ tag, digest }] });
  return { name: tag, digest, version: outcome.version, new_version: outcome.newVersion };
}

/** Removes `tag` from the repository: one new version (TAG_UNKNOWN when there is no such tag). */
export async function deleteTag(s: Services, rawName: string, rawTag: string, actor: string): Promise<TagChange> {
  const tag = parseTag(rawTag);
  const repo = await getRepositoryRow(s, rawName);
  const outcome = await commitVersion(s, { repository: repo, kind: 'untag', actor, reportId: null, tags: [{ tag, digest: null }] });
  return { name: tag, digest: null, version: outcome.version, new_version: outcome.newVersion };
}

/** The answer to a preflight: which of the asked digests the repository holds, and which it lacks. */
export interface Preflight {
  repository: string;
  held: Array<{ digest: string; size: number }>;
  missing: string[];
}

/** At most this many digests per preflight (an image with a thousand layers is far beyond any real one). */
export const MAX_PREFLIGHT_DIGESTS = 10_000;

/**
 * Which of `rawDigests` the repository holds by the one ownership rule (services/ownership.ts): what
 * an import into it may leave out. A client asks before it builds its upload.
 */
export async function preflight(s: Pick<Services, 'db'>, rawName: string, rawDigests: unknown): Promise<Preflight> {
  if (!Array.isArray(rawDigests)) throw new BerthError('BODY_INVALID', 'digests must be a list of sha256 digests', null);
  if (rawDigests.length > MAX_PREFLIGHT_DIGESTS) {
    throw new BerthError('BODY_INVALID', `at most ${MAX_PREFLIGHT_DIGESTS} digests per preflight`, { limit: MAX_PREFLIGHT_DIGESTS });
  }
  const digests = [...new Set(rawDigests.map((d) => parseDigest(d)))];
  const repo = await getRepositoryRow(s, rawName);
  const held = await holdings(s.db, repo, digests);
  return {
    repository: repo.name,
    held: digests.flatMap((d) => {
      const h = held.get(d);
      return h ? [{ digest: d, size: h.size }] : [];
    }),
    missing: digests.filter((d) => !held.has(d)),
  };
}
