/**
 * The audit job (`POST /jobs {"action": "audit"}`): one auditShark run under the job's id. It
 * moves nothing, so it has no limits, threads or pause; cancel stops it without a verdict and
 * the runner records it `cancelled`. Its end is the runner's: `complete` with the verdict in
 * its report, `failed` when the scan could not finish.
 */
import { RebalancerError } from '../../errors.ts';
import { JobCancelledError, type JobExecutor } from '../jobs/runner.ts';
import { type AuditDeps, auditShark } from './audit.ts';

/** An audit executor was handed a job of another kind. */
export class AuditJobError extends RebalancerError {
  override readonly name = 'AuditJobError';
  readonly code = 'audit_job_invalid';
}

/** A retry of an audit job: refused (409), a new audit scans everything afresh. */
export class AuditNotRetryableError extends RebalancerError {
  override readonly name = 'AuditNotRetryableError';
  readonly code = 'audit_not_retryable';
}

export function auditExecutor(deps: AuditDeps): JobExecutor {
  return async (ctx) => {
    const { job } = ctx;
    if (job.action !== 'audit') throw new AuditJobError(`job ${job.id} is not an audit`);
    const cancel = new AbortController();
    ctx.registerControls({
      cancel: () => cancel.abort(new JobCancelledError('cancelled by the operator')),
    });
    try {
      await auditShark(deps, {
        jobId: job.id,
        shark: job.fromShark,
        deep: job.params.deep === true,
        signal: AbortSignal.any([ctx.signal, cancel.signal]),
        log: ctx.log,
        store: ctx.store,
      });
    } catch (err) {
      // Cancelled through its controls: the runner records the job `cancelled`.
      if (cancel.signal.aborted && !ctx.signal.aborted) return;
      throw err;
    }
  };
}
