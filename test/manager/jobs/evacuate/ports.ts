/**
 * The ports of the pipeline as the stage tests plug them: the real destination picker over a
 * storinfo snapshot the test controls, a Moray stand-in, and ports a test must not reach.
 */
import { PickerChooser } from '../../../../src/manager/jobs/evacuate/adapters.ts';
import {
  type AgentClient,
  type LiveRecord,
  MetadataEtagMismatchError,
  MetadataObjectNotFoundError,
  type MetadataUpdate,
  type MetadataWriter,
  type ObjectSource,
  type RecordRef,
} from '../../../../src/manager/jobs/evacuate/types.ts';
import type { DiscoveredObject } from '../../../../src/manager/store/index.ts';
import {
  DestinationPicker,
  Reservations,
  type StorinfoSnapshot,
} from '../../../../src/storinfo/index.ts';

export const EVAC = { manta_storage_id: '1.stor.test', datacenter: 'dc1' };
export const OTHER = { manta_storage_id: '2.stor.test', datacenter: 'dc2' };
export const DEST = { manta_storage_id: '3.stor.test', datacenter: 'dc1' };
export const DEST2 = { manta_storage_id: '4.stor.test', datacenter: 'dc1' };

export type Shark = { manta_storage_id: string; datacenter: string };

/** A storinfo record with room to spare. */
export function storageNode(shark: Shark, availableMB = 100_000) {
  return { ...shark, availableMB, percentUsed: 1, filesystem: '/manta', timestamp: 0 };
}

/** The real picker and reservations over a snapshot the test may replace (or remove). */
export function pickerChooser(sharks: Shark[] = [DEST], jobPrefix = 'job:') {
  let snapshot: StorinfoSnapshot | undefined = {
    nodes: sharks.map((s) => storageNode(s)),
    fetchedAt: 0,
    version: 1,
  };
  const reservations = new Reservations();
  const picker = new DestinationPicker({
    evacuated: EVAC,
    snapshot: () => snapshot,
    reservations,
    seed: 1,
  });
  return {
    chooser: new PickerChooser(picker, reservations, jobPrefix),
    reservations,
    jobPrefix,
    setSnapshot(next: Shark[] | undefined) {
      const version = (snapshot?.version ?? 1) + 1;
      snapshot =
        next === undefined
          ? undefined
          : { nodes: next.map((s) => storageNode(s)), fetchedAt: 0, version };
    },
  };
}

/** Moray stand-in: records by key, etag-conditional puts. */
export class MemoryMetadata implements MetadataWriter {
  readonly records = new Map<string, LiveRecord>();
  constructor(objects: readonly DiscoveredObject[] = []) {
    for (const o of objects) this.records.set(o.key, { etag: o.etag, value: o.object });
  }
  async putObject(u: MetadataUpdate): Promise<void> {
    const current = this.records.get(u.key);
    if (!current) throw new MetadataObjectNotFoundError(u.key);
    if (current.etag !== u.etag) throw new MetadataEtagMismatchError(u.key);
    this.records.set(u.key, { etag: `${u.etag}+`, value: u.value });
  }
  async putBatch(_shard: number, updates: readonly MetadataUpdate[]): Promise<MetadataUpdate[]> {
    for (const u of updates) await this.putObject(u);
    return [];
  }
  async getObject({ key }: RecordRef): Promise<LiveRecord | undefined> {
    return this.records.get(key);
  }
}

/** An agent client no test of this stage should reach: calling it fails the test. */
export const noAgents: AgentClient = {
  post: () => Promise.reject(new Error('unexpected post to an agent')),
  get: () => Promise.reject(new Error('unexpected poll of an agent')),
};

export const noSource: ObjectSource = {
  excludes: () => false,
  // biome-ignore lint/correctness/useYield: discovery is not this test's stage
  async *scan() {
    throw new Error('unexpected scan');
  },
};
