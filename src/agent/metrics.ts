/**
 * Agent metrics with L's names and constant labels (agent.md §6.1), so existing
 * dashboards keep working; label values are bounded (no raw error text) and
 * `object_count` carries real outcome labels (§11).
 */
import { hostname } from 'node:os';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type ObjectSkippedReason, reasonSnake } from '../api/common.ts';
import { ThroughputMeter } from './throughput.ts';

export interface MetricsLabels {
  readonly service: string;
  readonly server: string;
  readonly datacenter: string;
  /** Defaults to the host name (the zone name on SmartOS). */
  readonly zonename?: string;
}

/** Bounded `error_count` labels for request-level errors. */
export type RequestErrorLabel =
  | 'bad_request'
  | 'conflict'
  | 'payload_too_large'
  | 'unauthorized'
  | 'queue_full'
  | 'internal';

export type ObjectOutcome = 'complete' | 'failed' | 'skipped';

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'req'>;
  private readonly objects: Counter<'type'>;
  private readonly errors: Counter<'error'>;
  private readonly bytes: Counter;
  private readonly assignmentTime: Histogram;
  private readonly cleanupFailures: Counter;
  private readonly bandwidthCap: Gauge;
  private readonly downloadRate = new ThroughputMeter();
  readonly queued: Gauge;
  readonly inflight: Gauge;

  constructor(labels: MetricsLabels) {
    this.registry.setDefaultLabels({
      service: labels.service,
      server: labels.server,
      datacenter: labels.datacenter,
      zonename: labels.zonename ?? hostname() ?? 'unknown',
    });
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'request_count',
      help: 'Requests received, by method',
      labelNames: ['req'],
      registers,
    });
    this.objects = new Counter({
      name: 'object_count',
      help: 'Tasks processed, by outcome',
      labelNames: ['type'],
      registers,
    });
    this.errors = new Counter({
      name: 'error_count',
      help: 'Errors, by kind (failure reasons and request errors)',
      labelNames: ['error'],
      registers,
    });
    this.bytes = new Counter({
      name: 'bytes_count',
      help: 'Bytes downloaded and verified',
      registers,
    });
    this.assignmentTime = new Histogram({
      name: 'assignment_time',
      help: 'Seconds to process one assignment',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
      registers,
    });
    this.cleanupFailures = new Counter({
      name: 'temp_cleanup_error_count',
      help: 'Temporary files that could not be removed',
      registers,
    });
    this.bandwidthCap = new Gauge({
      name: 'rebalancer_agent_max_bytes_per_second',
      help: 'Download bandwidth cap of all downloads together (0: unlimited)',
      registers,
    });
    const downloadRate = this.downloadRate;
    new Gauge({
      name: 'rebalancer_agent_download_bytes_per_second',
      help: 'Bytes received by downloads per second, over the last 10 seconds',
      registers,
      collect() {
        this.set(downloadRate.perSecond());
      },
    });
    this.queued = new Gauge({
      name: 'assignment_queue_length',
      help: 'Assignments queued or running',
      registers,
    });
    this.inflight = new Gauge({
      name: 'downloads_in_flight',
      help: 'Tasks being processed now',
      registers,
    });
  }
  /**
   * Adds the process's own metrics (resident memory, V8 heap, event-loop delay, GC, CPU) under
   * prom-client's standard names: for the service process, not for instances inside tests.
   */
  collectProcessMetrics(): void {
    collectDefaultMetrics({ register: this.registry });
  }

  request(method: string): void {
    this.requests.inc({ req: 'total' });
    this.requests.inc({ req: method });
  }

  requestError(label: RequestErrorLabel): void {
    this.errors.inc({ error: 'total' });
    this.errors.inc({ error: label });
  }

  taskDone(outcome: ObjectOutcome, reason?: ObjectSkippedReason): void {
    this.objects.inc({ type: 'total' });
    this.objects.inc({ type: outcome });
    if (reason !== undefined) {
      this.errors.inc({ error: 'total' });
      this.errors.inc({ error: reasonSnake(reason) });
    }
  }

  bytesVerified(n: number): void {
    this.bytes.inc(n);
  }

  /** Body bytes received (before verification): the measured download rate. */
  bytesReceived(n: number): void {
    this.downloadRate.add(n);
  }

  maxBytesPerSecond(cap: number): void {
    this.bandwidthCap.set(cap);
  }

  assignmentFinished(seconds: number): void {
    this.assignmentTime.observe(seconds);
  }

  cleanupFailed(): void {
    this.cleanupFailures.inc();
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
