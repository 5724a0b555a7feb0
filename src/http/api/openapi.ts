// The OpenAPI 3.1 document of /api/v1, generated from the route table (routes.ts): paths, methods,
// the action each needs (`x-berth-action`), parameters, request and response shapes, error codes.
import { ERRORS, type ErrorCode } from '../../errors.js';
import type { ApiRoute } from './routes.js';

type Schema = Record<string, unknown>;

const str = { type: 'string' };
const int = { type: 'integer' };
const nullable = (schema: Schema): Schema => ({ oneOf: [schema, { type: 'null' }] });
const obj = (properties: Record<string, Schema>, required = Object.keys(properties)): Schema => ({ type: 'object', properties, required });
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const arrayOf = (schema: Schema): Schema => ({ type: 'array', items: schema });

const DIGEST = { type: 'string', pattern: '^sha256:[a-f0-9]{64}$' };
const TAG_LIST = arrayOf(obj({ name: str, digest: DIGEST }));
const CONTENT_LIST = arrayOf(obj({ digest: DIGEST, media_type: nullable(str), size: int }));

const SCHEMAS = {
  Error: obj({ error: obj({ code: { type: 'string', enum: Object.keys(ERRORS) }, message: str, details: nullable({ type: 'object' }) }) }),
  NewRepository: obj({ name: { type: 'string', maxLength: 255, description: 'OCI repository name; no path component may be an API word (tags, versions, imports, …)' } }),
  Repository: obj({ name: str, latest_version: int, created_at: str, updated_at: str }),
  RepositoryList: obj({ repositories: arrayOf(ref('Repository')) }),
  VersionSummary: obj({
    number: int,
    kind: { type: 'string', enum: ['create', 'import', 'push', 'tag', 'untag', 'delete'] },
    import_id: nullable(str),
    actor: { ...nullable(str), description: 'the name of the token that made the version' },
    created_at: str,
  }),
  VersionList: obj({ versions: arrayOf(ref('VersionSummary')) }),
  Version: {
    allOf: [
      ref('VersionSummary'),
      obj({
        repository: str,
        tags: { ...TAG_LIST, description: 'the first page (limit); next.tags continues' },
        manifests: { ...CONTENT_LIST, description: 'the first page (limit); next.manifests continues' },
        blobs: { ...CONTENT_LIST, description: 'the first page (limit); next.blobs continues' },
        next: obj({ tags: nullable(str), manifests: nullable(str), blobs: nullable(str) }),
        added: obj({ tags: TAG_LIST, manifests: CONTENT_LIST, blobs: CONTENT_LIST }),
        removed: obj({ tags: TAG_LIST, manifests: CONTENT_LIST, blobs: CONTENT_LIST }),
      }),
    ],
  },
  VersionTags: obj({ tags: TAG_LIST, next: nullable(str) }),
  VersionManifests: obj({ manifests: CONTENT_LIST, next: nullable(str) }),
  VersionBlobs: obj({ blobs: CONTENT_LIST, next: nullable(str) }),
  TagList: obj({ tags: TAG_LIST }),
  PreflightRequest: obj({ digests: { ...arrayOf(DIGEST), maxItems: 10_000 } }),
  Preflight: obj({ repository: str, held: arrayOf(obj({ digest: DIGEST, size: int })), missing: arrayOf(DIGEST) }),
  TagTarget: obj({ digest: DIGEST }),
  TagChange: obj({ name: str, digest: nullable(DIGEST), version: int, new_version: { type: 'boolean' } }),
  ImportReport: obj({
    id: str,
    repository: str,
    status: { type: 'string', enum: ['running', 'completed', 'failed'] },
    format: nullable({ type: 'string', enum: ['skopeo-dir', 'docker-archive', 'oci-layout', 'push'] }),
    tag: nullable(str),
    version: nullable(int),
    new_version: nullable({ type: 'boolean' }),
    manifests: arrayOf(obj({ digest: DIGEST, media_type: str, source: { type: 'string', enum: ['upload', 'repository'] } })),
    blobs: arrayOf(obj({ digest: DIGEST, size: int, source: { type: 'string', enum: ['upload', 'mount', 'repository'] } })),
    bytes_received: int,
    created_at: str,
    finished_at: nullable(str),
    duration_ms: nullable(int),
    error: nullable(obj({ code: str, message: str, details: nullable({ type: 'object' }) })),
    actor: { ...nullable(str), description: 'the name of the token that uploaded it' },
  }),
  ImportList: obj({ imports: arrayOf(ref('ImportReport')) }),
  CleanupResult: obj({ removed_blobs: int, removed_files: int, freed_bytes: int, duration_ms: int }),
  Scope: obj({
    repositories: { type: 'string', description: 'a repository name, a name followed by /* (everything below it), or *' },
    actions: { type: 'array', minItems: 1, items: { type: 'string', enum: ['pull', 'push', 'delete', 'admin'] } },
  }),
  NewToken: obj(
    {
      name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'unique; recorded as the actor of every change the token makes' },
      scopes: { type: 'array', minItems: 1, items: ref('Scope') },
      expires_at: { ...nullable(str), description: 'RFC 3339 time in the future; absent or null: never' },
    },
    ['name', 'scopes'],
  ),
  Token: obj({
    id: int,
    name: str,
    scopes: arrayOf(ref('Scope')),
    created_by: str,
    created_at: str,
    expires_at: nullable(str),
    last_used_at: { ...nullable(str), description: 'written at most about once a minute' },
    revoked_at: nullable(str),
  }),
  CreatedToken: { allOf: [ref('Token'), obj({ secret: { type: 'string', description: 'berth_…: shown only in this answer; Berth keeps only its hash' } })] },
  TokenList: obj({ tokens: arrayOf(ref('Token')) }),
  OpenApi: { type: 'object', description: 'this document' },
} satisfies Record<string, Schema>;

export type SchemaName = keyof typeof SCHEMAS;

/** Errors any route may answer, besides its own. */
const COMMON_ERRORS: ErrorCode[] = ['UNAUTHORIZED', 'DENIED', 'DATABASE_UNAVAILABLE', 'INTERNAL'];

const ARCHIVE_BODY = {
  required: true,
  content: {
    'multipart/form-data': { schema: obj({ file: { type: 'string', contentMediaType: 'application/x-tar' }, tag: str }, ['file']) },
    'application/x-tar': { schema: { type: 'string', contentMediaType: 'application/x-tar' } },
    'application/gzip': { schema: { type: 'string', contentMediaType: 'application/gzip' } },
  },
};

function operation(route: ApiRoute): Schema {
  const pathParams = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const errors = [...new Set([...route.errors, ...COMMON_ERRORS])];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errors) byStatus.set(ERRORS[code].status, [...(byStatus.get(ERRORS[code].status) ?? []), code]);
  const responses: Record<string, Schema> = {
    [String(route.response.status)]: {
      description: route.summary,
      ...(route.response.schema ? { content: { 'application/json': { schema: ref(route.response.schema) } } } : {}),
    },
  };
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: codes.join(', '),
      'x-berth-error-codes': codes,
      content: { 'application/json': { schema: ref('Error') } },
    };
  }
  return {
    summary: route.summary,
    operationId: `${route.method.toLowerCase()}${route.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    'x-berth-action': route.action,
    ...(route.repository === 'name' ? { 'x-berth-repository-parameter': 'name' } : route.repository ? { 'x-berth-repository': route.repository.description } : {}),
    security: [{ bearer: [] }],
    parameters: [
      ...pathParams.map((name) => ({
        name,
        in: 'path',
        required: true,
        schema: name === 'number' ? int : str,
        ...(name === 'name' ? { description: 'repository name; it may contain "/" (or %2F)' } : {}),
      })),
      ...(route.query ?? []).map((q) => ({ name: q.name, in: 'query', required: false, description: q.description, schema: { type: q.type } })),
    ],
    ...(route.request === 'archive'
      ? { requestBody: ARCHIVE_BODY }
      : route.request
        ? { requestBody: { required: true, content: { 'application/json': { schema: ref(route.request) } } } }
        : {}),
    responses,
  };
}

export function openApiDocument(routes: ApiRoute[]): Schema {
  const paths: Record<string, Record<string, Schema>> = {};
  for (const route of routes) (paths[route.path] ??= {})[route.method.toLowerCase()] = operation(route);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Berth API',
      version: '1',
      description:
        'Container image archives imported into versioned repositories. Every change to a repository makes exactly one new version; ' +
        'an import may omit blobs only when the destination repository already holds them (proof of ownership). ' +
        'Each operation names the action its token needs in x-berth-action (pull, push, delete, admin).',
    },
    components: { schemas: SCHEMAS, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
