// Where `berth` finds its token: BERTH_TOKEN, or the file `berth login` writes,
// $XDG_CONFIG_HOME/berth/config.json (default ~/.config/berth/config.json), mode 0600:
//   { "default_host": "localhost:8080", "hosts": { "localhost:8080": { "url": "http://localhost:8080", "token": "…" } } }
// A token is never taken from the command line, where it would land in the shell's history.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliError, EXIT } from './errors.js';

export interface StoredHost {
  url: string;
  token: string;
}

export interface CliConfig {
  default_host?: string;
  hosts: Record<string, StoredHost>;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'berth', 'config.json');
}

export async function readConfig(env: NodeJS.ProcessEnv = process.env): Promise<CliConfig> {
  const file = configPath(env);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return { hosts: {} };
    throw new CliError(EXIT.AUTH, `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as Partial<CliConfig>;
    return { ...parsed, hosts: parsed.hosts ?? {} };
  } catch {
    throw new CliError(EXIT.AUTH, `${file} is not valid JSON; run berth login again`);
  }
}

/** Writes the config file with mode 0600 (its folder 0700), replacing it atomically. */
export async function writeConfig(config: CliConfig, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const file = configPath(env);
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await fs.chmod(temp, 0o600);
  await fs.rename(temp, file);
  return file;
}

/** The token for `host`: BERTH_TOKEN first, then what `berth login` stored. */
export async function tokenFor(host: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env.BERTH_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  const stored = (await readConfig(env)).hosts[host];
  if (stored?.token) return stored.token;
  throw new CliError(EXIT.AUTH, `no credentials for ${host}: set BERTH_TOKEN or run berth login ${host}`);
}

/** The host commands without a destination talk to: --host, BERTH_HOST, or the last one logged in to. */
export async function defaultHost(given: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const host = given ?? env.BERTH_HOST ?? (await readConfig(env)).default_host;
  if (!host) throw new CliError(EXIT.USAGE, 'no host: give --host, set BERTH_HOST, or run berth login <host>');
  return host;
}

/** The server for a host as written: an explicit scheme wins, then the URL `berth login` stored, then hostUrl's default. */
export async function serverFor(target: { host: string; baseUrl: string }, explicitScheme: boolean, env: NodeJS.ProcessEnv = process.env): Promise<{ baseUrl: string; token: string }> {
  const token = await tokenFor(target.host, env);
  const stored = explicitScheme ? undefined : (await readConfig(env)).hosts[target.host]?.url;
  return { baseUrl: stored ?? target.baseUrl, token };
}
