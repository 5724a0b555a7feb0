// The `berth` command (package.json `bin`, run as `npx berth`): push an image from the local disk
// sending only what the repository lacks, log in, and read import reports. See README "The berth CLI".
// Only what `berth push` needs loads with it: login, the report tables, the progress bar (a terminal
// only) and the gzip reader load when a run needs them.
import { readFileSync } from 'node:fs';
import { type CommandSpec, parseCommandLine } from './args.js';
import { BerthClient } from './client.js';
import { defaultHost, serverFor } from './credentials.js';
import { CliError, EXIT } from './errors.js';
import { Output, outputMode } from './output.js';
import { push } from './push.js';
import { hostUrl } from './target.js';
import { mark } from './timing.js';

/** The package's version: package.json two folders up from src/cli/ and dist/cli/, three from dist/src/cli/. */
function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'berth' && pkg.version) return pkg.version;
    } catch {
      // not there: try one folder further up
    }
  }
  return 'unknown';
}

async function clientFor(hostOption: string | undefined): Promise<BerthClient> {
  const raw = await defaultHost(hostOption);
  const server = await serverFor(hostUrl(raw), /^https?:\/\//.test(raw));
  return new BerthClient(server.baseUrl, server.token);
}

type Options = Record<string, string | boolean | undefined>;
type Run = (args: string[], opts: Options) => Promise<void>;

const HOST = { name: 'host', value: '<host>', help: 'the server (default: BERTH_HOST, or the last berth login)' };

const COMMANDS: ReadonlyArray<CommandSpec<Run>> = [
  {
    name: 'push',
    aliases: ['import'],
    help: 'push an image: a skopeo dir: folder or its tarball, a docker-archive, an OCI layout folder or archive (gzip or not)',
    args: [
      { name: 'image', help: 'folder or archive on the local disk' },
      { name: 'destination', help: '<host>/<repository>[:tag], e.g. localhost:8080/team/app:v1 (https:// or http:// may lead)' },
    ],
    options: [
      { name: 'json', help: 'print JSON lines; the last one is the import report' },
      { name: 'create', help: 'create the repository if it does not exist (the token must be allowed to push to that name)' },
    ],
    run: async ([image, destination], opts) => {
      const out = new Output(outputMode(opts.json === true));
      try {
        await push(image!, destination!, out, { create: opts.create === true });
      } catch (err) {
        out.fail(asCliError(err));
        process.exitCode = asCliError(err).exitCode;
      }
    },
  },
  {
    name: 'login',
    help: 'store a token for a host in $XDG_CONFIG_HOME/berth/config.json (mode 0600); the token is read from standard input',
    args: [{ name: 'host', help: 'e.g. localhost:8080 or https://berth.example.com' }],
    options: [],
    run: async ([host]) => {
      const { login } = await import('./login.js');
      const file = await login(host!);
      process.stdout.write(`logged in to ${hostUrl(host!).host}; token stored in ${file}\n`);
    },
  },
  {
    name: 'reports',
    help: 'list import and push reports, newest first',
    args: [],
    options: [
      HOST,
      { name: 'repository', value: '<name>', help: 'only this repository' },
      { name: 'status', value: '<status>', help: 'only reports with this status', choices: ['running', 'completed', 'failed'] },
      { name: 'limit', value: '<n>', help: 'how many', default: '50' },
      { name: 'json', help: 'print the reports as JSON' },
    ],
    run: async (_args, opts) => {
      const client = await clientFor(opts.host as string | undefined);
      const query = new URLSearchParams({ limit: opts.limit as string });
      if (opts.repository) query.set('repository', opts.repository as string);
      if (opts.status) query.set('status', opts.status as string);
      const { reportsTable } = await import('./reports.js');
      const { imports } = await client.json<{ imports: Parameters<typeof reportsTable>[0] }>('GET', `/api/v1/imports?${query}`, 'reports');
      process.stdout.write(opts.json ? `${JSON.stringify(imports)}\n` : `${reportsTable(imports)}\n`);
    },
  },
  {
    name: 'report',
    help: 'show one import or push report',
    args: [{ name: 'id', help: 'the report id' }],
    options: [HOST, { name: 'json', help: 'print the report as JSON' }],
    run: async ([id], opts) => {
      const client = await clientFor(opts.host as string | undefined);
      const { reportText } = await import('./reports.js');
      const report = await client.json<Parameters<typeof reportText>[0]>('GET', `/api/v1/imports/${encodeURIComponent(id!)}`, `report ${id}`);
      process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : `${reportText(report)}\n`);
    },
  },
];

function asCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  // Anything unforeseen is still one line, never a stack trace.
  return new CliError(EXIT.REFUSED, `unexpected error: ${err instanceof Error ? err.message : String(err)}`);
}

export async function main(argv: string[]): Promise<number> {
  mark('main');
  try {
    const parsed = parseCommandLine(argv.slice(2), COMMANDS, 'Push container images to Berth, sending only the blobs the repository lacks', packageVersion);
    if (parsed.kind === 'print') {
      (parsed.exitCode ? process.stderr : process.stdout).write(parsed.text);
      return parsed.exitCode ?? EXIT.OK;
    }
    await parsed.command.run(parsed.args, parsed.options);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    const e = asCliError(err);
    process.stderr.write(`berth: ${e.message}\n`);
    return e.exitCode;
  }
}

// A failure nothing caught is still one line, never a stack trace.
process.on('uncaughtException', (err) => {
  process.stderr.write(`berth: ${asCliError(err).message}\n`);
  process.exit(asCliError(err).exitCode);
});
process.exitCode = await main(process.argv);
