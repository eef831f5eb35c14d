import { hostname } from 'node:os';
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger };

export interface LoggerConfig {
  /** The service name, as bunyan's `name` field. */
  name: string;
  level?: LoggerOptions['level'];
  /** Where records go; standard output when absent. */
  destination?: DestinationStream;
}

/**
 * A pino logger whose records have bunyan's shape (`v`, `name`, `hostname`, `pid`, numeric
 * `level`, `msg`, ISO `time`), so that operators can read them with the `bunyan` tool.
 */
export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level: config.level ?? process.env.LOG_LEVEL ?? 'info',
    messageKey: 'msg',
    base: { v: 0, name: config.name, hostname: hostname(), pid: process.pid },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
  };
  return config.destination ? pino(options, config.destination) : pino(options);
}
