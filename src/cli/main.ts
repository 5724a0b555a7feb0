// The `berth` command (package.json `bin`, run as `npx berth`): push an image from the local disk
// sending only what the repository lacks, log in, and read import reports. See README "The berth CLI".
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { BerthClient, type ImportReport } from './client.js';
import { defaultHost, serverFor } from './credentials.js';
import { CliError, EXIT } from './errors.js';
import { login } from './login.js';
import { Output, outputMode } from './output.js';
import { push } from './push.js';
import { reportsTable, reportText } from './reports.js';
import { hostUrl } from './target.js';

/** The package's version: package.json two folders up from src/cli/, three from dist/src/cli/. */
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

const VERSION = packageVersion();

async function clientFor(hostOption: string | undefined): Promise<BerthClient> {
  const raw = await defaultHost(hostOption);
  const server = await serverFor(hostUrl(raw), /^https?:\/\//.test(raw));
  return new BerthClient(server.baseUrl, server.token);
}

function program(): Command {
  const cmd = new Command('berth')
    .description('Push container images to Berth, sending only the blobs the repository lacks')
    .version(VERSION)
    .showHelpAfterError('(run berth --help for usage)')
    .exitOverride();

  cmd
    .command('push')
    .alias('import')
    .description('push an image: a skopeo dir: folder or its tarball, a docker-archive, an OCI layout folder or archive (gzip or not)')
    .argument('<image>', 'folder or archive on the local disk')
    .argument('<destination>', '<host>/<repository>[:tag], e.g. localhost:8080/team/app:v1 (https:// or http:// may lead)')
    .option('--json', 'print JSON lines; the last one is the import report')
    .option('--create', 'create the repository if it does not exist (the token must be allowed to push to that name)')
    .action(async (image: string, destination: string, opts: { json?: boolean; create?: boolean }) => {
      const out = new Output(outputMode(opts.json));
      try {
        await push(image, destination, out, { create: opts.create === true });
      } catch (err) {
        out.fail(asCliError(err));
        process.exitCode = asCliError(err).exitCode;
      }
    });

  cmd
    .command('login')
    .description('store a token for a host in $XDG_CONFIG_HOME/berth/config.json (mode 0600); the token is read from standard input')
    .argument('<host>', 'e.g. localhost:8080 or https://berth.example.com')
    .action(async (host: string) => {
      const file = await login(host);
      process.stdout.write(`logged in to ${hostUrl(host).host}; token stored in ${file}\n`);
    });

  cmd
    .command('reports')
    .description('list import and push reports, newest first')
    .option('--host <host>', 'the server (default: BERTH_HOST, or the last berth login)')
    .option('--repository <name>', 'only this repository')
    .addOption(new Option('--status <status>', 'only reports with this status').choices(['running', 'completed', 'failed']))
    .option('--limit <n>', 'how many', '50')
    .option('--json', 'print the reports as JSON')
    .action(async (opts: { host?: string; repository?: string; status?: string; limit: string; json?: boolean }) => {
      const client = await clientFor(opts.host);
      const query = new URLSearchParams({ limit: opts.limit });
      if (opts.repository) query.set('repository', opts.repository);
      if (opts.status) query.set('status', opts.status);
      const { imports } = await client.json<{ imports: ImportReport[] }>('GET', `/api/v1/imports?${query}`, 'reports');
      process.stdout.write(opts.json ? `${JSON.stringify(imports)}\n` : `${reportsTable(imports)}\n`);
    });

  cmd
    .command('report')
    .description('show one import or push report')
    .argument('<id>', 'the report id')
    .option('--host <host>', 'the server (default: BERTH_HOST, or the last berth login)')
    .option('--json', 'print the report as JSON')
    .action(async (id: string, opts: { host?: string; json?: boolean }) => {
      const client = await clientFor(opts.host);
      const report = await client.json<ImportReport>('GET', `/api/v1/imports/${encodeURIComponent(id)}`, `report ${id}`);
      process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : `${reportText(report)}\n`);
    });
  return cmd;
}

function asCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  // Anything unforeseen is still one line, never a stack trace.
  return new CliError(EXIT.REFUSED, `unexpected error: ${err instanceof Error ? err.message : String(err)}`);
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its one line (or the help / version text).
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
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
