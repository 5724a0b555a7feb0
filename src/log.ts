// Structured JSON logs (pino). Messages are static lower-case text; values go in fields beside them.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'berth' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', '*.authorization', 'token'], censor: '[redacted]' },
  });
}
