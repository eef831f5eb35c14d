/**
 * The job's duplicates (snaplinks: records sharing an objectId with an object the job moved)
 * are rewritten once the object's copy landed, each with its own etag (issue 12 #8: L counted
 * them and left them naming the evacuated shark). Runs after the metadata stage, and again on a
 * resumed run: what is done has left `pending`. A duplicate whose object did not move, or that
 * is not the same stored file (another owner, other bytes), ends skipped with the reason.
 */

import { Semaphore } from '../../../async/index.ts';
import type { Logger } from '../../../log/index.ts';
import type { DuplicateToRewrite, ManagerStore } from '../../store/index.ts';
import type { RecordUpdater } from './record-update.ts';

const PAGE = 100;

/** The members that make two records name the same stored file. */
const SAME_FILE = ['owner', 'contentMD5', 'contentLength'] as const;

export interface DuplicateTally {
  complete: number;
  skipped: number;
}

export async function rewriteDuplicates(deps: {
  jobId: string;
  store: ManagerStore;
  records: RecordUpdater;
  concurrency: number;
  log: Logger;
}): Promise<DuplicateTally> {
  const { jobId, store, records, log } = deps;
  const tally: DuplicateTally = { complete: 0, skipped: 0 };
  const limit = new Semaphore(deps.concurrency);
  const one = async (d: DuplicateToRewrite): Promise<void> => {
    const settle = async (reason?: string) => {
      await store.settleDuplicate(jobId, d, reason === undefined ? 'complete' : 'skipped', reason);
      if (reason === undefined) tally.complete++;
      else tally.skipped++;
    };
    const { object, primary } = d;
    if (object === undefined || !SAME_FILE.every((k) => object[k] === primary[k])) {
      return settle('not_the_same_stored_file');
    }
    const dest = { manta_storage_id: d.destShark, datacenter: d.destDatacenter };
    const result = await records.update({ ...d, object }, dest, {
      destAllowed: () => true,
      placeAgain: () => false,
    });
    if (result.status === 'complete') return settle();
    const reason =
      result.status === 'skipped'
        ? result.reason
        : result.status === 'error'
          ? result.error
          : result.status;
    log.info({ key: d.key, shard: d.shard, objectId: d.id, reason }, 'duplicate record skipped');
    return settle(reason);
  };
  for (;;) {
    const page = await store.duplicatesToRewrite(jobId, PAGE);
    if (page.length === 0) break;
    await Promise.all(page.map((d) => limit.run(() => one(d))));
  }
  tally.skipped += await store.skipUnmovedDuplicates(jobId);
  if (tally.complete + tally.skipped > 0) log.info({ ...tally }, 'duplicate records settled');
  return tally;
}
