/**
 * Resolves the shark an operator names (a full storage id or a short name such as `1.stor`)
 * to its full id and datacenter (manager.md §4.2), so that an unknown shark is refused when
 * the job is created (400) instead of failing later.
 */
import type { StorageNodeRef } from '../api/manager.ts';
import type { StorinfoClient } from '../storinfo/index.ts';

export interface SharkDirectory {
  /** The shark, or undefined when it is unknown; throws when the directory cannot answer. */
  resolve(name: string, signal?: AbortSignal): Promise<StorageNodeRef | undefined>;
}

/** The candidate full ids for a name: as given, and with `.<domain>` appended (as L does). */
export function candidateIds(name: string, domain: string | undefined): string[] {
  const ids = [name];
  if (domain && domain !== '' && !name.endsWith(`.${domain}`)) ids.push(`${name}.${domain}`);
  return ids;
}

/** Looks sharks up in storinfo's list of storage nodes. */
export class StorinfoSharkDirectory implements SharkDirectory {
  constructor(
    private readonly client: Pick<StorinfoClient, 'listStorageNodes'>,
    private readonly domain: string | undefined,
  ) {}

  async resolve(name: string, signal?: AbortSignal): Promise<StorageNodeRef | undefined> {
    const nodes = await this.client.listStorageNodes(signal);
    for (const id of candidateIds(name, this.domain)) {
      const node = nodes.find((n) => n.manta_storage_id === id);
      if (node) return { manta_storage_id: node.manta_storage_id, datacenter: node.datacenter };
    }
    return undefined;
  }
}

/** A fixed list of sharks: tests, and deployments that name their sharks in the config. */
export class StaticSharkDirectory implements SharkDirectory {
  constructor(
    private readonly sharks: readonly StorageNodeRef[],
    private readonly domain?: string,
  ) {}

  async resolve(name: string): Promise<StorageNodeRef | undefined> {
    for (const id of candidateIds(name, this.domain)) {
      const shark = this.sharks.find((s) => s.manta_storage_id === id);
      if (shark) return { ...shark };
    }
    return undefined;
  }
}
