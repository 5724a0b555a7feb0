// The admin web pages under /ui: server-rendered HTML from the same services as /api, readable
// without JavaScript (one small script draws the upload's progress bar). Every page route declares
// the action it needs, like the /api route table, and authorize() (http/auth.ts, core/policy.ts)
// decides; listings are cut to what the signed-in token may pull, in the database.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import compose from 'koa-compose';
import { type Action, may, type Principal, pullable } from '../../core/policy.js';
import { BerthError, ERRORS, toErrorBody } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Services } from '../../services/deps.js';
import { getImport, importsPerDay, importUnknown, listImports } from '../../services/imports.js';
import * as repos from '../../services/repositories.js';
import * as tokens from '../../services/tokens.js';
import { queryInt, queryString, readForm } from '../api/body.js';
import { authorize } from '../auth.js';
import { chartDays, importsChart } from './chart.js';
import { type PageData, render, STATIC_DIR } from './render.js';
import { type UiSession, UiSessions } from './session.js';

export { UiSessions };

const PAGE = 50;
/** tags on the repository page, and each list of the version page, a page at a time */
const LIST_PAGE = 100;
const DAY_MS = 86_400_000;
const CHART_DAYS = 30;
const CHART_MAX_DAYS = 92;
export const FORMATS = ['skopeo-dir', 'docker-archive', 'oci-layout', 'push'];

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

const STATIC_FILES: Record<string, string> = { 'ui.css': 'text/css; charset=utf-8', 'upload.js': 'text/javascript; charset=utf-8' };

export interface UiRoute {
  method: 'GET' | 'POST';
  /** the route as documentation writes it (test/route-auth.test.ts keys its rows by it) */
  path: string;
  pattern: RegExp;
  params: string[];
  action: Action;
  /** the param naming the repository the action is on */
  repository?: string;
  /** `form`: a POST's form fields, read and CSRF-checked before the handler runs (empty for a GET) */
  handle(ctx: Context, p: Record<string, string>, session: UiSession, form: URLSearchParams): Promise<void>;
}

const isAdmin = (p: Principal): boolean => may(p, 'admin');

function page(ctx: Context, view: string, session: UiSession | undefined, data: PageData, status = 200): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = render(view, {
    ...data,
    ...(session ? { user: { name: session.principal.name, admin: isAdmin(session.principal) }, csrf: session.csrf } : {}),
  });
}

/** A YYYY-MM-DD query parameter, or undefined. */
function dateParam(ctx: Context, name: string): string | undefined {
  const value = queryString(ctx, name);
  if (value === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new BerthError('BODY_INVALID', `${name} must be a date (YYYY-MM-DD)`, { [name]: value.slice(0, 40) });
  }
  return value;
}

const dayOf = (t: number): string => new Date(t).toISOString().slice(0, 10);

/** The signed-in pages and forms, each with the action the policy decides it by. */
export function uiRoutes(s: Services, sessions: UiSessions): UiRoute[] {
  return [
    {
      method: 'GET',
      path: '/ui/imports',
      pattern: /^\/ui\/imports$/,
      params: [],
      action: 'pull',
      handle: async (ctx, _p, session) => {
        const visible = pullable(session.principal);
        const filter = {
          repository: queryString(ctx, 'repository'),
          status: queryString(ctx, 'status'),
          format: queryString(ctx, 'format'),
          actor: queryString(ctx, 'actor'),
        };
        const from = dateParam(ctx, 'from');
        const to = dateParam(ctx, 'to');
        const per = queryInt(ctx, 'per', PAGE, 5, 200);
        const older = queryString(ctx, 'older');
        const newer = queryString(ctx, 'newer');
        const defined = Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)) as Record<string, string>;
        const since = from !== undefined ? `${from}T00:00:00.000Z` : undefined;
        const before = to !== undefined ? `${dayOf(Date.parse(`${to}T00:00:00Z`) + DAY_MS)}T00:00:00.000Z` : undefined;
        const base = { ...defined, ...(since !== undefined ? { since } : {}), ...(before !== undefined ? { before } : {}), visible, limit: per + 1 };
        // Keyset pages: `older=<id>` the reports after that one, `newer=<id>` those before it.
        let rows = await listImports(s, { ...base, ...(older !== undefined ? { older } : newer !== undefined ? { newer } : {}) });
        let list: typeof rows;
        let hasNewer = older !== undefined;
        let hasOlder = true;
        if (newer !== undefined && rows.length > per) {
          list = rows.slice(1);
          hasNewer = true;
        } else {
          // the first page, also when a `newer` page reaches the newest report
          if (newer !== undefined) rows = await listImports(s, base);
          list = rows.slice(0, per);
          hasOlder = rows.length > per;
        }
        // The chart: the filter's days, or the last 30 days up to its end; at most 92 days.
        const lastDay = to ?? dayOf(Date.now());
        let firstDay = from ?? dayOf(Date.parse(`${lastDay}T00:00:00Z`) - (CHART_DAYS - 1) * DAY_MS);
        if (firstDay > lastDay) firstDay = lastDay;
        if (Date.parse(`${lastDay}T00:00:00Z`) - Date.parse(`${firstDay}T00:00:00Z`) > (CHART_MAX_DAYS - 1) * DAY_MS) {
          firstDay = dayOf(Date.parse(`${lastDay}T00:00:00Z`) - (CHART_MAX_DAYS - 1) * DAY_MS);
        }
        const perDay = await importsPerDay(s, {
          ...defined,
          visible,
          since: `${firstDay}T00:00:00.000Z`,
          before: `${dayOf(Date.parse(`${lastDay}T00:00:00Z`) + DAY_MS)}T00:00:00.000Z`,
        });
        const days = chartDays(perDay, firstDay, lastDay);
        page(ctx, 'imports', session, {
          title: 'Imports',
          nav: 'imports',
          filter: { ...filter, from, to },
          formats: FORMATS,
          imports: list,
          per: per === PAGE ? undefined : per,
          newerId: hasNewer && list.length > 0 ? list[0]!.id : undefined,
          olderId: hasOlder && list.length > 0 ? list[list.length - 1]!.id : undefined,
          chart: importsChart(days),
          days,
        });
      },
    },
    {
      method: 'GET',
      path: '/ui/imports/{id}',
      pattern: /^\/ui\/imports\/([^/]+)$/,
      params: ['id'],
      action: 'pull',
      handle: async (ctx, p, session) => {
        const report = await getImport(s, p.id!);
        try {
          authorize(ctx, 'pull', report.repository);
        } catch (err) {
          // A report of a repository this token may not pull does not exist for it.
          if (err instanceof BerthError) throw importUnknown(p.id!);
          throw err;
        }
        page(ctx, 'report', session, { title: `Import ${report.id}`, nav: 'imports', report });
      },
    },
    {
      method: 'GET',
      path: '/ui/repositories',
      pattern: /^\/ui\/repositories$/,
      params: [],
      action: 'pull',
      handle: async (ctx, _p, session) => {
        const after = queryString(ctx, 'after');
        const rows = await repos.listRepositories(s, { limit: PAGE + 1, visible: pullable(session.principal), ...(after !== undefined ? { after } : {}) });
        const list = rows.slice(0, PAGE);
        page(ctx, 'repositories', session, {
          title: 'Repositories',
          nav: 'repositories',
          repositories: list,
          next: rows.length > PAGE ? list[list.length - 1]!.name : undefined,
          after,
        });
      },
    },
    {
      method: 'GET',
      path: '/ui/repositories/{name}/-/versions/{number}',
      pattern: /^\/ui\/repositories\/(.+)\/-\/versions\/(\d+)$/,
      params: ['name', 'number'],
      action: 'pull',
      repository: 'name',
      handle: async (ctx, p, session) => {
        // Each list in pages of LIST_PAGE, by the same cursors as GET …/versions/{n}/{part}?after=.
        const after: Partial<Record<repos.VersionPart, string>> = {};
        for (const part of repos.VERSION_PARTS) {
          const cursor = queryString(ctx, `${part}_after`);
          if (cursor !== undefined) after[part] = cursor;
        }
        const [version, repo] = await Promise.all([repos.getVersion(s, p.name!, Number(p.number), LIST_PAGE, after), repos.getRepositoryRow(s, p.name!)]);
        page(ctx, 'version', session, {
          title: `${version.repository} version ${version.number}`,
          nav: 'repositories',
          version,
          latest: repo.latest_version,
          after,
          nextAfter: Object.fromEntries(repos.VERSION_PARTS.map((part) => [part, cursorOf(version.next[part])])),
          canPush: version.number === repo.latest_version && may(session.principal, 'push', repo.name),
        });
      },
    },
    {
      method: 'GET',
      path: '/ui/repositories/{name}',
      pattern: /^\/ui\/repositories\/(.+)$/,
      params: ['name'],
      action: 'pull',
      repository: 'name',
      handle: async (ctx, p, session) => {
        const changed = queryString(ctx, 'changed');
        const digest = queryString(ctx, 'digest');
        await repositoryPage(s, ctx, session, p.name!, {
          ...(changed !== undefined && /^\d{1,9}$/.test(changed) ? { notice: { version: Number(changed) } } : queryString(ctx, 'unchanged') !== undefined ? { notice: { unchanged: true } } : {}),
          ...(digest !== undefined ? { values: { digest: digest.slice(0, 100) } } : {}),
        });
      },
    },
    {
      // The set-tag form: PUT /api/v1/repositories/{name}/tags/{tag} as a form, through the same service.
      method: 'POST',
      path: '/ui/repositories/{name}/-/tag',
      pattern: /^\/ui\/repositories\/(.+)\/-\/tag$/,
      params: ['name'],
      action: 'push',
      repository: 'name',
      handle: async (ctx, p, session, form) => {
        const values = { tag: (form.get('tag') ?? '').trim(), digest: (form.get('digest') ?? '').trim() };
        await tagChange(s, ctx, session, p.name!, values, () => repos.putTag(s, p.name!, values.tag, values.digest, session.principal.name));
      },
    },
    {
      // A tag's remove button: DELETE /api/v1/repositories/{name}/tags/{tag} as a form, through the same service.
      method: 'POST',
      path: '/ui/repositories/{name}/-/untag',
      pattern: /^\/ui\/repositories\/(.+)\/-\/untag$/,
      params: ['name'],
      action: 'delete',
      repository: 'name',
      handle: async (ctx, p, session, form) => {
        const tag = form.get('tag') ?? '';
        await tagChange(s, ctx, session, p.name!, {}, () => repos.deleteTag(s, p.name!, tag, session.principal.name), tag);
      },
    },
    {
      method: 'GET',
      path: '/ui/tokens',
      pattern: /^\/ui\/tokens$/,
      params: [],
      action: 'admin',
      handle: async (ctx, _p, session) => tokensPage(s, ctx, session, {}),
    },
    {
      method: 'POST',
      path: '/ui/tokens',
      pattern: /^\/ui\/tokens$/,
      params: [],
      action: 'admin',
      handle: async (ctx, _p, session, form) => {
        const values = { name: form.get('name') ?? '', scopes: form.get('scopes') ?? '', expires: form.get('expires') ?? '' };
        try {
          const expires = values.expires.trim();
          const created = await tokens.createToken(
            s,
            {
              name: values.name.trim(),
              scopes: parseScopeLines(values.scopes),
              ...(expires !== '' ? { expires_at: /^\d{4}-\d{2}-\d{2}$/.test(expires) ? `${expires}T00:00:00Z` : expires } : {}),
            },
            session.principal.name,
          );
          // The secret is in this answer only: never in a URL, a redirect or a log.
          await tokensPage(s, ctx, session, { created });
        } catch (err) {
          if (!(err instanceof BerthError) || ERRORS[err.code].status >= 500) throw err;
          await tokensPage(s, ctx, session, { failed: toErrorBody(err), values }, ERRORS[err.code].status);
        }
      },
    },
    {
      method: 'POST',
      path: '/ui/tokens/{id}/revoke',
      pattern: /^\/ui\/tokens\/(\d{1,9})\/revoke$/,
      params: ['id'],
      action: 'admin',
      handle: async (ctx, p) => {
        await tokens.revokeToken(s, p.id!);
        ctx.redirect('/ui/tokens');
        ctx.status = 303;
      },
    },
    {
      method: 'POST',
      path: '/ui/sign-out',
      pattern: /^\/ui\/sign-out$/,
      params: [],
      action: 'pull',
      handle: async (ctx) => {
        sessions.signOut(ctx);
        ctx.redirect('/ui/sign-in');
        ctx.status = 303;
      },
    },
  ];
}

/** The `after` cursor of a next link (`…?limit=&after=`), or undefined on the last page. */
function cursorOf(next: string | null): string | undefined {
  if (next === null) return undefined;
  return new URLSearchParams(next.slice(next.indexOf('?') + 1)).get('after') ?? undefined;
}

/**
 * One repository: a page of its latest version's tags (keyset by name, `tags_after=`), a page of its
 * versions, and for a token that may change it the upload and set-tag forms and each tag's remove
 * button (the same policy that decides the POST).
 */
async function repositoryPage(
  s: Services,
  ctx: Context,
  session: UiSession,
  name: string,
  extra: { notice?: { version?: number; unchanged?: boolean }; failed?: ReturnType<typeof toErrorBody>; values?: Record<string, string> },
  status = 200,
): Promise<void> {
  const repo = repos.repositoryView(await repos.getRepositoryRow(s, name));
  // Keyset pages of both lists: tags after a name, versions below a number.
  const versionsBefore = queryString(ctx, 'versions_before') !== undefined ? queryInt(ctx, 'versions_before', 0, 1, 2_000_000_000) : undefined;
  const tagsAfter = queryString(ctx, 'tags_after');
  const [tags, versions] = await Promise.all([
    repos.getVersionPart(s, repo.name, repo.latest_version, 'tags', { limit: LIST_PAGE, ...(tagsAfter !== undefined ? { after: tagsAfter } : {}) }),
    repos.listVersions(s, repo.name, { limit: PAGE, ...(versionsBefore !== undefined ? { before: versionsBefore } : {}) }),
  ]);
  page(
    ctx,
    'repository',
    session,
    {
      title: repo.name,
      nav: 'repositories',
      repo,
      tags: tags.items,
      tagsAfter,
      tagsNext: cursorOf(tags.next),
      versions,
      versionsBefore,
      versionsNext: versions.length === PAGE && versions[versions.length - 1]!.number > 0 ? versions[versions.length - 1]!.number : undefined,
      canPush: may(session.principal, 'push', repo.name),
      canDelete: may(session.principal, 'delete', repo.name),
      importUrl: `/api/v1/repositories/${repo.name}/imports`,
      ...extra,
    },
    status,
  );
}

/**
 * A tag set or removed from a form: on success back to the repository page (303, so a reload does
 * not post again) saying which version it made; a refused change (TAG_INVALID, MANIFEST_UNKNOWN,
 * TAG_UNKNOWN…) shows the repository page again with the error and the form as it was sent.
 */
async function tagChange(
  s: Services,
  ctx: Context,
  session: UiSession,
  name: string,
  values: Record<string, string>,
  change: () => Promise<repos.TagChange>,
  removing?: string,
): Promise<void> {
  let outcome: repos.TagChange;
  try {
    outcome = await change();
  } catch (err) {
    if (!(err instanceof BerthError) || ERRORS[err.code].status >= 500 || err.code === 'NAME_UNKNOWN' || err.code === 'NAME_INVALID') throw err;
    await repositoryPage(s, ctx, session, name, { failed: toErrorBody(err), values, ...(removing !== undefined ? { removing } : {}) }, ERRORS[err.code].status);
    return;
  }
  const repoPath = `/ui/repositories/${name.split('/').map(encodeURIComponent).join('/')}`;
  ctx.redirect(outcome.new_version ? `${repoPath}?changed=${outcome.version}` : `${repoPath}?unchanged=1`);
  ctx.status = 303;
}

/**
 * The token form's scopes: one per line, a repository pattern and its actions, e.g. `team/* pull,push`
 * (commas or spaces). The tokens service checks them as it checks POST /api/v1/tokens.
 */
function parseScopeLines(text: string): Array<{ repositories: string; actions: string[] }> {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [repositories = '', ...actions] = line.split(/[\s,]+/);
      return { repositories, actions };
    });
}

async function tokensPage(
  s: Services,
  ctx: Context,
  session: UiSession,
  extra: { created?: tokens.NewToken; failed?: ReturnType<typeof toErrorBody>; values?: Record<string, string> },
  status = 200,
): Promise<void> {
  page(ctx, 'tokens', session, { title: 'Tokens', nav: 'tokens', tokens: await tokens.listTokens(s), ...extra }, status);
}

/** HTML error pages; an unauthenticated GET goes to the sign-in page and comes back after it. */
function uiErrors(log: Logger, sessions: UiSessions) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new BerthError('NOT_FOUND', 'no such page', { path: ctx.path.slice(0, 200) });
    } catch (err) {
      const body = toErrorBody(err);
      if (body.code === 'INTERNAL') log.error({ request_id: ctx.state.requestId, err }, 'internal error');
      if (body.code === 'UNAUTHORIZED' && ctx.method === 'GET') {
        ctx.redirect(`/ui/sign-in?next=${encodeURIComponent(ctx.originalUrl)}`);
        ctx.status = 303;
        return;
      }
      const session = (ctx.state.uiSessionRead as UiSession | undefined) ?? (await sessions.read(ctx).catch(() => undefined));
      page(ctx, 'error', session, { title: `Error ${ERRORS[body.code].status}`, error: body, status: ERRORS[body.code].status }, ERRORS[body.code].status);
    }
  };
}

/** Where to go after signing in: a /ui page of this site, never another site. */
function safeNext(next: string | null): string {
  return next !== null && /^\/ui\/[^/\\]/.test(next) && !next.startsWith('/ui/sign-') ? next : '/ui/imports';
}

function signInRoutes(sessions: UiSessions): Router {
  const router = new Router();
  router.get('/ui/sign-in', async (ctx) => {
    page(ctx, 'sign-in', undefined, { title: 'Sign in', next: safeNext(queryString(ctx, 'next') ?? null), signInCsrf: sessions.signInCsrf(ctx) });
  });
  router.post('/ui/sign-in', async (ctx) => {
    const form = await readForm(ctx);
    sessions.checkSignIn(ctx, form.get('csrf') ?? undefined);
    const next = safeNext(form.get('next'));
    const principal = await sessions.signIn(ctx, (form.get('token') ?? '').trim());
    if (!principal) {
      page(ctx, 'sign-in', undefined, { title: 'Sign in', next, signInCsrf: sessions.signInCsrf(ctx), failed: true }, 401);
      return;
    }
    ctx.redirect(next);
    ctx.status = 303;
  });
  return router;
}

const staticCache = new Map<string, Buffer>();

/** The whole /ui stack: headers, static files, errors, sign-in, then the signed-in pages. */
export function uiStack(s: Services, sessions: UiSessions) {
  const router = new Router();
  for (const route of uiRoutes(s, sessions)) {
    const add = route.method === 'GET' ? router.get.bind(router) : router.post.bind(router);
    add(route.pattern, async (ctx: Context) => {
      const captures = (ctx as Context & { captures?: string[] }).captures ?? [];
      const values: Record<string, string> = {};
      route.params.forEach((param, i) => {
        values[param] = decodeURIComponent(captures[i] ?? '');
      });
      const session = ctx.state.uiSessionRead as UiSession;
      authorize(ctx, route.action, route.repository !== undefined ? values[route.repository] : undefined);
      // Every change is a form POST carrying the session's CSRF token, checked here once for all of them.
      let form = new URLSearchParams();
      if (route.method === 'POST') {
        form = await readForm(ctx);
        sessions.check(session, form.get('csrf') ?? undefined);
      }
      await route.handle(ctx, values, session, form);
    });
  }
  const signIn = signInRoutes(sessions);
  return compose<Context>([
    async (ctx: Context, next: Next) => {
      ctx.set(SECURITY_HEADERS);
      await next();
    },
    async (ctx: Context, next: Next) => {
      const match = /^\/ui\/static\/([a-z.]+)$/.exec(ctx.path);
      const type = match ? STATIC_FILES[match[1]!] : undefined;
      if (!match || type === undefined || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
      let file = staticCache.get(match[1]!);
      if (!file) {
        file = await readFile(path.join(STATIC_DIR, match[1]!));
        staticCache.set(match[1]!, file);
      }
      ctx.set('Cache-Control', 'public, max-age=300');
      ctx.type = type;
      ctx.body = file;
    },
    uiErrors(s.log, sessions),
    async (ctx: Context, next: Next) => {
      if (ctx.path === '/ui' || ctx.path === '/ui/') {
        ctx.redirect('/ui/imports');
        ctx.status = 303;
        return;
      }
      return next();
    },
    signIn.routes() as Middleware,
    async (ctx: Context, next: Next) => {
      const session = await sessions.read(ctx);
      if (!session) throw new BerthError('UNAUTHORIZED', 'sign in first', null);
      ctx.state.uiSessionRead = session;
      ctx.state.principal = session.principal;
      await next();
    },
    router.routes() as Middleware,
    router.allowedMethods() as Middleware,
  ]);
}

/**
 * The upload form without JavaScript: a browser that posted it to the import endpoint (session
 * cookie, `csrf` in the query) and wants HTML is sent to the report page instead of the JSON.
 */
export function formRedirect() {
  return async (ctx: Context, next: Next): Promise<void> => {
    await next();
    const report = ctx.body as { id?: unknown; status?: unknown } | undefined;
    if (ctx.state.uiSession && ctx.method === 'POST' && ctx.accepts('json', 'html') === 'html' && typeof report?.id === 'string' && typeof report.status === 'string') {
      ctx.redirect(`/ui/imports/${encodeURIComponent(report.id)}`);
      ctx.status = 303;
    }
  };
}
