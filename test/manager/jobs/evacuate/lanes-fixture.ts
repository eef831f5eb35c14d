/**
 * AgentLanes over scripted agents, as the lane tests build them: the manager's real agent
 * client on real sockets, the job's pause gate, pacer and blockers real too, and the lanes'
 * outcomes recorded as `kind:id[:detail]` rather than written to a store.
 */
import { randomUUID } from 'node:crypto';
import type { JobLimits } from '../../../../src/api/limits.ts';
import { Gate } from '../../../../src/async/index.ts';
import {
  AgentLanes,
  type BuiltAssignment,
  type LaneOutcomes,
} from '../../../../src/manager/jobs/evacuate/agent-lanes.ts';
import { Blockers } from '../../../../src/manager/jobs/evacuate/blockers.ts';
import { PostPacer } from '../../../../src/manager/jobs/evacuate/limits.ts';
import type { EvacuateSettings } from '../../../../src/manager/jobs/evacuate/types.ts';
import { UNLIMITED } from '../../../../src/manager/store/index.ts';
import { OTHER, silent, TEST_SETTINGS } from './helpers.ts';
import type { scriptedAgents } from './scripted-agent.ts';

type Shark = { manta_storage_id: string; datacenter: string };

/** A built assignment of `tasks` tasks of `bytesEach` bytes to `dest`. */
export function built(dest: Shark, tasks = 1, bytesEach = 10): BuiltAssignment {
  const id = randomUUID();
  return {
    record: {
      id,
      jobId: 'job',
      destShark: dest.manta_storage_id,
      destDatacenter: dest.datacenter,
      state: 'init',
      taskCount: tasks,
      totalBytes: tasks * bytesEach,
      createdAt: new Date(),
      postedAt: undefined,
    },
    dest,
    tasks: Array.from({ length: tasks }, (_, i) => ({
      object_id: `${id}-${i}`,
      owner: 'acct',
      md5sum: 'bWQ1bWQ1bWQ1bWQ1bWQ1bQ==',
      source: OTHER,
      status: 'Pending' as const,
    })),
  };
}

export interface LanesOptions {
  settings?: Partial<EvacuateSettings>;
  /** This outcome throws (the store failing). */
  throwOn?: keyof LaneOutcomes;
  limits?: JobLimits;
  paused?: boolean;
}

/** Lanes over the scripted agents; every outcome is recorded as `kind:id[:detail]`. */
export function lanesOver(
  agents: Awaited<ReturnType<typeof scriptedAgents>>,
  options: LanesOptions = {},
) {
  const events: string[] = [];
  const failures: string[] = [];
  const abort = new AbortController();
  const cancel = new AbortController();
  const note = (kind: keyof LaneOutcomes, a: BuiltAssignment, detail?: string | number) => {
    events.push([kind, a.record.id, detail].filter((x) => x !== undefined).join(':'));
    if (kind === options.throwOn) throw new Error('the store failed');
  };
  const outcomes: LaneOutcomes = {
    posted: async (a) => note('posted', a),
    finished: async (a, failed) => note('finished', a, failed.length),
    refused: async (a, reason) => note('refused', a, reason),
    abandoned: async (a, reason) => note('abandoned', a, reason),
    withdrawn: async (a) => note('withdrawn', a),
  };
  const gate = new Gate(!options.paused);
  const pacer = new PostPacer(options.limits ?? UNLIMITED);
  const blockers = new Blockers();
  const lanes = new AgentLanes({
    agents: agents.client,
    outcomes,
    settings: { ...TEST_SETTINGS, ...options.settings },
    log: silent,
    signal: abort.signal,
    fail: (stage, err) => failures.push(`${stage}: ${(err as Error).message}`),
    control: { gate, pacer, cancelled: cancel.signal },
    blockers,
  });
  const of = (kind: string) => events.filter((e) => e.startsWith(`${kind}:`));
  return { lanes, events, failures, abort, cancel, gate, pacer, blockers, of };
}
