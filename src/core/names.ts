// Repository name and tag grammars from the OCI distribution spec.
import { BerthError } from '../errors.js';

export type RepositoryName = string & { readonly __brand: 'RepositoryName' };
export type Tag = string & { readonly __brand: 'Tag' };

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
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
