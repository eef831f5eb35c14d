/**
 * Resolves the shark an operator names (a full storage id or a short name such as `1.stor`)
 * to its full id and datacenter (manager.md §4.2), so that an unknown shark is refused when
 * the job is created (400) instead of failing later.
 *
 * The authority is Moray's `manta_storage` bucket on shard 1, as for L: minnow's record stays
 * there when an operator disables minnow and storinfo drops the shark (peers.md §1.2, §5.2),
 * which is exactly when a shark is evacuated.
 */
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { StorageNode } from '../api/common.ts';
import { RebalancerError } from '../errors.ts';
import { eq, type MorayClient } from '../moray/index.ts';

export interface SharkDirectory {
  /** The shark, or undefined when it is unknown; throws when the directory cannot answer. */
  resolve(name: string, signal?: AbortSignal): Promise<StorageNode | undefined>;
}

/** The candidate full ids for a name: as given, and with `.<domain>` appended (as L does). */
export function candidateIds(name: string, domain: string | undefined): string[] {
  const ids = [name];
  if (domain && domain !== '' && !name.endsWith(`.${domain}`)) ids.push(`${name}.${domain}`);
  return ids;
}

/** Moray's bucket of storage node records, written by minnow (protocols.md §3.2, §4). */
export const MANTA_STORAGE_BUCKET = 'manta_storage';

/**
 * The members of a minnow record the manager needs to name a shark (protocols.md §4); the
 * others (availableMB, percentUsed, timestamp, ...) are live state, storinfo's business.
 */
const StorageRecordSchema = Type.Object({
  manta_storage_id: Type.String({ minLength: 1 }),
  datacenter: Type.String({ minLength: 1 }),
});
const checkStorageRecord = Compile(StorageRecordSchema);

/** A `manta_storage` record that cannot name the shark: the directory cannot answer. */
export class SharkRecordError extends RebalancerError {
  override readonly name = 'SharkRecordError';
  readonly code = 'BadSharkRecord';
  constructor(
    readonly storageId: string,
    readonly problem: string,
  ) {
    super(`manta_storage record of ${storageId}: ${problem}`);
  }
}

export interface MorayStorageSharkDirectoryOptions {
  /** Client-side bound of each lookup (ms), so a hung shard does not hold the request. */
  timeoutMs?: number;
}

/** Looks sharks up in Moray's `manta_storage` bucket (shard 1's client). */
export class MorayStorageSharkDirectory implements SharkDirectory {
  private readonly timeoutMs: number;

  constructor(
    private readonly moray: Pick<MorayClient, 'findObjects'>,
    private readonly domain: string | undefined,
    options: MorayStorageSharkDirectoryOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async resolve(name: string, signal?: AbortSignal): Promise<StorageNode | undefined> {
    for (const id of candidateIds(name, this.domain)) {
      signal?.throwIfAborted();
      const shark = await this.lookup(id);
      if (shark) return shark;
    }
    return undefined;
  }

  /** findObjects `(manta_storage_id=<id>)` with default options, as L's validation sends. */
  private async lookup(id: string): Promise<StorageNode | undefined> {
    let found: StorageNode | undefined;
    const records = this.moray.findObjects(MANTA_STORAGE_BUCKET, eq('manta_storage_id', id), {
      timeoutMs: this.timeoutMs,
    });
    for await (const record of records) {
      const value: unknown = record.value;
      if (!checkStorageRecord.Check(value)) {
        const [first] = checkStorageRecord.Errors(value);
        const where = first?.instancePath.replace(/^\//, '') || 'value';
        throw new SharkRecordError(
          id,
          `key ${record.key}: ${where} ${first?.message ?? 'is invalid'}`,
        );
      }
      if (value.manta_storage_id !== id) {
        throw new SharkRecordError(id, `key ${record.key} names ${value.manta_storage_id}`);
      }
      // Two records for one shark (a re-provisioned zone) must at least agree on where it is.
      if (found && found.datacenter !== value.datacenter) {
        throw new SharkRecordError(
          id,
          `records disagree on its datacenter (${found.datacenter}, ${value.datacenter})`,
        );
      }
      found = { manta_storage_id: value.manta_storage_id, datacenter: value.datacenter };
    }
    return found;
  }
}

/** A fixed list of sharks: tests, and deployments that name their sharks in the config. */
export class StaticSharkDirectory implements SharkDirectory {
  constructor(
    private readonly sharks: readonly StorageNode[],
    private readonly domain?: string,
  ) {}

  async resolve(name: string): Promise<StorageNode | undefined> {
    for (const id of candidateIds(name, this.domain)) {
      const shark = this.sharks.find((s) => s.manta_storage_id === id);
      if (shark) return { ...shark };
    }
    return undefined;
  }
}
