// Page rendering: eta templates (views/*.eta), which escape every `<%= %>` interpolation. Raw output
// (`<%~ %>`) is used only for the layout's body and the chart, which chart.ts builds with escapeXml.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import { formatBytes } from './chart.js';

/** src/http/ui in the source tree, whether this module runs from src/ (tsx) or dist/src/ (npm start). */
function uiSourceDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 6; up++) {
    if (existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'src', 'http', 'ui');
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the package root for the web page templates');
}

export const UI_DIR = uiSourceDir();
export const STATIC_DIR = path.join(UI_DIR, 'static');

const eta = new Eta({ views: path.join(UI_DIR, 'views'), cache: true, autoEscape: true });

/** Helpers every template gets as `it.h`. */
export const helpers = {
  bytes: (n: number | null | undefined): string => (n === null || n === undefined ? '' : formatBytes(Number(n))),
  /** an ISO-8601 time as `YYYY-MM-DD HH:MM:SS` (UTC) */
  time: (iso: string | null | undefined): string => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : ''),
  duration: (ms: number | null | undefined): string => (ms === null || ms === undefined ? '' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`),
  /** the path of a repository page; names contain '/', each segment is encoded on its own */
  repo: (name: string): string => `/ui/repositories/${name.split('/').map(encodeURIComponent).join('/')}`,
  version: (name: string, n: number): string => `/ui/repositories/${name.split('/').map(encodeURIComponent).join('/')}/-/versions/${n}`,
  report: (id: string): string => `/ui/imports/${encodeURIComponent(id)}`,
  /** a query string from the non-empty entries */
  query: (params: Record<string, string | number | undefined>): string => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
    const text = q.toString();
    return text ? `?${text}` : '';
  },
  json: (value: unknown): string => JSON.stringify(value, null, 2),
};

export interface PageData {
  title: string;
  /** the signed-in principal's name, and whether it is an admin (the nav shows Tokens) */
  user?: { name: string; admin: boolean };
  csrf?: string;
  /** which nav entry is current */
  nav?: 'imports' | 'repositories' | 'tokens';
  [key: string]: unknown;
}

export function render(view: string, data: PageData): string {
  return eta.render(view, { ...data, h: helpers });
}
