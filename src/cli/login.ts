// `berth login <host>`: reads a token from standard input (typed without echo on a terminal, or
// piped), checks it against the server and stores it in the config file (mode 0600).
import readline from 'node:readline';
import { Writable } from 'node:stream';
import { BerthClient } from './client.js';
import { readConfig, writeConfig } from './credentials.js';
import { CliError, EXIT } from './errors.js';
import { hostUrl } from './target.js';

async function readToken(): Promise<string> {
  if (process.stdin.isTTY) {
    // Echo off: what is typed is written nowhere.
    const muted = new Writable({ write: (_c, _e, done) => done() });
    process.stderr.write('Token: ');
    const rl = readline.createInterface({ input: process.stdin, output: muted, terminal: true });
    const token = await new Promise<string>((resolve) => rl.question('', resolve));
    rl.close();
    process.stderr.write('\n');
    return token.trim();
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8').trim();
}

export async function login(rawHost: string): Promise<string> {
  const { host, baseUrl } = hostUrl(rawHost);
  const token = process.env.BERTH_TOKEN?.trim() || (await readToken());
  if (!token) throw new CliError(EXIT.USAGE, 'no token given on standard input');
  // Any valid token may open the registry's base endpoint: 200 proves the token, 401 refutes it.
  await new BerthClient(baseUrl, token).json('GET', '/v2/', `login ${host}`);
  const config = await readConfig();
  config.hosts[host] = { url: baseUrl, token };
  config.default_host = host;
  return writeConfig(config);
}
