import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log/index.ts';

/** A logger whose records a test reads back (each parsed from its JSON line). */
export function recordingLogger(name = 'test'): { log: Logger; records: { msg: string }[] } {
  const records: { msg: string }[] = [];
  const log = createLogger({
    name,
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          records.push(JSON.parse(line) as { msg: string });
        }
        done();
      },
    }),
  });
  return { log, records };
}
