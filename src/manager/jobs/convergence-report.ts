/** A job's convergence for its status: the rounds it ran, read back from its events. */
import { Compile } from 'typebox/compile';
import { type Convergence, ConvergenceRound, MAX_CONVERGE_ROUNDS } from '../../api/convergence.ts';
import {
  type JobEvent,
  type JobRecord,
  type ManagerStore,
  UnknownStoredValueError,
} from '../store/index.ts';

/** A round's report as stored: checked when read back (the database is a boundary). */
const checkRound = Compile(ConvergenceRound);

/**
 * The convergence rounds stored for job `jobId`: read with nothing but the id, so a status
 * reads them beside the job itself instead of after it.
 */
export function convergenceEvents(store: ManagerStore, jobId: string): Promise<JobEvent[]> {
  return store.listJobEvents(jobId, 0, MAX_CONVERGE_ROUNDS + 1, 'convergence_round');
}

/** `job`'s convergence from its `events` (convergenceEvents); absent for a job running none. */
export function convergenceOf(
  job: JobRecord,
  events: readonly JobEvent[],
): Convergence | undefined {
  const limit = job.params.converge_rounds ?? 0;
  if (job.action !== 'evacuate' || job.dryRun || limit === 0) return undefined;
  const rounds = events.slice(0, limit + 1).map((e) => {
    if (!checkRound.Check(e.detail))
      throw new UnknownStoredValueError('convergence round', e.detail);
    return e.detail;
  });
  return { rounds_limit: limit, rounds };
}
