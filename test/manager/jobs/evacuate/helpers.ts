/**
 * What the stage tests share: the real manager store (PGlite, or real PostgreSQL when
 * REBALANCER_TEST_PG_URL is set), full Manta records, an EvacuateContext wired as the pipeline
 * wires it (real queues, lanes, record updater, semaphore), the real destination picker over a
 * fixed storinfo snapshot, and small stand-ins for the ports a test does not exercise.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Task } from '../../../../src/api/common.ts';
import type { JobLimits } from '../../../../src/api/limits.ts';
import type { SingleCopies } from '../../../../src/api/manager.ts';
import { BoundedQueue, Gate, Semaphore } from '../../../../src/async/index.ts';
import { createLogger, type Logger } from '../../../../src/log/index.ts';
import {
  AgentLanes,
  type BuiltAssignment,
} from '../../../../src/manager/jobs/evacuate/agent-lanes.ts';
import { Blockers } from '../../../../src/manager/jobs/evacuate/blockers.ts';
import {
  type EvacuateContext,
  NeverDestinations,
  PlaceAgain,
  StageError,
  WorkInFlight,
} from '../../../../src/manager/jobs/evacuate/context.ts';
import {
  MetadataBudgets,
  MetadataPacer,
  PostPacer,
} from '../../../../src/manager/jobs/evacuate/limits.ts';
import {
  buildTask,
  objectFacts,
  sourceCopy,
} from '../../../../src/manager/jobs/evacuate/object.ts';
import { RecordUpdater } from '../../../../src/manager/jobs/evacuate/record-update.ts';
import { checkOutcomes } from '../../../../src/manager/jobs/evacuate/stages/check.ts';
import {
  type AgentClient,
  DEFAULT_SETTINGS,
  type DestinationChooser,
  type EvacuateSettings,
  type MetadataWriter,
  type ObjectSource,
} from '../../../../src/manager/jobs/evacuate/types.ts';
import { ManagerMetrics } from '../../../../src/manager/metrics.ts';
import {
  type AssignmentRecord,
  type DiscoveredObject,
  type JobRecord,
  type ManagerStore,
  UNLIMITED,
} from '../../../../src/manager/store/index.ts';
import {
  DEST,
  EVAC,
  MemoryMetadata,
  noAgents,
  noSource,
  OTHER,
  pickerChooser,
  type Shark,
} from './ports.ts';

export {
  DEST,
  DEST2,
  EVAC,
  MemoryMetadata,
  OTHER,
  pickerChooser,
  type Shark,
} from './ports.ts';

export const silent: Logger = createLogger({ name: 'stage-test', level: 'silent' });

/** Short timings, small batches: every stage reacts within milliseconds. */
export const TEST_SETTINGS: EvacuateSettings = {
  ...DEFAULT_SETTINGS,
  maxTasksPerAssignment: 3,
  metadataThreads: 4,
  waitForDestinationsMs: 10,
  busyDelayMs: () => 1,
  checkIntervalMs: 5,
  agentRetryDelayMs: () => 5,
  metadataBackoffMs: () => 1,
  queueCapacity: 16,
};

export function newJob(store: ManagerStore, retryOf?: string): Promise<JobRecord> {
  return store.createJob({
    id: randomUUID(),
    action: 'evacuate',
    params: { from_shark: EVAC.manta_storage_id, max_objects: null },
    fromShark: EVAC,
    metadataThreads: 2,
    ...(retryOf === undefined ? {} : { retryOf }),
  });
}

/** A discovered object with a full, valid Manta record (protocols.md §4). */
export function mantaObject(
  id: string,
  options: { shard?: number; sharks?: Shark[]; size?: number; extra?: object } = {},
): DiscoveredObject {
  const key = `/acct/stor/${id}`;
  const shard = options.shard ?? 1;
  return {
    id,
    key,
    shard,
    etag: `etag-${id}`,
    object: {
      key,
      owner: 'acct',
      type: 'object',
      objectId: id,
      contentLength: options.size ?? 10,
      contentMD5: 'bWQ1bWQ1bWQ1bWQ1bWQ1bQ==',
      sharks: (options.sharks ?? [EVAC, OTHER]).map((s) => ({ ...s })),
      ...options.extra,
    },
  };
}

export interface Harness {
  ctx: EvacuateContext;
  /** Where the lanes' check outcomes send finished assignments (the metadata stage's input). */
  finished: BoundedQueue<AssignmentRecord>;
  /** What the lanes reported as job failures. */
  failures: StageError[];
  metrics: ManagerMetrics;
  /** A graceful cancel, as the pipeline's drain(). */
  drain(): void;
  /** The run fails or stops: the job's signal. */
  abort(reason?: unknown): void;
}

export interface HarnessOptions {
  store: ManagerStore;
  job: Pick<JobRecord, 'id' | 'fromShark' | 'retryOf'>;
  source?: ObjectSource;
  chooser?: DestinationChooser;
  agents?: AgentClient;
  metadata?: MetadataWriter;
  settings?: Partial<EvacuateSettings>;
  evacuating?: () => Iterable<string>;
  log?: Logger;
  limits?: JobLimits;
  metadataBudgets?: MetadataBudgets;
  /** As a new job's default: single copies are copied from the evacuated shark. */
  singleCopies?: SingleCopies;
}

/** The context of one run of `job`, built the way pipeline.ts builds it. */
export function harness(o: HarnessOptions): Harness {
  const settings = { ...TEST_SETTINGS, ...o.settings };
  const abort = new AbortController();
  const intake = new AbortController();
  setMaxListeners(1024, abort.signal);
  let draining = false;
  const log = o.log ?? silent;
  const metrics = new ManagerMetrics();
  const deps = {
    store: o.store,
    source: o.source ?? noSource,
    chooser: o.chooser ?? pickerChooser().chooser,
    agents: o.agents ?? noAgents,
    metadata: o.metadata ?? new MemoryMetadata(),
    metrics,
    log,
    ...(o.evacuating === undefined ? {} : { evacuating: o.evacuating }),
  };
  const evacuated = o.job.fromShark.manta_storage_id;
  const finished = new BoundedQueue<AssignmentRecord>(64);
  const limits = o.limits ?? UNLIMITED;
  const pacing = {
    gate: new Gate(),
    posts: new PostPacer(limits),
    metadata: new MetadataPacer(
      o.metadataBudgets ?? new MetadataBudgets(null),
      limits.metadata_updates_per_second,
    ),
  };
  const blockers = new Blockers();
  const base: Omit<EvacuateContext, 'lanes'> = {
    jobId: o.job.id,
    fromShark: o.job.fromShark,
    evacuated,
    singleCopies: o.singleCopies ?? 'copy',
    retryOf: o.job.retryOf,
    deps,
    settings,
    signal: abort.signal,
    intake: intake.signal,
    draining: () => draining,
    records: new RecordUpdater({
      metadata: deps.metadata,
      settings,
      evacuated,
      log,
      signal: abort.signal,
      pacer: pacing.metadata,
      blockers,
    }),
    mdLimit: new Semaphore(settings.metadataThreads),
    never: new NeverDestinations(evacuated, deps.evacuating),
    placeAgain: new PlaceAgain(settings.maxPlacementsPerObject, () => draining),
    inFlight: new WorkInFlight(),
    stats: { bytesMoved: 0 },
    pacing,
    blockers,
  };
  const failures: StageError[] = [];
  const lanes = new AgentLanes({
    agents: deps.agents,
    outcomes: checkOutcomes(base, finished),
    settings,
    log,
    signal: abort.signal,
    fail: (stage, err) => failures.push(new StageError(stage, err)),
    control: { gate: pacing.gate, pacer: pacing.posts, cancelled: intake.signal },
    blockers,
  });
  const ctx: EvacuateContext = { ...base, lanes };
  return {
    ctx,
    finished,
    failures,
    metrics,
    drain() {
      draining = true;
      intake.abort(new Error('the job was cancelled'));
    },
    abort(reason = new Error('the job was stopped')) {
      abort.abort(reason);
      finished.fail(reason);
      lanes.notify();
    },
  };
}

/**
 * Records `objects` and builds one assignment of them to `dest` in the store (what placement
 * leaves behind), with the tasks an agent gets.
 */
export async function storedAssignment(
  h: Harness,
  objects: readonly DiscoveredObject[],
  dest: Shark = DEST,
): Promise<BuiltAssignment> {
  const { store } = h.ctx.deps;
  await store.recordDiscovered(h.ctx.jobId, objects);
  const created = await store.createAssignment(h.ctx.jobId, {
    id: randomUUID(),
    destShark: dest.manta_storage_id,
    destDatacenter: dest.datacenter,
    totalBytes: objects.reduce((s, o) => s + Number(o.object.contentLength), 0),
    objectIds: idsOf(objects),
  });
  if (!created) throw new Error('the store built no assignment');
  const tasks: Task[] = objects.map((o) => {
    const facts = objectFacts(o.object);
    const source = sourceCopy(facts, h.ctx.evacuated, {
      fromEvacuated: h.ctx.singleCopies === 'copy',
    });
    if (!source) throw new Error(`${o.id} has no source copy`);
    return buildTask(o.id, facts, source);
  });
  return { record: created.assignment, dest, tasks };
}

/** The ids of `objects`, in order. */
export const idsOf = (objects: readonly DiscoveredObject[]): string[] => objects.map((o) => o.id);

/** Every object's status (and reason or error) in the store, by id. */
export async function statuses(
  store: ManagerStore,
  jobId: string,
  ids: readonly string[],
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const id of ids) {
    const o = await store.getObject(jobId, id);
    out[id] =
      o === undefined ? 'absent' : [o.status, o.skippedReason ?? o.error].filter(Boolean).join(':');
  }
  return out;
}

/**
 * The job's non-zero counters, `status:name` (or `skip:reason`, ...) to count; the bytes per
 * status (`bytes_status`) only follow the objects', and are left out.
 */
export async function countsOf(
  store: ManagerStore,
  jobId: string,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const c of await store.counts(jobId))
    if (c.count > 0 && c.bucket !== 'bytes_status') out[`${c.bucket}:${c.name}`] = c.count;
  return out;
}

/** Polls `cond` every few ms; fails after `ms` so a bug cannot hang the file. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A counter's value for one label value (0 when absent), from the metrics' text. */
export async function counter(
  metrics: ManagerMetrics,
  name: string,
  label: string,
  value: string,
): Promise<number> {
  const text = await metrics.text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && l.includes(`${label}="${value}"`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}
