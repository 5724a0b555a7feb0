// `berth reports` and `berth report <id>`: import and push reports as a table for people, JSON for machines.
import type { ImportReport } from './client.js';
import { bytes } from './output.js';

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function reportsTable(reports: ImportReport[]): string {
  if (reports.length === 0) return 'no reports';
  return table(
    ['ID', 'REPOSITORY', 'STATUS', 'FORMAT', 'TAG', 'VERSION', 'RECEIVED', 'CREATED', 'ERROR'],
    reports.map((r) => [
      r.id,
      r.repository,
      r.status,
      r.format ?? '-',
      r.tag ?? '-',
      r.version === null ? '-' : `${r.version}${r.new_version === false ? ' (same)' : ''}`,
      bytes(r.bytes_received),
      r.created_at.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      r.error?.code ?? '',
    ]),
  );
}

export function reportText(r: ImportReport): string {
  const fields: Array<[string, string]> = [
    ['id', r.id],
    ['repository', r.repository],
    ['status', r.status],
    ['format', r.format ?? '-'],
    ['tag', r.tag ?? '-'],
    ['version', r.version === null ? '-' : `${r.version}${r.new_version === false ? ' (no new version: nothing changed)' : ''}`],
    ...(r.actor ? [['actor', r.actor] as [string, string]] : []),
    ['received', `${bytes(r.bytes_received)} (${r.bytes_received} bytes)`],
    ['created', r.created_at],
    ['finished', r.finished_at ?? '-'],
    ['duration', r.duration_ms === null ? '-' : `${r.duration_ms} ms`],
  ];
  if (r.error) fields.push(['error', `${r.error.code}: ${r.error.message}${r.error.details ? ` ${JSON.stringify(r.error.details)}` : ''}`]);
  const width = Math.max(...fields.map(([k]) => k.length));
  const parts = [fields.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')];
  if (r.manifests.length > 0) parts.push(table(['MANIFEST', 'MEDIA TYPE', 'SOURCE'], r.manifests.map((m) => [m.digest, m.media_type, m.source])));
  if (r.blobs.length > 0) parts.push(table(['BLOB', 'SIZE', 'SOURCE'], r.blobs.map((b) => [b.digest, bytes(b.size), b.source])));
  return parts.join('\n\n');
}
