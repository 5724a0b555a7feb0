// `<host>/<repository>[:tag]` as `berth push` takes it, and the server's base URL for a host.
import { parseRepositoryName, parseTag } from '../core/names.js';
import { BerthError } from '../errors.js';
import { CliError, EXIT } from './errors.js';

export interface Target {
  /** the host as written, without a scheme (`localhost:8080`): the key for stored credentials */
  host: string;
  /** `http://localhost:8080` */
  baseUrl: string;
  repository: string;
  tag: string | undefined;
}

/**
 * The base URL for a host: an explicit `http://` or `https://` wins; otherwise plain HTTP for the
 * local machine (where Berth runs without TLS) and HTTPS for every other host.
 */
export function hostUrl(raw: string): { host: string; baseUrl: string } {
  const scheme = /^(https?):\/\//.exec(raw);
  const host = (scheme ? raw.slice(scheme[0].length) : raw).replace(/\/+$/, '');
  if (host === '' || host.includes('/')) throw new CliError(EXIT.USAGE, `not a host: ${raw}`);
  const local = /^(localhost|127(\.\d+){3}|\[::1\])(:\d+)?$/.test(host);
  return { host, baseUrl: `${scheme ? scheme[1] : local ? 'http' : 'https'}://${host}` };
}

export function parseTarget(raw: string): Target {
  const scheme = /^(https?):\/\//.exec(raw)?.[0] ?? '';
  const rest = raw.slice(scheme.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) {
    throw new CliError(EXIT.USAGE, `the destination must be <host>/<repository>[:tag], not ${raw}`);
  }
  const { host, baseUrl } = hostUrl(scheme + rest.slice(0, slash));
  let path = rest.slice(slash + 1);
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon > path.lastIndexOf('/')) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
  }
  try {
    return { host, baseUrl, repository: parseRepositoryName(path), tag: tag === undefined ? undefined : parseTag(tag) };
  } catch (err) {
    if (err instanceof BerthError) throw new CliError(EXIT.USAGE, `${raw}: ${err.message}`);
    throw err;
  }
}
