/**
 * How far the jobs running in this process are (issue 15), for `GET /jobs/:id` and `GET /jobs`.
 * A timer samples each running job's counters every few seconds into a ring of about a minute:
 * the rates come from that ring, so they do not depend on how often anyone polls, and a stall
 * is noticed (and recorded as a job event) whether anyone is watching or not. The ETA is what
 * is left over the last minute's object rate, and null whenever that would be a guess: while
 * discovery runs (the total is itself an estimate), and until objects have settled at a
 * measured rate for `minRateSpanMs`. The rate counts from the last sample before objects began
 * to settle, and from the end of discovery, not from the job's start: the start-up before the
 * first object settles (discovery, the first assignments) would make it a fraction of the real
 * one, and a short job's first ETA many times too long. Every
 * `historyIntervalMs`, and when a job stops, one sample is also kept in the store (history.ts).
 */
import type { JobProgress } from '../../api/progress.ts';
import type { Logger } from '../../log/index.ts';
import type { CountRow, JobRecord, ManagerStore } from '../store/index.ts';
import { HistoryRecorder } from './history.ts';
import { SETTLED_STATUSES, settled, totals } from './progress-totals.ts';
import type { Blocker } from './runner.ts';

export { usedBytesOf } from './progress-totals.ts';

export interface ProgressTrackerOptions {
  readonly store: ManagerStore;
  /** The ids of the jobs running in this process (`runner.runningIds()`). */
  readonly running: () => Iterable<string>;
  /** What holds a job up now (`runner.controls(id)?.blockers?.() ?? []`). */
  readonly blockers: (jobId: string) => readonly Blocker[];
  /** The bytes storinfo says a shark uses (`usedBytesOf` of its node); undefined if unknown. */
  readonly sharkUsedBytes: (storageId: string) => number | undefined;
  /** How long a running job may settle no object before it is stalled (stall_after_seconds). */
  readonly stallAfterMs: () => number;
  readonly log: Logger;
  /**
   * Default 1 s: an ETA is due from 10% of a job on, which a short job reaches in seconds; a
   * sample is one read of the job's few counter rows.
   */
  readonly sampleIntervalMs?: number;
  /** The rates' window. Default 60 s. */
  readonly windowMs?: number;
  /** No rate (and so no ETA) before the samples since objects began to settle span this long. Default 5 s. */
  readonly minRateSpanMs?: number;
  /**
   * Time between a running job's samples kept in the store for its history (history.ts).
   * Default 10 s: a week-long job keeps some 60,000 small rows.
   */
  readonly historyIntervalMs?: number;
}

interface Sample {
  at: number;
  done: number;
  bytesDone: number;
}

interface Tracked {
  /** Oldest first, the window and a little more. */
  readonly samples: Sample[];
  lastDone: number;
  /** When objects_done last changed, or the job was first seen or last not running. */
  lastChange: number;
  /**
   * Where rates begin: the last sample of this run before objects began to settle (its first
   * sample, for a job that resumes settling). Unset again while the job is not running, so a
   * pause does not count as a slow stretch.
   */
  rateFrom: number | undefined;
  /** Whether objects have settled since rateFrom; until then rateFrom follows the samples. */
  settling: boolean;
  /** objects_done at rateFrom. */
  quietDone: number;
  /** While it is stalled: since when (its last change then). */
  stalledSince: number | undefined;
}

/** Far more than a window of samples at any sane interval: memory stays bounded regardless. */
const MAX_SAMPLES = 4096;

export class ProgressTracker {
  readonly #o: ProgressTrackerOptions;
  readonly #interval: number;
  readonly #window: number;
  readonly #minSpan: number;
  readonly #jobs = new Map<string, Tracked>();
  readonly #history: HistoryRecorder;
  #timer: NodeJS.Timeout | undefined;
  #sampling: Promise<void> | undefined;

  constructor(options: ProgressTrackerOptions) {
    this.#o = options;
    this.#interval = options.sampleIntervalMs ?? 1000;
    this.#window = options.windowMs ?? 60_000;
    this.#minSpan = options.minRateSpanMs ?? 5000;
    this.#history = new HistoryRecorder({
      store: options.store,
      log: options.log,
      intervalMs: options.historyIntervalMs ?? 10_000,
    });
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      // A round slower than the interval is not overlapped by the next one.
      this.#sampling ??= this.sample().finally(() => {
        this.#sampling = undefined;
      });
    }, this.#interval);
    this.#timer.unref();
  }

  /** Stops sampling; resolves once a round under way has ended (the store may close then). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sampling;
  }

  /** One round: every running job's counters, stalls noticed and recorded, history kept. */
  async sample(): Promise<void> {
    const running = new Set(this.#o.running());
    for (const id of this.#jobs.keys()) {
      if (running.has(id)) continue;
      this.#jobs.delete(id);
      this.#history.ended(id);
    }
    await this.#history.flush();
    for (const id of running) {
      try {
        await this.#sampleJob(id);
      } catch (err) {
        this.#o.log.warn({ err, job: id }, 'progress: sampling the job failed');
      }
    }
  }

  /** `job`'s progress from its current `counts` (those `GET /jobs/:id` reads anyway). */
  async progress(job: JobRecord, counts: readonly CountRow[]): Promise<JobProgress> {
    const now = Date.now();
    const t = await totals(job, counts, {
      latestPlanOf: (shark) => this.#o.store.latestPlanOf(shark),
      sharkUsedBytes: (id) => this.#o.sharkUsedBytes(id),
    });
    const tracked = job.state === 'running' ? this.#jobs.get(job.id) : undefined;
    const rate = tracked === undefined ? undefined : this.#rate(tracked, now, t, job.discoveredAt);
    const left = Math.max(0, t.objects - t.done);
    // Against an estimated total (discovery still running), the time left is a guess too; with
    // every object settled, what is left (a convergence round, the final audit) is not paced by
    // the object rate at all.
    const eta =
      rate === undefined || rate.objects === 0 || t.isEstimate || left === 0 ? null : rate;
    return {
      objects_done: t.done,
      objects_total: t.objects,
      bytes_done: t.bytesDone,
      bytes_total: t.bytes,
      total_is_estimate: t.isEstimate,
      objects_per_second: rate?.objects ?? 0,
      bytes_per_second: rate?.bytes ?? 0,
      eta_seconds: eta === null ? null : Math.round((left / eta.objects) * 10) / 10,
      stalled:
        tracked?.stalledSince === undefined
          ? null
          : {
              since: new Date(tracked.stalledSince).toISOString(),
              reason: this.#reason(job.id, now - tracked.stalledSince, now),
            },
    };
  }

  async #sampleJob(id: string): Promise<void> {
    const { store } = this.#o;
    const job = await store.getJob(id);
    if (job === undefined) return;
    const counts = await store.counts(id);
    const { done, bytesDone } = settled(counts);
    const at = Date.now();
    let t = this.#jobs.get(id);
    if (t === undefined) {
      t = {
        samples: [],
        lastDone: done,
        lastChange: at,
        stalledSince: undefined,
        rateFrom: undefined,
        settling: false,
        quietDone: done,
      };
      this.#jobs.set(id, t);
    }
    t.samples.push({ at, done, bytesDone });
    if (job.state !== 'running') {
      t.rateFrom = undefined;
      t.settling = false;
    } else if (t.rateFrom !== undefined && done > t.quietDone) {
      t.settling = true;
    } else if (!t.settling) {
      t.rateFrom = at;
      t.quietDone = done;
    }
    const oldest = at - this.#window - 2 * this.#interval;
    while (t.samples.length > MAX_SAMPLES || (t.samples[0]?.at ?? at) < oldest) t.samples.shift();
    if (done !== t.lastDone || job.state !== 'running') {
      // Moving, or paused (or setting up): the stall clock starts over.
      t.lastDone = done;
      t.lastChange = at;
    }
    // A dry run or an audit moves nothing: it has no progress to stall. Nor has an evacuation
    // with everything found settled (between convergence rounds, during its final audit).
    const open = counts.some(
      (c) => c.bucket === 'status' && !SETTLED_STATUSES.has(c.name) && c.count > 0,
    );
    const stall =
      job.state === 'running' &&
      job.action === 'evacuate' &&
      !job.dryRun &&
      (open || job.discoveredAt === undefined) &&
      at - t.lastChange >= this.#o.stallAfterMs();
    // Each change is recorded before it is taken: a failed write is retried the next round.
    if (stall && t.stalledSince === undefined) {
      await store.recordJobEvent(id, 'stalled', {
        since: new Date(t.lastChange).toISOString(),
        objects_done: done,
        reason: this.#reason(id, at - t.lastChange, at),
      });
      t.stalledSince = t.lastChange;
    } else if (!stall && t.stalledSince !== undefined) {
      await store.recordJobEvent(id, 'unstalled', {
        objects_done: done,
        stalled_seconds: Math.round((at - t.stalledSince) / 1000),
        ...(job.state === 'running' ? {} : { state: job.state }),
      });
      t.stalledSince = undefined;
    }
    await this.#history.observe(id, at, done, bytesDone);
  }

  /**
   * Objects/s and bytes/s from the window's oldest sample from `rateFrom` on to `t` now, and
   * not from before discovery ended: objects settled while the scan ran shared the shards, the
   * database and the machines with it, and do not tell the pace after it (a short job's first
   * ETA was several times too long).
   */
  #rate(
    tracked: Tracked,
    now: number,
    t: { done: number; bytesDone: number },
    discoveredAt: Date | undefined,
  ): { objects: number; bytes: number } | undefined {
    if (tracked.rateFrom === undefined) return undefined;
    const since = Math.max(tracked.rateFrom, discoveredAt?.getTime() ?? 0);
    const first = tracked.samples.find((s) => s.at >= Math.max(since, now - this.#window));
    if (first === undefined) return undefined;
    const span = now - first.at;
    if (span < this.#minSpan) return undefined;
    return {
      objects: Math.max(0, ((t.done - first.done) * 1000) / span),
      bytes: Math.max(0, ((t.bytesDone - first.bytesDone) * 1000) / span),
    };
  }

  /** Who holds the job up and what they answer; or that no one reports anything. */
  #reason(jobId: string, quietMs: number, now: number): string {
    const blockers = this.#o.blockers(jobId);
    if (blockers.length === 0) {
      return `no object has settled for ${duration(quietMs)}; no agent or shard reports a problem`;
    }
    return blockers
      .map((b) => `${b.source}: ${b.problem} (since ${duration(now - b.since)})`)
      .join('; ');
  }
}

/** `45s`, `5m`, `2h10m`: a blocker's age, to the unit that matters. */
function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
}
