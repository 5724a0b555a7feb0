// This process among the Berth processes that share one database and one data folder: a heartbeat
// row in `instances`, and the sweeps that clean up after processes that are gone. Every tick (a third
// of BERTH_INSTANCE_TIMEOUT_SECONDS) it
//   1. moves its own heartbeat;
//   2. fails with INTERRUPTED the running imports of instances whose heartbeat is older than the
//      timeout (or that have no row), and removes exactly those imports' staging folders;
//   3. fails its own running imports whose session has ended without writing the report (the
//      database was unreachable at that moment): their staging folder is gone on two ticks in a row;
//   4. removes staging/imports folders whose import is no longer running, once older than the timeout.
//   5. ends upload sessions idle for longer than BERTH_UPLOAD_TTL_SECONDS and removes their files
//      (staging/uploads survives restarts; only this expiry removes it).
import os from 'node:os';
import { now } from '../db/common.js';
import * as importsDb from '../db/imports.js';
import * as instancesDb from '../db/instances.js';
import type { ErrorBody } from '../errors.js';
import type { Services } from './deps.js';
import { writeUnwrittenReports } from './report-row.js';
import { expireUploads } from './uploads.js';

const INTERRUPTED: ErrorBody = { code: 'INTERRUPTED', message: 'the server stopped before the import finished', details: null };
const REPORT_LOST: ErrorBody = {
  code: 'DATABASE_UNAVAILABLE',
  message: 'the database was unreachable when the import ended, so its outcome was recorded afterwards; no version was made',
  details: null,
};

type Deps = Pick<Services, 'config' | 'db' | 'blobs' | 'log' | 'instanceId'>;

export interface SweepResult {
  interrupted: number;
  reports_recovered: number;
  staging_removed: number;
  uploads_expired: number;
}

export class Instance {
  private readonly startedAt = now();
  private timer: NodeJS.Timeout | undefined;
  private tick: Promise<void> | undefined;
  private stopped = false;
  private failing = false;
  /** own running imports seen without a staging folder on the previous tick */
  private suspects = new Set<string>();

  /** `onHeartbeat` runs every tick whether or not the database answers (it touches the SQLite data folder lock). */
  constructor(
    private readonly s: Deps,
    private readonly onHeartbeat?: () => Promise<void>,
  ) {}

  private get timeoutMs(): number {
    return this.s.config.instanceTimeoutSeconds * 1000;
  }

  /** Registers the heartbeat and runs the first sweep; then repeats every third of the timeout. */
  async start(): Promise<SweepResult> {
    await this.heartbeat();
    const first = await this.sweep();
    this.schedule();
    return first;
  }

  /** Stops the heartbeat and removes this instance's row, so that nobody waits for its timeout. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.tick;
    try {
      await instancesDb.deleteInstance(this.s.db, this.s.instanceId);
    } catch (err) {
      this.s.log.warn({ err }, 'instance row not removed');
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick = this.heartbeat()
        .then(() => this.sweep())
        .then(
          () => {
            if (this.failing) this.s.log.info({ instance_id: this.s.instanceId }, 'instance heartbeat resumed');
            this.failing = false;
          },
          (err: unknown) => {
            if (!this.failing) this.s.log.warn({ instance_id: this.s.instanceId, err }, 'instance heartbeat failed');
            this.failing = true;
          },
        )
        .finally(() => this.schedule());
    }, Math.max(500, Math.floor(this.timeoutMs / 3)));
    this.timer.unref();
  }

  private async heartbeat(): Promise<void> {
    await this.onHeartbeat?.();
    await instancesDb.touchInstance(this.s.db, { id: this.s.instanceId, hostname: os.hostname(), pid: process.pid, started_at: this.startedAt });
  }

  /** One pass of steps 2–4 (see the top of this file). */
  async sweep(): Promise<SweepResult> {
    const { db, log } = this.s;
    const cutoff = new Date(Date.parse(await instancesDb.databaseNow(db)) - this.timeoutMs).toISOString();

    const abandoned = await importsDb.findAbandonedImports(db, cutoff, this.s.instanceId);
    let interrupted = 0;
    if (abandoned.length > 0) {
      interrupted = await importsDb.failImports(db, abandoned.map((a) => a.id), JSON.stringify(INTERRUPTED));
      for (const a of abandoned) await this.s.blobs.removeStaging('imports', a.id);
      log.warn(
        { failed_imports: interrupted, instances: [...new Set(abandoned.map((a) => a.instance_id))] },
        'failed the imports of processes that are gone',
      );
    }
    await instancesDb.deleteStaleInstances(db, cutoff);

    // Failed reports that came due while the database was down (services/report-row.ts), before the
    // running rows are looked at: one of them may be the running row such a report ends.
    const late = await writeUnwrittenReports(db);
    if (late > 0) log.warn({ failed_imports: late }, 'recorded imports that failed while the database was unreachable');

    const lost: string[] = [];
    const suspects = new Set<string>();
    for (const id of await importsDb.listRunningImportIds(db, this.s.instanceId)) {
      if ((await this.s.blobs.stagingAge('imports', id)) !== undefined) continue;
      if (this.suspects.has(id)) lost.push(id);
      else suspects.add(id);
    }
    this.suspects = suspects;
    const recovered = lost.length > 0 ? await importsDb.failImports(db, lost, JSON.stringify(REPORT_LOST)) : 0;
    if (recovered > 0) log.warn({ failed_imports: recovered, import_ids: lost }, 'recorded imports that ended while the database was unreachable');

    const removed = await this.sweepStaging();
    const expired = await expireUploads(this.s);
    if (expired > 0) log.info({ upload_sessions: expired }, 'ended idle upload sessions');
    return { interrupted, reports_recovered: recovered + late, staging_removed: removed, uploads_expired: expired };
  }

  /** Staging folders of imports that are not running (finished, failed, unknown), older than the timeout. */
  private async sweepStaging(): Promise<number> {
    const { blobs } = this.s;
    const names = await blobs.stagingEntries('imports');
    if (names.length === 0) return 0;
    const statuses = await importsDb.importStatuses(this.s.db, names);
    let removed = 0;
    for (const name of names) {
      if (statuses.get(name) === 'running') continue;
      const age = await blobs.stagingAge('imports', name);
      if (age === undefined || age < this.timeoutMs) continue;
      await blobs.removeStaging('imports', name);
      removed++;
    }
    if (removed > 0) this.s.log.warn({ staging_entries: removed }, 'removed staging folders of finished imports');
    return removed;
  }
}

/**
 * SQLite: one process per data folder, so whatever is running or staged is from before this start.
 * Fails every running import with INTERRUPTED, empties staging/imports (upload sessions survive a
 * restart) and forgets every other instance.
 */
export async function recoverSingleProcess(s: Deps): Promise<{ interrupted: number; staging_removed: number }> {
  const interrupted = await importsDb.failRunningImports(s.db, JSON.stringify(INTERRUPTED));
  const removed = await s.blobs.clearStaging('imports');
  await instancesDb.deleteStaleInstances(s.db, undefined, s.instanceId);
  return { interrupted, staging_removed: removed };
}
