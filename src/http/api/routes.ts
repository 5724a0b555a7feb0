// The /api/v1 JSON API. Repository names contain '/', so routes that carry one are RegExps whose
// suffix (/imports, /versions, /tags) is matched from the right.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Services } from '../../services/deps.js';
import { getImport, listImports } from '../../services/imports.js';
import { cleanupOrphans } from '../../services/orphans.js';
import * as repos from '../../services/repositories.js';
import { BerthError } from '../../errors.js';
import { queryInt, queryString, readJson } from './body.js';
import { postImport } from './imports.js';

const NAME = '(.+)';
const P = '^/api/v1/repositories/';

function capture(ctx: Context, i: number): string {
  const value = (ctx as Context & { captures?: string[] }).captures?.[i];
  if (value === undefined) throw new BerthError('NOT_FOUND', 'no such endpoint', null);
  return decodeURIComponent(value);
}

export function apiRouter(s: Services): Router {
  const router = new Router();

  router.post('/api/v1/repositories', async (ctx) => {
    const body = await readJson(ctx);
    ctx.status = 201;
    ctx.body = await repos.createRepository(s, body.name);
  });

  router.get('/api/v1/repositories', async (ctx) => {
    const limit = queryInt(ctx, 'limit', 100, 1, 1000);
    const after = queryString(ctx, 'after');
    ctx.body = { repositories: await repos.listRepositories(s, { limit, ...(after !== undefined ? { after } : {}) }) };
  });

  router.post(new RegExp(`${P}${NAME}/imports$`), async (ctx) => {
    await postImport(s, ctx, capture(ctx, 0));
  });

  router.get(new RegExp(`${P}${NAME}/versions$`), async (ctx) => {
    const limit = queryInt(ctx, 'limit', 100, 1, 1000);
    const offset = queryInt(ctx, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    ctx.body = { versions: await repos.listVersions(s, capture(ctx, 0), { limit, offset }) };
  });

  router.get(new RegExp(`${P}${NAME}/versions/(\\d+)$`), async (ctx) => {
    ctx.body = await repos.getVersion(s, capture(ctx, 0), Number(capture(ctx, 1)));
  });

  router.get(new RegExp(`${P}${NAME}/tags$`), async (ctx) => {
    ctx.body = { tags: await repos.listTags(s, capture(ctx, 0)) };
  });

  router.put(new RegExp(`${P}${NAME}/tags/([^/]+)$`), async (ctx) => {
    const body = await readJson(ctx);
    const change = await repos.putTag(s, capture(ctx, 0), capture(ctx, 1), body.digest);
    ctx.status = change.new_version ? 201 : 200;
    ctx.body = change;
  });

  router.delete(new RegExp(`${P}${NAME}/tags/([^/]+)$`), async (ctx) => {
    ctx.body = await repos.deleteTag(s, capture(ctx, 0), capture(ctx, 1));
  });

  router.get(new RegExp(`${P}${NAME}$`), async (ctx) => {
    ctx.body = repos.repositoryView(await repos.getRepositoryRow(s, capture(ctx, 0)));
  });

  router.delete(new RegExp(`${P}${NAME}$`), async (ctx) => {
    await repos.deleteRepository(s, capture(ctx, 0));
    ctx.status = 204;
  });

  router.get('/api/v1/imports', async (ctx) => {
    const repository = queryString(ctx, 'repository');
    const status = queryString(ctx, 'status');
    const before = queryString(ctx, 'before');
    ctx.body = {
      imports: await listImports(s, {
        limit: queryInt(ctx, 'limit', 50, 1, 1000),
        ...(repository !== undefined ? { repository } : {}),
        ...(status !== undefined ? { status } : {}),
        ...(before !== undefined ? { before } : {}),
      }),
    };
  });

  router.get('/api/v1/imports/:id', async (ctx) => {
    ctx.body = await getImport(s, ctx.params.id!);
  });

  router.post('/api/v1/orphans/cleanup', async (ctx) => {
    ctx.body = await cleanupOrphans(s);
  });

  return router;
}
