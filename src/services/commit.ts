// The one writer of repository versions. Every change to a repository — an import, a push, a tag
// set or removed, a manifest deleted — is a call to commitVersion: under the repository lock it
// decides ownership (every digest the change adds without carrying its bytes must be held by the
// repository: services/ownership.ts), applies the no-op rule (nothing added, moved or removed → no
// version), moves staged bytes into the blob store under the blob-store lock, and writes version,
// content, tags and the caller's report in one transaction.
import type { ReceivedBlob } from '../archive/sink.js';
import type { StagingArea } from '../blobs/store.js';
import type { Digest } from '../core/digest.js';
import type { ParsedManifest } from '../core/manifest.js';
import type { Tag } from '../core/names.js';
import * as blobRowsDb from '../db/blobs.js';
import { now } from '../db/common.js';
import type { Db, Tx } from '../db/connect.js';
import * as heldDb from '../db/held-blobs.js';
import * as reposDb from '../db/repositories.js';
import type { RepositoryRow, VersionRow } from '../db/rows.js';
import * as tagsDb from '../db/tags.js';
import * as versionsDb from '../db/versions.js';
import { BerthError } from '../errors.js';
import type { Services } from './deps.js';
import { type Holding, holdings } from './ownership.js';

export type VersionKind = Exclude<VersionRow['kind'], 'create'>;

/** A manifest or blob the new version holds. */
export interface ContentToAdd {
  digest: Digest;
  kind: 'manifest' | 'blob';
  mediaType: string | null;
  /** bytes staged by this request; absent when the repository must hold the digest already */
  staged?: ReceivedBlob;
  /** for manifests: what the referrers listing reports */
  subject?: Digest;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** A tag pointed at a manifest, or removed (`digest: null`, the tag must exist). */
export interface TagMove {
  tag: Tag;
  digest: Digest | null;
}

export interface CommitRequest {
  repository: { id: number; name: string };
  kind: VersionKind;
  /** the name of the token that made the change */
  actor: string;
  /** the import or push report this change belongs to (null for a tag change) */
  reportId: string | null;
  add?: ContentToAdd[];
  /** manifests the new version no longer holds; the tags that point at them go with them */
  removeManifests?: Digest[];
  tags?: TagMove[];
  /** where the staged bytes wait: made durable there first, then moved into the store under the blob-store lock */
  staging?: Pick<StagingArea, 'prepare' | 'moveIn'>;
  /** the error for digests added without bytes that the repository does not hold */
  missing?: (digests: string[]) => BerthError;
  /** writes the caller's report inside the same transaction, once the outcome is known */
  finish?: (tx: Tx, outcome: CommitOutcome) => Promise<void>;
}

export interface CommitOutcome {
  repository: string;
  /** the new version, or the latest one when nothing changed */
  version: number;
  newVersion: boolean;
  /** the tags that moved or went, as applied */
  tagChanges: TagMove[];
  /** what the repository held before the change, of the digests the change names */
  held: ReadonlyMap<string, Holding>;
}

const defaultMissing = (digests: string[]) =>
  new BerthError('BLOB_UNKNOWN', 'the change names blobs that the repository does not hold', { missing: digests });

/**
 * Writes one repository version (or none, by the no-op rule) and returns what it did. The staged
 * bytes are made durable in staging first, without any lock; then the change joins the group
 * committer (below), which decides ownership under the repository lock and commits it, alone or with
 * the changes that arrived meanwhile, each with its own version and its own outcome.
 */
export async function commitVersion(s: Pick<Services, 'db'>, req: CommitRequest): Promise<CommitOutcome> {
  const change: Change = { req, add: dedupe(req.add ?? []), removals: [...new Set(req.removeManifests ?? [])], tags: req.tags ?? [], retried: false };
  const staged = change.add.flatMap((a) => (a.staged ? [a.staged] : []));
  if (staged.length > 0) await req.staging!.prepare(staged);
  return committerOf(s.db).submit(change);
}

interface Change {
  req: CommitRequest;
  add: ContentToAdd[];
  removals: Digest[];
  tags: TagMove[];
  /** already sent back once because another change broke the group it was in */
  retried: boolean;
}

interface Waiting {
  change: Change;
  resolve: (outcome: CommitOutcome) => void;
  reject: (err: unknown) => void;
}

/** At most this many changes share one transaction. */
const MAX_GROUP = 64;

const committers = new WeakMap<Db, GroupCommitter>();

function committerOf(db: Db): GroupCommitter {
  let committer = committers.get(db);
  if (!committer) committers.set(db, (committer = new GroupCommitter(db)));
  return committer;
}

/**
 * Group commit. One transaction at a time per process: a change that arrives while one runs waits
 * and joins the next, with every other change that arrived meanwhile, so that N concurrent commits
 * cost one database commit (one WAL fsync) and one round of folder fsyncs instead of N. Each change
 * still stands alone: it runs in a savepoint of its own (when the group has more than one), so a
 * change refused by its checks (BLOB_UNKNOWN, TAG_UNKNOWN, …) is rolled back alone and the others
 * commit; its caller gets its own error. An error that may have broken the transaction itself (a
 * database or driver error) fails the change that raised it and sends the others, once, to the next
 * group. The repositories of a group are locked first, in id order, then the blob-store lock, so
 * groups of several processes (PostgreSQL) take their locks in one order. The transaction commits
 * only once every blob its changes moved into the store, and every folder they entered, is fsynced:
 * after the commit returns, the versions and their blobs survive a power cut.
 */
class GroupCommitter {
  private readonly queue: Waiting[] = [];
  private running = false;

  constructor(private readonly db: Db) {}

  submit(change: Change): Promise<CommitOutcome> {
    return new Promise<CommitOutcome>((resolve, reject) => {
      this.queue.push({ change, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) await this.run(this.queue.splice(0, MAX_GROUP));
    } finally {
      this.running = false;
    }
  }

  private async run(group: Waiting[]): Promise<void> {
    // Array.prototype.sort is stable: changes to one repository keep their order of arrival.
    const ordered = [...group].sort((a, b) => a.change.req.repository.id - b.change.req.repository.id);
    const results = new Map<Waiting, { outcome: CommitOutcome } | { err: unknown }>();
    /** the changes that broke the transaction (their own error); the others did not */
    const broke = new Map<Waiting, unknown>();
    try {
      await this.db.transaction(async (tx) => {
        const durable = new Map<Waiting, Array<Promise<void>>>();
        for (const w of ordered) {
          const mine: Array<Promise<void>> = [];
          try {
            // alone, the change needs no savepoint: its failure rolls the whole transaction back
            const outcome = ordered.length === 1 ? await apply(tx, w.change, mine) : await this.applyInSavepoint(tx, w, ordered, mine);
            results.set(w, { outcome });
            durable.set(w, mine);
          } catch (err) {
            if (ordered.length > 1 && refusal(err)) {
              results.set(w, { err });
              continue;
            }
            broke.set(w, err);
            throw err;
          }
        }
        // Every stored blob and the folder it entered reach the disk before the versions that name them.
        const settled = await Promise.all([...durable].map(async ([w, mine]) => ({ w, outcome: await Promise.allSettled(mine) })));
        for (const { w, outcome } of settled) {
          const failed = outcome.find((o) => o.status === 'rejected');
          if (failed) broke.set(w, failed.reason);
        }
        if (broke.size > 0) throw broke.values().next().value;
      });
    } catch (err) {
      // Nothing of this group committed. The changes that broke it get their own error; the others
      // go once more, at the head of the queue (a second failure is theirs to see).
      const again: Waiting[] = [];
      for (const w of group) {
        const own = results.get(w);
        if (broke.has(w)) w.reject(broke.get(w));
        else if (own && 'err' in own) w.reject(own.err);
        else if (broke.size === 0 || w.change.retried) w.reject(err);
        else {
          w.change.retried = true;
          again.push(w);
        }
      }
      this.queue.unshift(...again);
      return;
    }
    for (const w of group) {
      const r = results.get(w)!;
      if ('outcome' in r) w.resolve(r.outcome);
      else w.reject(r.err);
    }
  }

  private applyInSavepoint(tx: Tx, w: Waiting, ordered: Waiting[], durable: Array<Promise<void>>): Promise<CommitOutcome> {
    return (async () => {
      if (w === ordered[0]) {
        // The group's locks first, in one order: its repositories by id, then the blob-store lock.
        for (const id of new Set(ordered.map((o) => o.change.req.repository.id))) await reposDb.lockRepository(tx, id);
        if (ordered.some((o) => o.change.add.some((a) => a.staged))) await blobRowsDb.lockBlobStoreShared(tx);
      }
      return tx.transaction((sp) => apply(sp, w.change, durable));
    })();
  }
}

/** A change's own refusal, thrown before its statements could harm the transaction: only its savepoint rolls back. */
function refusal(err: unknown): boolean {
  return err instanceof BerthError && err.code !== 'DATABASE_UNAVAILABLE' && err.code !== 'INTERNAL';
}

/** One change, in the transaction (or savepoint) `tx`: what commitVersion did alone before group commit. */
async function apply(tx: Tx, change: Change, durable: Array<Promise<void>>): Promise<CommitOutcome> {
  const { req, add, removals, tags } = change;
  const repo = await reposDb.lockRepository(tx, req.repository.id);
  if (!repo) throw new BerthError('NAME_UNKNOWN', 'repository was deleted during the change', { name: req.repository.name });
  const latest = repo.latest_version;

  // Ownership is decided here, under the repository lock and before anything moves into the store.
  const targets = tags.flatMap((t) => (t.digest === null ? [] : [t.digest]));
  const held = await holdings(tx, repo, [...add.map((a) => a.digest), ...targets, ...removals]);
  const missing = add.filter((a) => !a.staged && !held.has(a.digest)).map((a) => a.digest);
  if (missing.length > 0) throw (req.missing ?? defaultMissing)(missing);
  for (const digest of removals) {
    const h = held.get(digest);
    if (h?.kind !== 'manifest' || !h.inVersion) throw manifestUnknown(digest);
  }
  const manifestsAfter = new Set([
    ...add.filter((a) => a.kind === 'manifest').map((a) => a.digest as string),
    ...[...held.values()].filter((h) => h.kind === 'manifest' && h.inVersion && !removals.includes(h.digest as Digest)).map((h) => h.digest),
  ]);
  for (const digest of targets) if (!manifestsAfter.has(digest)) throw manifestUnknown(digest);

  // Staged bytes move into the store under the blob-store lock, so orphan cleanup never sees a
  // stored blob whose rows are not yet written (neither can it see the rows before the commit). The
  // renames and their folders' fsyncs run while the rows are written; the commit waits for them.
  const staged = add.flatMap((a) => (a.staged ? [a.staged] : []));
  if (staged.length > 0) {
    await blobRowsDb.lockBlobStoreShared(tx);
    // a digest the repository holds was stored by a commit that waited for its folder's fsync
    const stored = req.staging!.moveIn(staged, (digest) => held.has(digest)).then((moved) => moved.durable);
    stored.catch(() => undefined); // awaited before the commit; never unhandled meanwhile
    durable.push(stored);
    // a digest the repository holds has its blob row already (holdings joins it), kept by the locks held
    const rowless = staged.filter((b) => !held.has(b.digest));
    await blobRowsDb.insertBlobs(tx, rowless.map((b) => ({ digest: b.digest, size: b.size })));
  }

  const toAdd = add.filter((a) => !held.get(a.digest)?.inVersion);
  const open = new Set<string>();
  const tagChanges = await changedTags(tx, repo, tags, open);
  const removedTags = removals.length > 0 ? await tagsDb.tagsPointingAt(tx, repo.id, latest, removals) : [];
  for (const t of removedTags) {
    open.add(t.name);
    if (!tagChanges.some((c) => c.tag === t.name)) tagChanges.push({ tag: t.name as Tag, digest: null });
  }

  let version = latest;
  const newVersion = toAdd.length > 0 || tagChanges.length > 0 || removals.length > 0;
  if (newVersion) {
    version = latest + 1;
    const at = now();
    await versionsDb.insertVersion(tx, { repository_id: repo.id, number: version, kind: req.kind, import_id: req.reportId, actor: req.actor, created_at: at });
    await reposDb.setLatestVersion(tx, repo.id, version, at);
    await versionsDb.insertContent(
      tx,
      repo.id,
      version,
      toAdd.map((a) => ({
        digest: a.digest,
        kind: a.kind,
        media_type: a.mediaType,
        subject: a.subject ?? null,
        artifact_type: a.artifactType ?? null,
        annotations: a.annotations ? JSON.stringify(a.annotations) : null,
      })),
    );
    await versionsDb.removeContent(tx, repo.id, version, removals);
    for (const t of tagChanges) await tagsDb.setTag(tx, repo.id, version, t.tag, t.digest, open.has(t.tag));
    // Held blobs that entered the version are held by it from now on.
    const released = toAdd.filter((a) => held.has(a.digest)).map((a) => a.digest);
    if (released.length > 0) await heldDb.releaseBlobs(tx, repo.id, released);
  }
  const outcome: CommitOutcome = { repository: repo.name, version, newVersion, tagChanges, held };
  await req.finish?.(tx, outcome);
  return outcome;
}

/**
 * Keeps blobs for a repository outside its versions (a pushed or mounted blob, a blob that arrived
 * whole in an import that then failed): staged bytes move into the store under the blob-store lock and
 * the repository holds each digest until `BERTH_UPLOAD_TTL_SECONDS` from now (services/ownership.ts).
 * Makes no version. Blobs without `staged` bytes must already be in the store (a mount).
 */
export async function holdBlobs(
  s: Pick<Services, 'db' | 'config'>,
  req: {
    repository: { id: number; name: string };
    blobs: Array<{ digest: Digest; size: number; staged?: ReceivedBlob }>;
    source: 'upload' | 'mount' | 'import';
    staging?: Pick<StagingArea, 'commit'>;
  },
): Promise<void> {
  if (req.blobs.length === 0) return;
  await s.db.transaction(async (tx) => {
    if (!(await reposDb.lockRepository(tx, req.repository.id))) {
      throw new BerthError('NAME_UNKNOWN', 'repository was deleted during the change', { name: req.repository.name });
    }
    await blobRowsDb.lockBlobStoreShared(tx);
    for (const b of req.blobs) if (b.staged) await req.staging!.commit(b.staged);
    await blobRowsDb.insertBlobs(tx, req.blobs.map((b) => ({ digest: b.digest, size: b.size })));
    const at = new Date();
    const expires = new Date(at.getTime() + s.config.uploadTtlSeconds * 1000).toISOString();
    await heldDb.holdBlobs(tx, req.blobs.map((b) => ({ digest: b.digest, source: req.source, held_at: at.toISOString(), expires_at: expires })), req.repository.id);
  });
}

/** Writes a new repository's version 0, the empty one: the only version not made by commitVersion. */
export async function writeInitialVersion(tx: Tx, repo: RepositoryRow, actor: string): Promise<void> {
  await versionsDb.insertVersion(tx, { repository_id: repo.id, number: 0, kind: 'create', import_id: null, actor, created_at: repo.created_at });
}

/** What a parsed manifest tells the referrers listing, as ContentToAdd fields. */
export function referrerFields(parsed: ParsedManifest): Pick<ContentToAdd, 'subject' | 'artifactType' | 'annotations'> {
  return {
    ...(parsed.subject ? { subject: parsed.subject.digest } : {}),
    ...(parsed.artifactType !== undefined ? { artifactType: parsed.artifactType } : {}),
    ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
  };
}

function dedupe(add: ContentToAdd[]): ContentToAdd[] {
  const byDigest = new Map<string, ContentToAdd>();
  for (const a of add) {
    const seen = byDigest.get(a.digest);
    if (!seen || (!seen.staged && a.staged)) byDigest.set(a.digest, seen && !seen.staged && a.staged ? { ...seen, staged: a.staged } : a);
  }
  return [...byDigest.values()];
}

/**
 * The tag moves that change something; removing a tag the repository does not have is TAG_UNKNOWN.
 * The names that have an open row now are added to `open`.
 */
async function changedTags(tx: Tx, repo: RepositoryRow, tags: TagMove[], open: Set<string>): Promise<TagMove[]> {
  const changes: TagMove[] = [];
  for (const t of tags) {
    const current = await tagsDb.findTag(tx, repo.id, 'latest', t.tag);
    if (current) open.add(t.tag);
    if (t.digest === null && !current) throw new BerthError('TAG_UNKNOWN', 'repository has no such tag', { tag: t.tag });
    if (current?.digest !== (t.digest ?? undefined)) changes.push(t);
  }
  return changes;
}

function manifestUnknown(digest: string): BerthError {
  return new BerthError('MANIFEST_UNKNOWN', 'the repository holds no manifest with this digest', { digest });
}
