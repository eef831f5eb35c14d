/**
 * Moray mode (protocols.md §5.3): scan one shard's `manta` table through the Moray `sql` RPC
 * in `_id` windows, with sharkspotter's statements (but only the columns used), for each id
 * column in turn. The next windows are requested while the current one is handed over.
 *
 * Differences from sharkspotter, on purpose: a window that fails is retried and then fails the
 * whole discovery naming the shard and window (sharkspotter logged and went on, returning a
 * silently short result); a missing `_idx` column is recognised as such, any other error on
 * `MAX()` is a failure (sharkspotter took 0); an empty table is not queried; rows found by the
 * `_idx` scan that also have an `_id` are left to the `_id` scan so nothing is reported twice;
 * the first windows are smaller than the chunk (sharkspotter's are all one size), so the first
 * objects reach placement a second sooner and the first window's parsing does not hold the
 * manager's event loop (a status request waited 0.5 s behind it at the start of a job).
 */
import { RetriesExhaustedError, retry } from '../async/index.ts';
import { interpretRow, type RowContext, type RowOutcome, rowIdOf } from './record.ts';
import type { RetryPolicy } from './retry.ts';
import {
  type Checkpoint,
  type DiscoveryEvent,
  DiscoveryShardError,
  type IdColumn,
  type MoraySqlClient,
} from './types.ts';

export interface MorayScanOptions {
  readonly shard: number;
  readonly client: MoraySqlClient;
  readonly column: IdColumn;
  readonly chunkSize: number;
  /** Windows requested ahead of the one being handed over (≥ 1). */
  readonly windowsInFlight: number;
  /** Resume after this id (from a checkpoint); from 0 when absent. */
  readonly after: bigint | undefined;
  readonly retry: RetryPolicy;
  /**
   * The `timeout` option sharkspotter sends with each window (ms, enforced by the server);
   * twice that is sent as `timeoutMs`, the MorayClient's client-side bound, so a hung shard
   * fails the window instead of stalling discovery.
   */
  readonly requestTimeoutMs: number;
  readonly row: Omit<RowContext, 'column' | 'shard'>;
  readonly signal: AbortSignal;
  readonly onRetry: (err: unknown, attempt: number, window: string) => void;
  readonly onRows: (rows: number) => void;
}

/**
 * The columns a window reads. sharkspotter asks for `*`; the other columns (the indexed copies
 * of value fields, `_mtime`, `_vnode`, `_txn_snap`) are never used, and leaving them out spares
 * the shard and this process about 40% of the encoding, checksumming and parsing per row.
 */
const WINDOW_COLUMNS: Record<IdColumn, string> = {
  _id: '_id, _key, _value, _etag',
  _idx: '_id, _idx, _key, _value, _etag',
};

/** The column has no such column on this table (older tables have no `_idx`). */
function isMissingColumn(err: unknown, column: IdColumn): boolean {
  const e = err as { message?: unknown; code?: unknown; context?: { code?: unknown } };
  if (e?.code === '42703' || e?.context?.code === '42703') return true;
  return (
    typeof e?.message === 'string' &&
    new RegExp(`column "?${column}"? does not exist`, 'i').test(e.message)
  );
}

function parseMax(rows: unknown[]): bigint | null {
  if (rows.length !== 1) throw new Error(`MAX query returned ${rows.length} rows, expected 1`);
  const row = rows[0];
  const max = typeof row === 'object' && row !== null ? (row as { max?: unknown }).max : undefined;
  if (max === null) return null;
  if (typeof max === 'number' && Number.isSafeInteger(max)) return BigInt(max);
  if (typeof max === 'string' && /^-?[0-9]+$/.test(max)) return BigInt(max);
  throw new Error(`MAX query returned ${JSON.stringify(row)}, expected {"max": <integer>}`);
}

async function collect(iterable: AsyncIterable<unknown>): Promise<unknown[]> {
  const rows: unknown[] = [];
  for await (const row of iterable) rows.push(row);
  return rows;
}

export async function* scanMorayColumn(o: MorayScanOptions): AsyncGenerator<DiscoveryEvent> {
  const ctx: RowContext = { ...o.row, shard: o.shard, column: o.column };
  const done = (through: bigint | undefined): Checkpoint => ({
    kind: 'checkpoint',
    shard: o.shard,
    column: o.column,
    through: through?.toString(),
    done: true,
  });
  const maxStatement = `SELECT MAX(${o.column}) FROM manta;`;
  let max: bigint | null | 'absent';
  try {
    max = await retry(
      async () => {
        try {
          return parseMax(
            await collect(o.client.sql(maxStatement, [], { limit: 1, no_count: true })),
          );
        } catch (err) {
          if (o.column === '_idx' && isMissingColumn(err, o.column)) return 'absent' as const;
          throw err;
        }
      },
      retryOptions(o, o.signal, maxStatement),
    );
  } catch (err) {
    throw shardError(o, `MAX()`, undefined, err);
  }
  if (max === 'absent' || max === null) {
    yield done(o.after);
    return;
  }
  const chunk = BigInt(o.chunkSize);
  let next = o.after === undefined ? 0n : o.after + 1n;
  if (next > max) {
    yield done(o.after);
    return;
  }
  const last = max;
  // Windows read ahead stop when the scan ends early (failure, consumer gone, abort).
  const stopReading = new AbortController();
  const signal = AbortSignal.any([o.signal, stopReading.signal]);
  const inFlight: { window: Window; result: Promise<Settled> }[] = [];
  let span = firstWindowSpan(chunk);
  const launch = () => {
    if (next > last) return;
    const window = { start: next, stop: next + span - 1n < last ? next + span - 1n : last };
    next = window.stop + 1n;
    span = span * 2n < chunk ? span * 2n : chunk;
    // Settled here so a window read ahead that fails after an earlier failure (or after the
    // scan was stopped) is not an unhandled rejection; its error is reported when reached.
    const result = readWindow(o, ctx, window, signal).then(
      (value): Settled => ({ ok: true, value }),
      (error: unknown): Settled => ({ ok: false, error }),
    );
    inFlight.push({ window, result });
  };
  try {
    while (inFlight.length < o.windowsInFlight && next <= last) launch();
    for (let head = inFlight.shift(); head !== undefined; head = inFlight.shift()) {
      const settled = await head.result;
      if (!settled.ok) {
        throw shardError(
          o,
          head.window.start.toString(),
          head.window.stop.toString(),
          settled.error,
        );
      }
      // The next window is read while this one is handed over.
      launch();
      o.onRows(settled.value.rows);
      yield* settled.value.outcomes;
      yield {
        kind: 'checkpoint',
        shard: o.shard,
        column: o.column,
        through: head.window.stop.toString(),
        done: head.window.stop >= last,
      };
    }
  } finally {
    stopReading.abort(new Error('moray scan stopped'));
  }
}

/**
 * The first window spans a sixteenth of the chunk and each next one twice the last, up to the
 * chunk: a window is read whole before any of its objects is handed over.
 */
function firstWindowSpan(chunk: bigint): bigint {
  const span = chunk / 16n;
  return span > 0n ? span : 1n;
}

interface Window {
  readonly start: bigint;
  readonly stop: bigint;
}

interface WindowRows {
  readonly outcomes: NonNullable<RowOutcome>[];
  readonly rows: number;
}

type Settled = { ok: true; value: WindowRows } | { ok: false; error: unknown };

/**
 * Reads one window (sharkspotter's statement, used columns only). The whole window is read before any of it is
 * yielded, so a retry never repeats events.
 */
function readWindow(
  o: MorayScanOptions,
  ctx: RowContext,
  window: Window,
  signal: AbortSignal,
): Promise<WindowRows> {
  const { start, stop } = window;
  const statement =
    `SELECT ${WINDOW_COLUMNS[o.column]} FROM manta WHERE ${o.column} >= ${start} AND ` +
    `${o.column} <= ${stop} AND type = 'object' limit ${o.chunkSize};`;
  const options = { timeout: o.requestTimeoutMs, timeoutMs: 2 * o.requestTimeoutMs };
  return retry(
    async () => {
      const outcomes: NonNullable<RowOutcome>[] = [];
      let rows = 0;
      for await (const raw of o.client.sql(statement, [], options)) {
        if (signal.aborted) throw signal.reason;
        rows++;
        if (o.column === '_idx' && isObjectWithId(raw)) continue;
        const outcome = interpretRow(raw, ctx);
        if (outcome) outcomes.push(outcome);
      }
      return { outcomes, rows };
    },
    retryOptions(o, signal, `${o.column} ${start}..${stop}`),
  );
}

/** The shard's policy as the toolkit's retry options; retries are reported naming `window`. */
function retryOptions(o: MorayScanOptions, signal: AbortSignal, window: string) {
  return {
    attempts: o.retry.retries + 1,
    delay: o.retry.delay,
    signal,
    onRetry: (err: unknown, attempt: number) => o.onRetry(err, attempt, window),
  };
}

/** Rows with a non-null `_id` belong to the `_id` scan. */
function isObjectWithId(raw: unknown): boolean {
  return (
    typeof raw === 'object' &&
    raw !== null &&
    rowIdOf(raw as Record<string, unknown>, '_id') !== undefined
  );
}

function shardError(
  o: MorayScanOptions,
  from: string,
  to: string | undefined,
  err: unknown,
): unknown {
  if (o.signal.aborted) return err;
  const attempts = err instanceof RetriesExhaustedError ? err.attempts : 1;
  const cause = err instanceof RetriesExhaustedError ? err.lastError : err;
  return new DiscoveryShardError(o.shard, o.column, { from, to }, attempts, cause);
}
