/** One pino logger per process, JSON lines on stderr so stdout stays free for the CLI. */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Creates the process logger; `RETINAD_LOG_LEVEL` overrides the level. */
export function createLogger(name: string, level = process.env.RETINAD_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { role: name, pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}
