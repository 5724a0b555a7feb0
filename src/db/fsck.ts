// Queries for fsck (services/fsck.ts): blob rows page by page, what references them, and rows that
// point at nothing.
import type { Q } from './common.js';

/** Blob rows after `after` (by digest), at most `limit`. */
export async function pageBlobRows(q: Q, after: string, limit: number): Promise<Array<{ digest: string; size: number }>> {
  const rows: Array<{ digest: string; size: number | string }> = await q('blobs').where('digest', '>', after).orderBy('digest').select('digest', 'size').limit(limit);
  return rows.map((r) => ({ digest: r.digest, size: Number(r.size) }));
}

/** For each of `digests` referenced by a version (any repository, any version) or held, who refers to it. */
export async function referrersOf(q: Q, digests: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const add = (digest: string, who: string) => out.set(digest, [...(out.get(digest) ?? []), who]);
  for (let i = 0; i < digests.length; i += 500) {
    const chunk = digests.slice(i, i + 500);
    const content: Array<{ digest: string; name: string; version_added: number; version_removed: number | null }> = await q('repository_content as c')
      .join('repositories as r', 'r.id', 'c.repository_id')
      .whereIn('c.digest', chunk)
      .select('c.digest', 'r.name', 'c.version_added', 'c.version_removed');
    for (const c of content) add(c.digest, `${c.name} versions ${c.version_added}..${c.version_removed === null ? 'latest' : c.version_removed - 1}`);
    const held: Array<{ digest: string; name: string }> = await q('held_blobs as h').join('repositories as r', 'r.id', 'h.repository_id').whereIn('h.digest', chunk).select('h.digest', 'r.name');
    for (const h of held) add(h.digest, `${h.name} (held)`);
  }
  return out;
}

/** Content rows and open tags whose digest has no blob row (a row pointing at nothing). */
export async function danglingRows(q: Q): Promise<Array<{ repository: string; what: string; digest: string }>> {
  const content: Array<{ name: string; digest: string; kind: string }> = await q('repository_content as c')
    .join('repositories as r', 'r.id', 'c.repository_id')
    .whereNotExists((w) => w.select(q.raw('1')).from('blobs as b').whereRaw('b.digest = c.digest'))
    .select('r.name', 'c.digest', 'c.kind')
    .limit(1000);
  const tags: Array<{ name: string; tag: string; digest: string }> = await q('repository_tags as t')
    .join('repositories as r', 'r.id', 't.repository_id')
    .whereNull('t.version_removed')
    .whereNotExists((w) => w.select(q.raw('1')).from('blobs as b').whereRaw('b.digest = t.digest'))
    .select('r.name', 't.name as tag', 't.digest')
    .limit(1000);
  return [
    ...content.map((c) => ({ repository: c.name, what: c.kind, digest: c.digest })),
    ...tags.map((t) => ({ repository: t.name, what: `tag ${t.tag}`, digest: t.digest })),
  ];
}

/** Imports still `running`, with the instance that runs them. */
export async function runningImports(q: Q): Promise<Array<{ id: string; instance_id: string | null }>> {
  return q('imports').where({ status: 'running' }).select('id', 'instance_id');
}
