// The report row of an import or a push, written as late as it can be. An upload that ends quickly
// (a small import, a manifest push) writes its report once, completed inside the commit's own
// transaction or failed after it; only an upload still running after RUNNING_REPORT_AFTER_MS writes
// a `running` row first (so admins and the instance sweeps see it), which the end then completes.
// A small import thus costs one statement for its report instead of a separate write before it.
import type { Db, Tx } from '../db/connect.js';
import * as importsDb from '../db/imports.js';
import type { ImportRow } from '../db/rows.js';
import type { Logger } from '../log.js';

/** How long an upload runs before its report shows as `running`. */
export const RUNNING_REPORT_AFTER_MS = 200;

export class PendingReport {
  /** the running row's insert once started: true when it was written */
  private running: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** the end is being written: the running row must not start any more */
  private ending = false;

  /** `row`: the report as it stands at the start (status `running`). */
  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    readonly row: ImportRow,
    afterMs = RUNNING_REPORT_AFTER_MS,
  ) {
    if (afterMs <= 0) this.writeRunning();
    else {
      this.timer = setTimeout(() => this.writeRunning(), afterMs);
      this.timer.unref();
    }
  }

  /** Writes the running row now (an upload that runs long; the timer calls it). */
  writeRunning(): Promise<boolean> {
    clearTimeout(this.timer);
    if (this.ending && !this.running) return Promise.resolve(false);
    // inserted only if the end has not been written meanwhile (db/imports.ts endImport)
    return (this.running ??= importsDb.insertRunningImport(this.db, this.row).then(
      () => true,
      (err: unknown) => {
        this.log.warn({ import_id: this.row.id, err }, 'writing the running import report failed; it is written when the import ends');
        return false;
      },
    ));
  }

  /**
   * Writes the report's end with `patch` through `q` (the commit's transaction, or the database for a
   * failure): the whole row, or the running row completed. It never waits for the running row's
   * insert (on SQLite that insert may be queued behind the very transaction `q` is). False when the
   * running row was already ended elsewhere (an instance sweep that took this process for gone): the
   * first outcome recorded stands.
   */
  end(q: Db | Tx, patch: Partial<ImportRow>): Promise<boolean> {
    this.ending = true;
    clearTimeout(this.timer);
    return importsDb.endImport(q, { ...this.row, ...patch });
  }

  /**
   * Writes a failed end through the database (not a transaction). When the database cannot take it
   * (an outage), the report is kept in memory and written by the instance sweep once the database is
   * back (writeUnwrittenReports), so a failure is never lost because its report came due while the
   * database was down. Rethrows that error for the caller to log.
   */
  async endFailed(patch: Partial<ImportRow>): Promise<boolean> {
    try {
      return await this.end(this.db, patch);
    } catch (err) {
      const pending = unwritten.get(this.db) ?? [];
      if (pending.length < MAX_UNWRITTEN) pending.push({ ...this.row, ...patch });
      unwritten.set(this.db, pending);
      throw err;
    }
  }
}

/** Reports kept while the database was unreachable, at most this many per database (the oldest kept). */
const MAX_UNWRITTEN = 10_000;
const unwritten = new WeakMap<Db, ImportRow[]>();

/** Writes the failed reports that could not be written before (see endFailed); returns how many. */
export async function writeUnwrittenReports(db: Db): Promise<number> {
  const pending = unwritten.get(db);
  if (!pending || pending.length === 0) return 0;
  let written = 0;
  while (pending.length > 0) {
    await importsDb.endImport(db, pending[0]!);
    pending.shift();
    written++;
  }
  return written;
}
