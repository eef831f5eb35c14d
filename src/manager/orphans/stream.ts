/**
 * The NDJSON bodies of the orphan routes (src/api/orphans.ts): the work's lines as they come,
 * a `progress` line whenever the work has been silent for a while (a listing waits minutes on
 * a metadata scan; the line tells the operator where it stands and keeps proxies from cutting
 * an idle connection), and a last `error` line when the work fails after the answer began.
 */
import { RebalancerError } from '../../errors.ts';
import { OrphansRefusedError } from './errors.ts';

const line = (value: unknown): string => `${JSON.stringify(value)}\n`;

export interface NdjsonOptions {
  /** The `progress` line's content, asked each time one is sent. */
  progress(): unknown;
  intervalMs: number;
  /** Called when the body ends, also early (the client went away): stop the work. */
  onEnd(): Promise<void>;
}

function errorLine(err: unknown): string {
  // A refusal met after the answer began says so with its own code, as a 409 would have.
  const code =
    err instanceof OrphansRefusedError
      ? err.refusal
      : err instanceof RebalancerError
        ? err.code
        : 'internal_error';
  const message = err instanceof Error ? err.message : String(err);
  return line({ error: { code, message } });
}

/**
 * The body: one chunk per batch of lines, progress lines in the silences. `end()` stops the
 * work (once): the body's own end calls it, and so must whoever sends the body when the
 * connection closes — a body never read (the client left before it began) runs no code of its
 * own, so it could not.
 */
export class NdjsonBody implements AsyncIterable<string> {
  private ended: Promise<void> | undefined;

  constructor(
    private readonly work: AsyncIterable<readonly unknown[]>,
    private readonly options: NdjsonOptions,
  ) {}

  end(): Promise<void> {
    this.ended ??= this.options.onEnd();
    return this.ended;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<string> {
    const it = this.work[Symbol.asyncIterator]();
    // A body ended early leaves its last request unanswered: its failure is nobody's to report.
    const nextOf = () => {
      const p = it.next();
      p.catch(() => undefined);
      return p;
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      let pending = nextOf();
      for (;;) {
        const silence = new Promise<'silence'>((resolve) => {
          timer = setTimeout(() => resolve('silence'), this.options.intervalMs);
        });
        let next: IteratorResult<readonly unknown[]> | 'silence';
        try {
          next = await Promise.race([pending, silence]);
        } catch (err) {
          yield errorLine(err);
          return;
        } finally {
          clearTimeout(timer);
        }
        if (next === 'silence') {
          yield line(this.options.progress());
          continue;
        }
        if (next.done) return;
        if (next.value.length > 0) yield next.value.map(line).join('');
        pending = nextOf();
      }
    } finally {
      await this.end();
    }
  }
}

/** Groups an iterable's values into arrays of up to `size`. */
export async function* batches<T>(values: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const value of values) {
    batch.push(value);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
