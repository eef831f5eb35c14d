/**
 * The safe-to-remove audit of a shark (issue 16): every live record still naming it is
 * classified (classify.ts) and counted (scan.ts); the verdict is `safe` only when the scan
 * finished and found no unsafe object. Run as a job of its own kind (executor.ts) or at the end
 * of an evacuation under that job's id. Resumable: a run after a restart goes on from the
 * audit's cursors, and a complete audit is answered as it is.
 */
import type { AuditReport } from '../../api/audit.ts';
import type { StorageNode } from '../../api/common.ts';
import type { Logger } from '../../log/index.ts';
import type { ObjectSource } from '../jobs/evacuate/types.ts';
import { describeError, ShutdownError } from '../jobs/runner.ts';
import { type ManagerStore, UnknownStoredValueError } from '../store/index.ts';
import type { CopyChecker } from './copy-check.ts';
import { auditReport } from './report.ts';
import { scanShark } from './scan.ts';

/** What an audit needs of the manager's environment (src/manager/environment.ts). */
export interface AuditDeps {
  /** Discovery over every Moray and buckets shard, with no key excluded. */
  readonly source: ObjectSource;
  /** HEAD / GET of copies on their makos. */
  readonly copies: CopyChecker;
  /** Objects classified at once. */
  readonly concurrency: number;
}

export interface AuditRequest {
  jobId: string;
  shark: StorageNode;
  /** Compare each other copy's MD5 (a GET), not only its size (a HEAD). */
  deep: boolean;
  /**
   * Aborted: the audit stops without a verdict, `cancelled`; aborted with a ShutdownError it
   * stays running, to be resumed by the next run.
   */
  signal: AbortSignal;
  log: Logger;
  store: ManagerStore;
}

/**
 * Audits `shark` under `jobId` and resolves with its report (the first page of its unsafe
 * objects); rejects when the scan could not finish (the audit is then `failed`, or
 * `cancelled` when the signal aborted), with the cause.
 */
export async function auditShark(deps: AuditDeps, request: AuditRequest): Promise<AuditReport> {
  const { store, jobId, log, signal } = request;
  const shark = request.shark.manta_storage_id;
  const started = await store.startAudit({ jobId, shark, deep: request.deep });
  if (started.state === 'complete') return auditReport(store, started);
  log.info(
    { shark, deep: started.deep, resumedAfter: started.scanned.v1 + started.scanned.v2 },
    'audit: scanning the live metadata for objects on the shark',
  );
  let last: Awaited<ReturnType<typeof scanShark>>;
  try {
    last = await scanShark({
      jobId,
      shark: request.shark,
      deep: started.deep,
      store,
      source: deps.source,
      copies: deps.copies,
      concurrency: deps.concurrency,
      signal,
      log,
    });
  } catch (err) {
    const reason: unknown = signal.aborted ? signal.reason : err;
    if (reason instanceof ShutdownError) throw reason;
    if (signal.aborted) {
      await store.finishAudit(jobId, { state: 'cancelled', error: describeError(reason) });
      log.info('audit cancelled: no verdict');
    } else {
      await store.finishAudit(jobId, { state: 'failed', error: describeError(err) });
      log.error({ err }, 'audit failed: the scan could not finish, no verdict');
    }
    throw reason;
  }
  const done = await store.finishAudit(jobId, { state: 'complete', last });
  const audit = done ?? (await store.getAudit(jobId));
  if (audit === undefined) throw new UnknownStoredValueError('audit', jobId);
  const report = await auditReport(store, audit);
  log.info(
    { verdict: report.verdict, scanned: report.scanned, safe: report.safe, unsafe: report.unsafe },
    `audit: safe to remove: ${report.verdict === 'safe' ? 'yes' : 'no'}`,
  );
  return report;
}
