// `npm run fsck -- [--repair] [--no-hash]`: checks a data folder (and its database) the way the
// service sees it; see services/fsck.ts. Prints the report as JSON. Exit 0 when every version reads
// back whole, 1 when a blob is missing or corrupt or a row points at nothing, 2 when it cannot run
// (with SQLite: while Berth runs on the folder, whose lock it needs).
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { openDataFolder } from './server.js';
import { fsck } from './services/fsck.js';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { repair: { type: 'boolean', default: false }, 'no-hash': { type: 'boolean', default: false } } });
  const config = loadConfig();
  const log = createLogger(process.env.BERTH_LOG_LEVEL ?? 'warn');
  const folder = await openDataFolder(config, log, randomUUID());
  try {
    const report = await fsck(folder.services, { repair: values.repair, hash: !values['no-hash'], singleProcess: config.databaseUrl === undefined });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return report.ok ? 0 : 1;
  } finally {
    await folder.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`berth fsck: ${err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
