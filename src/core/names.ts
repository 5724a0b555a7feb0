// Repository name and tag grammars from the OCI distribution spec.
import { BerthError } from '../errors.js';

export type RepositoryName = string & { readonly __brand: 'RepositoryName' };
export type Tag = string & { readonly __brand: 'Tag' };

/** One path component of a repository name (the scope patterns of core/policy.ts use it too). */
export const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export function isRepositoryName(value: unknown): value is RepositoryName {
  return typeof value === 'string' && value.length <= 255 && NAME.test(value);
}

export function parseRepositoryName(value: unknown): RepositoryName {
  if (!isRepositoryName(value)) {
    throw new BerthError('NAME_INVALID', 'repository name does not match the OCI name grammar', {
      name: typeof value === 'string' ? value.slice(0, 300) : null,
    });
  }
  return value;
}

/**
 * Words the APIs use after a repository name (`/api/v1/repositories/<name>/tags`, `/v2/<name>/blobs/…`).
 * A repository with a path component equal to one of them would make its own paths ambiguous, so
 * such a name is refused when a repository is created.
 */
export const RESERVED_COMPONENTS: readonly string[] = ['blobs', 'imports', 'manifests', 'preflight', 'referrers', 'repositories', 'tags', 'uploads', 'versions'];

/** A name for a repository to be created: the OCI grammar, and no component that is an API word. */
export function parseNewRepositoryName(value: unknown): RepositoryName {
  const name = parseRepositoryName(value);
  const word = name.split('/').find((c) => RESERVED_COMPONENTS.includes(c));
  if (word !== undefined) {
    throw new BerthError('NAME_INVALID', `a repository name may not have a path component "${word}": the API uses that word`, { name, reserved: word });
  }
  return name;
}

export function isTag(value: unknown): value is Tag {
  return typeof value === 'string' && TAG.test(value);
}

export function parseTag(value: unknown): Tag {
  if (!isTag(value)) {
    throw new BerthError('TAG_INVALID', 'tag does not match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}', {
      tag: typeof value === 'string' ? value.slice(0, 200) : null,
    });
  }
  return value;
}
