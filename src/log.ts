// Structured JSON logs (pino). Messages are static lower-case text; values go in fields beside them.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** The service's logger; `destination` (stdout when absent) lets a test read what is logged. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'berth' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', '*.authorization', 'token'], censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * A log line for an event that may come in floods (failed authentications): at most one per
 * `everyMs`; each line written says how many were left out since the one before.
 */
export function rateLimited(log: Logger, level: 'info' | 'warn', message: string, everyMs = 1000): (fields: Record<string, unknown>) => void {
  let last = 0;
  let suppressed = 0;
  return (fields) => {
    const at = Date.now();
    if (at - last < everyMs) {
      suppressed++;
      return;
    }
    last = at;
    log[level]({ ...fields, suppressed }, message);
    suppressed = 0;
  };
}
