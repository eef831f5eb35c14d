/**
 * The files a shark must keep: the path of every copy that a live record naming the shark
 * points at, derived as the evacuation derives a task's source path (jobs/evacuate/object.ts):
 * v1 `/{owner}/{objectId}`, v2 `/v2/{owner}/{bucket_id}/{pp}/{objectId},{md5hex(name)}`.
 * For v1 the creator's path is kept too when it differs: muskie reads `/{creator}/{objectId}`
 * (peers.md §2.2), and a file kept by mistake costs only its bytes.
 */
import { createHash } from 'node:crypto';
import { OrphanRefusalCode } from '../../api/orphans.ts';
import type { DiscoveryEvent } from '../../discovery/index.ts';
import { V2_PREFIX_LEN } from '../../manta/index.ts';
import { OrphansRefusedError } from './errors.ts';

/**
 * Live records naming a shark that are held in memory at most. An evacuated shark has few or
 * none; a shark with more than this is plainly not evacuated, and listing its orphans would
 * need the whole of its metadata in the manager's heap.
 */
export const MAX_LIVE_RECORDS = 250_000;

export interface KeptFiles {
  readonly paths: ReadonlySet<string>;
  /** Live records naming the shark (snaplinks count once each). */
  readonly records: number;
  /** Records discovery could not read: they may name the shark, nobody can tell. */
  readonly unreadable: number;
}

export interface KeptProgress {
  records: number;
}

export async function keptFiles(
  shark: string,
  events: AsyncIterable<DiscoveryEvent>,
  progress: KeptProgress = { records: 0 },
  maxRecords = MAX_LIVE_RECORDS,
): Promise<KeptFiles> {
  const paths = new Set<string>();
  let unreadable = 0;
  for await (const event of events) {
    if (event.kind === 'malformed') unreadable++;
    if (event.kind !== 'object') continue;
    if (++progress.records > maxRecords) {
      throw new OrphansRefusedError(
        OrphanRefusalCode.SharkNotEvacuated,
        `more than ${maxRecords} live records name ${shark}: evacuate it before listing its orphans`,
      );
    }
    const { owner, objectId, creator } = event.value;
    if (event.tier === 'buckets') {
      const name = event.value.name ?? event.value.key;
      const hash = createHash('md5').update(name).digest('hex');
      const prefix = objectId.slice(0, V2_PREFIX_LEN);
      paths.add(`/v2/${owner}/${event.value.bucket_id}/${prefix}/${objectId},${hash}`);
    } else {
      paths.add(`/${owner}/${objectId}`);
      if (typeof creator === 'string' && creator !== owner) paths.add(`/${creator}/${objectId}`);
    }
  }
  return { paths, records: progress.records, unreadable };
}
