// The imports page's chart, drawn on the server as SVG: imports per day stacked by outcome, and the
// bytes received per day below it. Every text in it goes through escapeXml.

export interface DayCount {
  day: string;
  status: string;
  count: number;
  bytes: number;
}

export interface ChartDay {
  day: string;
  completed: number;
  failed: number;
  running: number;
  bytes: number;
}

const DAY_MS = 86_400_000;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Bytes as a short human figure (binary units). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** Every day from `first` to `last` (YYYY-MM-DD, inclusive), with the counts of `rows` filled in. */
export function chartDays(rows: DayCount[], first: string, last: string): ChartDay[] {
  const byDay = new Map<string, ChartDay>();
  const days: ChartDay[] = [];
  for (let t = Date.parse(`${first}T00:00:00Z`); t <= Date.parse(`${last}T00:00:00Z`); t += DAY_MS) {
    const day = new Date(t).toISOString().slice(0, 10);
    const entry = { day, completed: 0, failed: 0, running: 0, bytes: 0 };
    byDay.set(day, entry);
    days.push(entry);
  }
  for (const row of rows) {
    const entry = byDay.get(row.day);
    if (!entry) continue;
    if (row.status === 'completed' || row.status === 'failed' || row.status === 'running') entry[row.status] += row.count;
    entry.bytes += row.bytes;
  }
  return days;
}

const WIDTH = 720;
const LEFT = 56;
const RIGHT = 8;
const COUNT_TOP = 24;
const COUNT_HEIGHT = 120;
const BYTES_TOP = COUNT_TOP + COUNT_HEIGHT + 36;
const BYTES_HEIGHT = 56;
const HEIGHT = BYTES_TOP + BYTES_HEIGHT + 24;
const STATUSES = ['completed', 'failed', 'running'] as const;

const r = (n: number): string => String(Math.round(n * 10) / 10);

/** The chart as an SVG element (role img, titled and described), sized by its viewBox. */
export function importsChart(days: ChartDay[]): string {
  const plotWidth = WIDTH - LEFT - RIGHT;
  const slot = plotWidth / Math.max(days.length, 1);
  const barWidth = Math.max(slot * 0.75, 1);
  const maxCount = Math.max(1, ...days.map((d) => d.completed + d.failed + d.running));
  const maxBytes = Math.max(1, ...days.map((d) => d.bytes));
  const total = days.reduce((sum, d) => sum + d.completed + d.failed + d.running, 0);
  const failed = days.reduce((sum, d) => sum + d.failed, 0);
  const bytes = days.reduce((sum, d) => sum + d.bytes, 0);
  const first = days[0]?.day ?? '';
  const last = days[days.length - 1]?.day ?? '';
  const description = `${total} imports from ${first} to ${last}, ${failed} failed; ${formatBytes(bytes)} received.`;
  const out: string[] = [
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">`,
    `<title id="chart-title">Imports per day by outcome, and bytes received per day</title>`,
    `<desc id="chart-desc">${escapeXml(description)}</desc>`,
    `<text class="label" x="${LEFT}" y="${COUNT_TOP - 8}">imports per day (max ${maxCount})</text>`,
    `<line class="axis" x1="${LEFT}" y1="${COUNT_TOP + COUNT_HEIGHT}" x2="${WIDTH - RIGHT}" y2="${COUNT_TOP + COUNT_HEIGHT}"/>`,
    `<text class="label" x="${LEFT - 6}" y="${COUNT_TOP + 10}" text-anchor="end">${maxCount}</text>`,
    `<text class="label" x="${LEFT - 6}" y="${COUNT_TOP + COUNT_HEIGHT}" text-anchor="end">0</text>`,
    `<text class="label" x="${LEFT}" y="${BYTES_TOP - 8}">bytes received per day (max ${escapeXml(formatBytes(maxBytes))})</text>`,
    `<line class="axis" x1="${LEFT}" y1="${BYTES_TOP + BYTES_HEIGHT}" x2="${WIDTH - RIGHT}" y2="${BYTES_TOP + BYTES_HEIGHT}"/>`,
  ];
  days.forEach((d, i) => {
    const x = LEFT + i * slot + (slot - barWidth) / 2;
    let y = COUNT_TOP + COUNT_HEIGHT;
    for (const status of STATUSES) {
      const n = d[status];
      if (n === 0) continue;
      const h = (n / maxCount) * COUNT_HEIGHT;
      y -= h;
      out.push(`<rect class="bar-${status}" x="${r(x)}" y="${r(y)}" width="${r(barWidth)}" height="${r(h)}"><title>${escapeXml(`${d.day}: ${n} ${status}`)}</title></rect>`);
    }
    if (d.bytes > 0) {
      const h = Math.max((d.bytes / maxBytes) * BYTES_HEIGHT, 1);
      out.push(
        `<rect class="bar-bytes" x="${r(x)}" y="${r(BYTES_TOP + BYTES_HEIGHT - h)}" width="${r(barWidth)}" height="${r(h)}"><title>${escapeXml(`${d.day}: ${formatBytes(d.bytes)}`)}</title></rect>`,
      );
    }
  });
  out.push(`<text class="label" x="${LEFT}" y="${HEIGHT - 6}">${escapeXml(first)}</text>`);
  out.push(`<text class="label" x="${WIDTH - RIGHT}" y="${HEIGHT - 6}" text-anchor="end">${escapeXml(last)}</text>`);
  let lx = WIDTH - RIGHT - 250;
  for (const status of STATUSES) {
    out.push(`<rect class="bar-${status}" x="${lx}" y="${COUNT_TOP - 18}" width="10" height="10"/>`);
    out.push(`<text class="label" x="${lx + 14}" y="${COUNT_TOP - 9}">${status}</text>`);
    lx += 84;
  }
  out.push('</svg>');
  return out.join('');
}
