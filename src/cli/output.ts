// What `berth` prints while it works. Three modes: a terminal gets a progress bar (cli-progress) and a
// short summary; anything else gets one plain line per phase; --json gets one JSON object per line,
// the last one the import report (or the error).
import type cliProgress from 'cli-progress';
import type { CliError } from './errors.js';

export type OutputMode = 'tty' | 'plain' | 'json';

export function outputMode(json: boolean | undefined): OutputMode {
  if (json) return 'json';
  return process.stderr.isTTY ? 'tty' : 'plain';
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
export function bytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${UNITS[unit]}`;
}

export class Output {
  private bar: cliProgress.SingleBar | undefined;
  private started = 0;
  private sent = 0;

  constructor(readonly mode: OutputMode) {}

  /** One phase done: a line for people, an event for machines. */
  phase(event: string, data: Record<string, unknown>, line: string): void {
    if (this.mode === 'json') process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);
    else process.stdout.write(`${line}\n`);
  }

  async startUpload(total: number): Promise<void> {
    this.started = Date.now();
    this.sent = 0;
    if (this.mode !== 'tty') return;
    // Loaded only for a terminal: a pipeline's run does not pay for it.
    const { default: progress } = await import('cli-progress');
    this.started = Date.now();
    this.bar = new progress.SingleBar(
      {
        stream: process.stderr,
        format: 'uploading [{bar}] {percentage}% | {done} of {size} | {rate}/s | ETA {eta_formatted}',
        hideCursor: true,
        etaBuffer: 50,
        fps: 8,
      },
      progress.Presets.shades_classic,
    );
    this.bar.start(Math.max(total, 1), 0, { done: bytes(0), size: bytes(total), rate: bytes(0) });
  }

  progress(n: number): void {
    this.sent += n;
    if (!this.bar) return;
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    const total = this.bar.getTotal();
    if (this.sent > total) this.bar.setTotal(this.sent);
    this.bar.update(this.sent, { done: bytes(this.sent), rate: bytes(Math.round(this.sent / seconds)) });
  }

  endUpload(): { sent: number; ms: number } {
    this.bar?.stop();
    this.bar = undefined;
    return { sent: this.sent, ms: Date.now() - this.started };
  }

  /** The last line in JSON mode: the report itself. */
  result(value: unknown, lines: string[]): void {
    if (this.mode === 'json') process.stdout.write(`${JSON.stringify(value)}\n`);
    else for (const line of lines) process.stdout.write(`${line}\n`);
  }

  /** A failure: one line on stderr; in JSON mode the failed report (or the error) is the last line. */
  fail(err: CliError): void {
    this.bar?.stop();
    this.bar = undefined;
    if (this.mode === 'json') process.stdout.write(`${JSON.stringify(err.report ?? { error: { code: err.code, message: err.message } })}\n`);
    process.stderr.write(`berth: ${err.message}\n`);
  }
}
