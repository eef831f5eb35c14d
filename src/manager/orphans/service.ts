/**
 * The orphan routes' work (`GET /sharks/:id/orphans`, `POST /sharks/:id/orphans/delete`):
 * validation and refusals first, so that they are plain HTTP answers; then an NDJSON body
 * (stream.ts) carrying the search (search.ts) and, for a deletion, the agent's deletions in
 * batches. A deletion never uses an old list: it searches afresh, and only once the shark's
 * latest complete audit says safe and no evacuation runs (one could be installing a copy on
 * this very shark, whose record is not yet written).
 */
import { DELETE_FILES_MAX, type ObjectFile } from '../../api/agent-files.ts';
import {
  type DeletedOrphan,
  type DeleteSummary,
  OrphanRefusalCode,
  type OrphanSummary,
} from '../../api/orphans.ts';
import type { DiscoveryEvent } from '../../discovery/index.ts';
import type { Logger } from '../../log/index.ts';
import { isStorageId } from '../../manta/index.ts';
import { BadRequestError } from '../jobs/errors.ts';
import { type AuditRecord, type JobRecord, NON_TERMINAL_JOB_STATES } from '../store/index.ts';
import type { ShardFiles } from './agent-files.ts';
import { OrphansRefusedError } from './errors.ts';
import { OrphanSearch } from './search.ts';
import { batches, NdjsonBody } from './stream.ts';

/** What the manager's environment provides: the agents' file routes and the metadata scan. */
export interface OrphanEnvironment {
  readonly files: ShardFiles;
  discover(shark: string, signal: AbortSignal): AsyncIterable<DiscoveryEvent>;
}

/** The latest complete audit of a shark, and the jobs not finished (the manager's store). */
export interface OrphanStore {
  latestAuditOf(
    shark: string,
  ): Promise<Pick<AuditRecord, 'jobId' | 'verdict' | 'finishedAt'> | undefined>;
  jobsInStates(states: readonly JobRecord['state'][]): Promise<JobRecord[]>;
}

export interface OrphanServiceOptions extends OrphanEnvironment {
  readonly store: OrphanStore;
  readonly log: Logger;
  /** Silence after which a progress line is sent (default 10 s). */
  readonly progressIntervalMs?: number;
  readonly pageSize?: number;
  readonly now?: () => number;
}

export class OrphanService {
  private readonly deleting = new Set<string>();

  constructor(private readonly options: OrphanServiceOptions) {}

  /** The body of a listing: the search runs as it is read. */
  async list(shark: string, graceSeconds: number): Promise<NdjsonBody> {
    const search = await this.start(shark, graceSeconds);
    return this.body(search, this.listing(search));
  }

  /** The body of a deletion; refused (OrphansRefusedError) before it begins unless safe. */
  async delete(shark: string, graceSeconds: number): Promise<NdjsonBody> {
    this.check(shark);
    if (this.deleting.has(shark)) {
      throw new OrphansRefusedError(
        OrphanRefusalCode.DeletionRunning,
        `a deletion of the orphans of ${shark} is running`,
      );
    }
    this.deleting.add(shark);
    try {
      await this.refuseUnlessSafe(shark);
      const search = await this.start(shark, graceSeconds);
      return this.body(search, this.deletion(search), () => this.deleting.delete(shark));
    } catch (err) {
      this.deleting.delete(shark);
      throw err;
    }
  }

  private check(shark: string): void {
    if (!isStorageId(shark))
      throw new BadRequestError(`not a storage id (N.stor.<domain>): ${shark}`);
  }

  private async start(shark: string, graceSeconds: number): Promise<OrphanSearch> {
    this.check(shark);
    const { files, discover, pageSize, now } = this.options;
    const search = new OrphanSearch(
      { files, discover, ...(pageSize === undefined ? {} : { pageSize }), ...(now ? { now } : {}) },
      shark,
      graceSeconds,
    );
    await search.start();
    return search;
  }

  private body(
    search: OrphanSearch,
    work: AsyncIterable<readonly unknown[]>,
    after?: () => void,
  ): NdjsonBody {
    return new NdjsonBody(work, {
      intervalMs: this.options.progressIntervalMs ?? 10_000,
      progress: () => ({
        progress: {
          phase: search.phase,
          listed_files: search.listedFiles,
          live_records: search.progress.records,
          deleted: search.deleted,
        },
      }),
      onEnd: async () => {
        await search.close();
        after?.();
      },
    });
  }

  private async refuseUnlessSafe(shark: string): Promise<void> {
    const audit = await this.options.store.latestAuditOf(shark);
    if (audit === undefined) {
      throw new OrphansRefusedError(
        OrphanRefusalCode.AuditNotSafe,
        `${shark} has no complete audit: run "rebalancer-adm shark audit ${shark}" first`,
      );
    }
    if (audit.verdict !== 'safe') {
      throw new OrphansRefusedError(
        OrphanRefusalCode.AuditNotSafe,
        `the latest audit of ${shark} (job ${audit.jobId}, finished ${audit.finishedAt?.toISOString()}) says it is not safe to remove`,
      );
    }
    await this.refuseWhileEvacuating(shark);
  }

  private async refuseWhileEvacuating(shark: string): Promise<void> {
    const jobs = await this.options.store.jobsInStates(NON_TERMINAL_JOB_STATES);
    const running = jobs.filter((j) => j.action === 'evacuate' && !j.dryRun);
    if (running.length > 0) {
      throw new OrphansRefusedError(
        OrphanRefusalCode.JobsRunning,
        `evacuation ${running.map((j) => j.id).join(', ')} is running: it may be placing copies on ${shark}; delete its orphans once it ends`,
      );
    }
  }

  private async *listing(search: OrphanSearch): AsyncGenerator<readonly unknown[]> {
    await search.complete();
    yield* batches(search.orphans(), 1000);
    const summary = search.summary();
    this.options.log.info({ shark: search.shark, ...summary }, 'orphans listed');
    yield [{ summary }];
  }

  private async *deletion(search: OrphanSearch): AsyncGenerator<readonly unknown[]> {
    const { shark } = search;
    await search.complete();
    if (search.unreadableRecords > 0) {
      throw new OrphansRefusedError(
        OrphanRefusalCode.MetadataUnreadable,
        `${search.unreadableRecords} records could not be read and might name files of ${shark}: nothing deleted`,
      );
    }
    // A job may have started while the shark was listed and scanned.
    await this.refuseWhileEvacuating(shark);
    search.phase = 'deleting';
    const counts = { deleted: 0, deleted_bytes: 0, absent: 0, changed: 0, failed: 0 };
    for await (const batch of batches(search.orphans(), DELETE_FILES_MAX)) {
      const results = await this.options.files.delete(shark, batch);
      const lines: DeletedOrphan[] = results.map((r, i) => {
        const file = batch[i] as ObjectFile;
        counts[r.outcome]++;
        if (r.outcome === 'deleted') counts.deleted_bytes += file.size;
        return {
          ...file,
          outcome: r.outcome,
          ...(r.error === undefined ? {} : { error: r.error }),
        };
      });
      search.deleted = counts.deleted;
      yield lines;
    }
    const summary: DeleteSummary = { ...(search.summary() satisfies OrphanSummary), ...counts };
    this.options.log.info({ shark, ...summary }, 'orphans deleted');
    yield [{ summary }];
  }
}
