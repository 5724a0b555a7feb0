// The one permission rule: may principal P do action A on repository R. Pure, no I/O; every route
// of /api and /v2 declares its action and one middleware asks here (http/auth.ts).
//
// Actions: `pull` reads a repository; `push` changes it (imports, pushes, tag moves) and includes
// pull; `delete` removes tags, manifests or the repository; `admin` is everything, including what
// belongs to no repository (tokens, creating repositories, orphan cleanup). A scope grants actions on
// the repositories its pattern names: an exact name, a prefix ending in `/*` (everything below it),
// or `*`. What a principal may pull is also what it may reuse (the ownership rule in scopes).

import { COMPONENT } from './names.js';

export const ACTIONS = ['pull', 'push', 'delete', 'admin'] as const;
export type Action = (typeof ACTIONS)[number];

export interface Scope {
  repositories: string;
  actions: readonly Action[];
}

export interface Principal {
  /** the token's name: recorded as the actor of every change it makes */
  name: string;
  scopes: readonly Scope[];
}

/** The built-in admin (BERTH_ADMIN_TOKEN or the generated admin-token file). */
export const ADMIN: Principal = Object.freeze({ name: 'admin', scopes: Object.freeze([{ repositories: '*', actions: ['admin'] as const }]) });

/** Whether a scope pattern names the repository. */
export function patternMatches(pattern: string, repository: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('/*')) return repository.startsWith(pattern.slice(0, -1));
  return pattern === repository;
}

/** The scope grammar: `*`, a repository name, or a repository name followed by `/*`. */
const PATTERN = new RegExp(`^(?:\\*|${COMPONENT}(?:/${COMPONENT})*(?:/\\*)?)$`);

export function isPattern(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 255 && PATTERN.test(value);
}

/** Actions a granted action includes. */
const INCLUDES: Record<Action, readonly Action[]> = {
  pull: ['pull'],
  push: ['push', 'pull'],
  delete: ['delete'],
  admin: ACTIONS,
};

/**
 * May `p` do `action` on `repository`? Without a repository (listings, tokens, cleanup): `admin`
 * needs an admin scope on `*`; any other action is allowed to every principal, whose listings are
 * then cut to what it may pull.
 */
export function may(p: Principal, action: Action, repository?: string): boolean {
  if (repository === undefined) {
    if (action !== 'admin') return true;
    return p.scopes.some((s) => s.repositories === '*' && s.actions.includes('admin'));
  }
  return p.scopes.some((s) => patternMatches(s.repositories, repository) && s.actions.some((granted) => INCLUDES[granted].includes(action)));
}

/**
 * The answer to a request for `action` on `repository`: allowed; denied (403); or hidden (404), when
 * the principal may not even pull the repository, so that names do not leak.
 */
export function decide(p: Principal, action: Action, repository?: string): 'allow' | 'deny' | 'hide' {
  if (may(p, action, repository)) return 'allow';
  if (repository !== undefined && !may(p, 'pull', repository)) return 'hide';
  return 'deny';
}

/** The repositories a principal may pull, as a listing filter: all of them, or exact names and prefixes (each ending in '/'). */
export type NameFilter = { all: true } | { all: false; exact: string[]; prefixes: string[] };

export function pullable(p: Principal): NameFilter {
  const exact: string[] = [];
  const prefixes: string[] = [];
  for (const s of p.scopes) {
    if (!s.actions.some((granted) => INCLUDES[granted].includes('pull'))) continue;
    if (s.repositories === '*') return { all: true };
    if (s.repositories.endsWith('/*')) prefixes.push(s.repositories.slice(0, -1));
    else exact.push(s.repositories);
  }
  return { all: false, exact, prefixes };
}

/** Whether a name passes a listing filter (the same answer the database gives for the filter). */
export function passes(filter: NameFilter, name: string): boolean {
  return filter.all || filter.exact.includes(name) || filter.prefixes.some((prefix) => name.startsWith(prefix));
}
