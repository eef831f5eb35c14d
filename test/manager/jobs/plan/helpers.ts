/**
 * What the dry-run tests share: storinfo records with known space, a scripted ObjectSource
 * that honours checkpoints as discovery does, the plan environment over the real picker and
 * reservations, and a JobContext as the runner builds it.
 */
import { randomUUID } from 'node:crypto';
import type { JobLimits } from '../../../../src/api/limits.ts';
import type { ObjectSource, SourceEvent } from '../../../../src/manager/jobs/evacuate/types.ts';
import { type PlanEnvironment, planExecutor } from '../../../../src/manager/jobs/plan/executor.ts';
import type { JobContext, JobControls } from '../../../../src/manager/jobs/runner.ts';
import type {
  DiscoveryCheckpoint,
  JobRecord,
  ManagerStore,
} from '../../../../src/manager/store/index.ts';
import {
  DestinationPicker,
  Reservations,
  type StorinfoNode,
  type StorinfoSnapshot,
} from '../../../../src/storinfo/index.ts';
import { EVAC, silent } from '../evacuate/helpers.ts';
import type { Shark } from '../evacuate/ports.ts';

export const MIB = 1024 * 1024;

/** A storinfo record: `availableMB` free, `percentUsed` used. */
export function node(shark: Shark, availableMB: number, percentUsed: number): StorinfoNode {
  return { ...shark, availableMB, percentUsed, filesystem: '/manta', timestamp: 0 };
}

export function newPlanJob(
  store: ManagerStore,
  o: { limits?: Partial<JobLimits>; maxObjects?: number } = {},
): Promise<JobRecord> {
  return store.createJob({
    id: randomUUID(),
    action: 'evacuate',
    params: { from_shark: EVAC.manta_storage_id, max_objects: o.maxObjects ?? null },
    fromShark: EVAC,
    metadataThreads: 2,
    dryRun: true,
    limits: {
      objects_per_second: null,
      bytes_per_second: null,
      metadata_updates_per_second: null,
      ...o.limits,
    },
  });
}

/**
 * Replays `events`; a checkpoint's cursor is its position, so a resumed scan starts after the
 * last checkpoint recorded (re-sending what followed it, as discovery does). `onEvent` runs
 * before each event is yielded.
 */
export function scriptedSource(
  events: readonly SourceEvent[],
  onEvent?: (index: number) => void | Promise<void>,
): ObjectSource & { scans: number } {
  const source = {
    scans: 0,
    excludes: (key: string) => key.includes('/logs/'),
    async *scan({
      resume,
      signal,
    }: {
      resume: readonly DiscoveryCheckpoint[];
      signal: AbortSignal;
    }): AsyncIterable<SourceEvent> {
      source.scans++;
      const from = Math.max(-1, ...resume.map((c) => Number(c.cursor))) + 1;
      for (let i = from; i < events.length; i++) {
        await onEvent?.(i);
        signal.throwIfAborted();
        yield events[i] as SourceEvent;
      }
    },
  };
  return source;
}

/** Checkpoints every `every` events (cursor = the checkpoint's own position). */
export function withCheckpoints(events: readonly SourceEvent[], every: number): SourceEvent[] {
  const out: SourceEvent[] = [];
  const checkpoint = (done: boolean): SourceEvent => ({
    kind: 'checkpoint',
    checkpoint: { shard: 1, cursor: String(out.length), done },
  });
  events.forEach((e, i) => {
    out.push(e);
    if ((i + 1) % every === 0) out.push(checkpoint(false));
  });
  out.push(checkpoint(true));
  return out;
}

export interface PlanFixture {
  env: PlanEnvironment;
  reservations: Reservations;
  /** Replaces the storinfo snapshot (undefined: none yet). */
  setNodes(nodes: StorinfoNode[] | undefined): void;
  /** Runs before each picker the executor asks for (one per page of objects). */
  onPicker: (() => void) | undefined;
  pickers: number;
}

export function planFixture(
  source: ObjectSource,
  nodes: StorinfoNode[] | undefined,
  settings: Partial<PlanEnvironment['settings']> = {},
  picker: { maxFillPercentage?: number; minAvailableMb?: number } = {},
): PlanFixture {
  let snapshot: StorinfoSnapshot | undefined =
    nodes === undefined ? undefined : { nodes, fetchedAt: 0, version: 1 };
  let version = 1;
  const reservations = new Reservations();
  const fixture: PlanFixture = {
    reservations,
    onPicker: undefined,
    pickers: 0,
    setNodes(next) {
      version++;
      snapshot = next === undefined ? undefined : { nodes: next, fetchedAt: 0, version };
    },
    env: {
      source,
      reservations,
      picker: (job) => {
        fixture.pickers++;
        fixture.onPicker?.();
        return new DestinationPicker({
          evacuated: job.fromShark,
          snapshot: () => snapshot,
          reservations,
          minAvailableMb: picker.minAvailableMb ?? 0,
          ...(picker.maxFillPercentage === undefined
            ? {}
            : { maxFillPercentage: picker.maxFillPercentage }),
          seed: 7,
        });
      },
      settings: {
        recordBatch: 500,
        storePage: 1000,
        outcomeBatch: 100,
        waitForDestinationsMs: 5,
        ...settings,
      },
    },
  };
  return fixture;
}

export interface RunHandle {
  done: Promise<void>;
  controls(): JobControls;
  abort(reason?: unknown): void;
}

/** Runs the plan executor over `job` as the runner does. */
export function runPlan(
  fixture: PlanFixture,
  store: ManagerStore,
  job: JobRecord,
  evacuating: () => Set<string> = () => new Set(),
): RunHandle {
  const abort = new AbortController();
  let controls: JobControls | undefined;
  const ctx: JobContext = {
    job,
    store,
    signal: abort.signal,
    log: silent,
    registerControls: (c) => {
      controls = c;
    },
    evacuating,
    paused: false,
  };
  return {
    done: planExecutor(fixture.env)(ctx),
    controls() {
      if (!controls) throw new Error('the plan registered no controls');
      return controls;
    },
    abort(reason = new Error('stopped')) {
      abort.abort(reason);
    },
  };
}
