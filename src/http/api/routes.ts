// The /api/v1 route table: every route states its method, its path (an OpenAPI template), the action
// it needs and which repository that action is on, what it takes and answers, and its handler. The
// router, the authorization step and the OpenAPI document (GET /api/v1/openapi.json) are all built
// from this one table, so a route cannot exist without a declared action or be missing from the docs.
import Router from '@koa/router';
import type { Context } from 'koa';
import { type Action, type Principal, pullable } from '../../core/policy.js';
import { BerthError, type ErrorCode } from '../../errors.js';
import type { Services } from '../../services/deps.js';
import { getImport, importRepository, importUnknown, listImports } from '../../services/imports.js';
import { cleanupOrphans } from '../../services/orphans.js';
import * as repos from '../../services/repositories.js';
import * as tokens from '../../services/tokens.js';
import { authorize } from '../auth.js';
import { queryInt, queryString, readJson } from './body.js';
import { postImport } from './imports.js';
import { openApiDocument, type SchemaName } from './openapi.js';

export interface QueryParam {
  name: string;
  type: 'string' | 'integer' | 'boolean';
  description: string;
}

export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** OpenAPI path template; `{name}` is a repository name and may contain '/' */
  path: string;
  summary: string;
  /** what the caller must be allowed to do */
  action: Action;
  /**
   * the repository the action is on: the `{name}` path parameter, or one the route looks up from its
   * parameters (a report's repository); absent for routes on no repository. A looked-up repository the
   * caller may not pull answers `hidden` (the looked-up thing does not exist for this caller), so that
   * an id of a hidden repository's report reads exactly like an unknown id.
   */
  repository?: 'name' | { lookup(params: Record<string, string>): Promise<string>; description: string; hidden: (params: Record<string, string>) => BerthError };
  query?: QueryParam[];
  /** the JSON request body's schema, or 'archive' for the import upload */
  request?: SchemaName | 'archive';
  /** success status and the response body's schema (none for 204) */
  response: { status: number; schema?: SchemaName };
  /** error codes this route answers besides the ones every route may (401, 403, 5xx) */
  errors: ErrorCode[];
  handle(ctx: Context, params: Record<string, string>, principal: Principal): Promise<void>;
}

const LIMIT: QueryParam = { name: 'limit', type: 'integer', description: 'page size' };

export function apiRoutes(s: Services): ApiRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/openapi.json',
      summary: 'This API described as an OpenAPI 3.1 document',
      action: 'pull',
      response: { status: 200, schema: 'OpenApi' },
      errors: [],
      handle: async (ctx) => {
        ctx.body = openApiDocument(apiRoutes(s));
      },
    },
    {
      method: 'POST',
      path: '/api/v1/repositories',
      summary: 'Create a repository (version 0, empty)',
      action: 'admin',
      request: 'NewRepository',
      response: { status: 201, schema: 'Repository' },
      errors: ['NAME_INVALID', 'REPOSITORY_EXISTS', 'BODY_INVALID', 'UNSUPPORTED_MEDIA_TYPE'],
      handle: async (ctx, _p, principal) => {
        const body = await readJson(ctx);
        ctx.status = 201;
        ctx.body = await repos.createRepository(s, body.name, principal.name);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/repositories',
      summary: 'List repositories by name',
      action: 'pull',
      query: [LIMIT, { name: 'after', type: 'string', description: 'names strictly after this one' }],
      response: { status: 200, schema: 'RepositoryList' },
      errors: ['BODY_INVALID'],
      handle: async (ctx, _p, principal) => {
        const limit = queryInt(ctx, 'limit', 100, 1, 1000);
        const after = queryString(ctx, 'after');
        ctx.body = { repositories: await repos.listRepositories(s, { limit, visible: pullable(principal), ...(after !== undefined ? { after } : {}) }) };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/repositories/{name}/imports',
      summary: 'Import an image archive as one new version (multipart with a file part and an optional tag field, or a raw tar / gzip body with ?tag=)',
      action: 'push',
      repository: 'name',
      query: [
        { name: 'tag', type: 'string', description: 'tag for a raw body' },
        { name: 'create', type: 'boolean', description: 'true: create the repository when it does not exist (push on its name suffices, as for a registry push)' },
      ],
      request: 'archive',
      response: { status: 201, schema: 'ImportReport' },
      errors: [
        'NAME_UNKNOWN', 'BLOB_UNKNOWN', 'DIGEST_INVALID', 'SIZE_INVALID', 'MANIFEST_INVALID', 'MANIFEST_UNSUPPORTED', 'TAG_INVALID',
        'TAG_AMBIGUOUS', 'ARCHIVE_INVALID', 'UNSUPPORTED_ARCHIVE', 'ENTRY_UNSAFE', 'ENTRY_DUPLICATE', 'BODY_INVALID',
        'UNSUPPORTED_MEDIA_TYPE', 'UPLOAD_TOO_LARGE', 'INSUFFICIENT_STORAGE',
      ],
      handle: async (ctx, p, principal) => postImport(s, ctx, p.name!, principal.name),
    },
    {
      method: 'POST',
      path: '/api/v1/repositories/{name}/preflight',
      summary: 'Which of these digests the repository holds (its latest version, or held for it): what an import may leave out',
      action: 'push',
      repository: 'name',
      request: 'PreflightRequest',
      response: { status: 200, schema: 'Preflight' },
      errors: ['NAME_UNKNOWN', 'NAME_INVALID', 'DIGEST_INVALID', 'BODY_INVALID', 'UNSUPPORTED_MEDIA_TYPE'],
      handle: async (ctx, p) => {
        const body = await readJson(ctx);
        ctx.body = await repos.preflight(s, p.name!, body.digests);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/repositories/{name}/versions',
      summary: "List a repository's versions, newest first",
      action: 'pull',
      repository: 'name',
      query: [LIMIT, { name: 'offset', type: 'integer', description: 'versions to skip' }],
      response: { status: 200, schema: 'VersionList' },
      errors: ['NAME_UNKNOWN', 'BODY_INVALID'],
      handle: async (ctx, p) => {
        const limit = queryInt(ctx, 'limit', 100, 1, 1000);
        const offset = queryInt(ctx, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
        ctx.body = { versions: await repos.listVersions(s, p.name!, { limit, offset }) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/repositories/{name}/versions/{number}',
      summary: 'One version: its tags, manifests and blobs, and what it added and removed against the one before',
      action: 'pull',
      repository: 'name',
      query: [{ name: 'limit', type: 'integer', description: 'page size of tags, manifests and blobs (default 100)' }],
      response: { status: 200, schema: 'Version' },
      errors: ['NAME_UNKNOWN', 'VERSION_UNKNOWN', 'BODY_INVALID'],
      handle: async (ctx, p) => {
        ctx.body = await repos.getVersion(s, p.name!, Number(p.number), queryInt(ctx, 'limit', 100, 1, 1000));
      },
    },
    ...repos.VERSION_PARTS.map(
      (part): ApiRoute => ({
        method: 'GET',
        path: `/api/v1/repositories/{name}/versions/{number}/${part}`,
        summary: `A page of one version's ${part} (${part === 'tags' ? 'by name, in byte order' : 'in the order they were added'}); follow next for the rest`,
        action: 'pull',
        repository: 'name',
        query: [LIMIT, { name: 'after', type: 'string', description: "the cursor from the page before's next link" }],
        response: { status: 200, schema: part === 'tags' ? 'VersionTags' : part === 'manifests' ? 'VersionManifests' : 'VersionBlobs' },
        errors: ['NAME_UNKNOWN', 'VERSION_UNKNOWN', 'BODY_INVALID'],
        handle: async (ctx, p) => {
          const after = queryString(ctx, 'after');
          const page = await repos.getVersionPart(s, p.name!, Number(p.number), part, {
            limit: queryInt(ctx, 'limit', 100, 1, 1000),
            ...(after !== undefined ? { after } : {}),
          });
          ctx.body = { [part]: page.items, next: page.next };
        },
      }),
    ),
    {
      method: 'GET',
      path: '/api/v1/repositories/{name}/tags',
      summary: "The tags of the repository's latest version",
      action: 'pull',
      repository: 'name',
      response: { status: 200, schema: 'TagList' },
      errors: ['NAME_UNKNOWN'],
      handle: async (ctx, p) => {
        ctx.body = { tags: await repos.listTags(s, p.name!) };
      },
    },
    {
      method: 'PUT',
      path: '/api/v1/repositories/{name}/tags/{tag}',
      summary: 'Point a tag at a manifest the repository holds: a new version (201), or nothing when it already points there (200)',
      action: 'push',
      repository: 'name',
      request: 'TagTarget',
      response: { status: 201, schema: 'TagChange' },
      errors: ['NAME_UNKNOWN', 'TAG_INVALID', 'DIGEST_INVALID', 'MANIFEST_UNKNOWN', 'BODY_INVALID', 'UNSUPPORTED_MEDIA_TYPE'],
      handle: async (ctx, p, principal) => {
        const body = await readJson(ctx);
        const change = await repos.putTag(s, p.name!, p.tag!, body.digest, principal.name);
        ctx.status = change.new_version ? 201 : 200;
        ctx.body = change;
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/repositories/{name}/tags/{tag}',
      summary: 'Remove a tag: a new version',
      action: 'delete',
      repository: 'name',
      response: { status: 200, schema: 'TagChange' },
      errors: ['NAME_UNKNOWN', 'TAG_INVALID', 'TAG_UNKNOWN'],
      handle: async (ctx, p, principal) => {
        ctx.body = await repos.deleteTag(s, p.name!, p.tag!, principal.name);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/repositories/{name}',
      summary: 'One repository',
      action: 'pull',
      repository: 'name',
      response: { status: 200, schema: 'Repository' },
      errors: ['NAME_UNKNOWN', 'NAME_INVALID'],
      handle: async (ctx, p) => {
        ctx.body = repos.repositoryView(await repos.getRepositoryRow(s, p.name!));
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/repositories/{name}',
      summary: 'Delete a repository and all its versions (its blobs go with orphan cleanup)',
      action: 'delete',
      repository: 'name',
      response: { status: 204 },
      errors: ['NAME_UNKNOWN', 'NAME_INVALID'],
      handle: async (ctx, p) => {
        await repos.deleteRepository(s, p.name!);
        ctx.status = 204;
      },
    },
    {
      method: 'GET',
      path: '/api/v1/imports',
      summary: 'Import and push reports, newest first',
      action: 'pull',
      query: [
        LIMIT,
        { name: 'repository', type: 'string', description: 'only this repository' },
        { name: 'status', type: 'string', description: 'running, completed or failed' },
        { name: 'format', type: 'string', description: 'skopeo-dir, docker-archive, oci-layout or push' },
        { name: 'actor', type: 'string', description: 'the name of the token that sent it' },
        { name: 'since', type: 'string', description: 'created at or after this ISO-8601 time' },
        { name: 'before', type: 'string', description: 'created before this ISO-8601 time' },
      ],
      response: { status: 200, schema: 'ImportList' },
      errors: ['BODY_INVALID'],
      handle: async (ctx, _p, principal) => {
        const filter: Record<string, string> = {};
        for (const key of ['repository', 'status', 'format', 'actor', 'since', 'before'] as const) {
          const value = queryString(ctx, key);
          if (value !== undefined) filter[key] = value;
        }
        ctx.body = { imports: await listImports(s, { ...filter, visible: pullable(principal), limit: queryInt(ctx, 'limit', 50, 1, 1000) }) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/imports/{id}',
      summary: 'One import or push report',
      action: 'pull',
      repository: { lookup: (p) => importRepository(s, p.id!), description: "the report's repository", hidden: (p) => importUnknown(p.id!) },
      response: { status: 200, schema: 'ImportReport' },
      errors: ['IMPORT_UNKNOWN'],
      handle: async (ctx, p) => {
        ctx.body = await getImport(s, p.id!);
      },
    },
    {
      method: 'POST',
      path: '/api/v1/orphans/cleanup',
      summary: 'Remove blobs no repository version references and no repository holds',
      action: 'admin',
      response: { status: 200, schema: 'CleanupResult' },
      errors: [],
      handle: async (ctx) => {
        ctx.body = await cleanupOrphans(s);
      },
    },
    {
      method: 'POST',
      path: '/api/v1/tokens',
      summary: 'Make a token with scopes; the answer carries its secret, shown this once',
      action: 'admin',
      request: 'NewToken',
      response: { status: 201, schema: 'CreatedToken' },
      errors: ['BODY_INVALID', 'TOKEN_EXISTS', 'UNSUPPORTED_MEDIA_TYPE'],
      handle: async (ctx, _p, principal) => {
        const token = await tokens.createToken(s, await readJson(ctx), principal.name);
        ctx.status = 201;
        ctx.set('Location', `/api/v1/tokens/${token.id}`);
        ctx.set('Cache-Control', 'no-store');
        ctx.body = token;
      },
    },
    {
      method: 'GET',
      path: '/api/v1/tokens',
      summary: 'The tokens admins made, without their secrets (revoked ones too, with revoked_at)',
      action: 'admin',
      response: { status: 200, schema: 'TokenList' },
      errors: [],
      handle: async (ctx) => {
        ctx.body = { tokens: await tokens.listTokens(s) };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/tokens/{id}',
      summary: 'Revoke a token: every request presenting it from now on is 401',
      action: 'admin',
      response: { status: 204 },
      errors: ['TOKEN_UNKNOWN'],
      handle: async (ctx, p) => {
        await tokens.revokeToken(s, p.id!);
        ctx.status = 204;
      },
    },
  ];
}

/** A path template as a RegExp: `{name}` takes anything (names contain '/'), `{number}` digits, others one segment. */
export function templatePattern(path: string): { pattern: RegExp; params: string[] } {
  const params: string[] = [];
  const source = path.replace(/\./g, '\\.').replace(/\{(\w+)\}/g, (_m, param: string) => {
    params.push(param);
    return param === 'name' ? '(.+)' : param === 'number' ? '(\\d+)' : '([^/]+)';
  });
  return { pattern: new RegExp(`^${source}$`), params };
}

/** The router for a route table; each route authorizes its declared action before its handler runs. */
export function apiRouter(routes: ApiRoute[]): Router {
  const router = new Router();
  for (const route of routes) {
    const { pattern, params } = templatePattern(route.path);
    const add = { GET: router.get, POST: router.post, PUT: router.put, DELETE: router.delete }[route.method].bind(router);
    add(pattern, async (ctx: Context) => {
      const captures = (ctx as Context & { captures?: string[] }).captures ?? [];
      const values: Record<string, string> = {};
      params.forEach((param, i) => {
        const raw = captures[i];
        if (raw === undefined) throw new BerthError('NOT_FOUND', 'no such endpoint', null);
        values[param] = decodeURIComponent(raw);
      });
      const from = route.repository;
      const repository = from === undefined ? undefined : from === 'name' ? values.name : await from.lookup(values);
      let principal: Principal;
      try {
        principal = authorize(ctx, route.action, repository);
      } catch (err) {
        if (typeof from === 'object' && err instanceof BerthError && err.code === 'NAME_UNKNOWN') throw from.hidden(values);
        throw err;
      }
      await route.handle(ctx, values, principal);
    });
  }
  return router;
}
