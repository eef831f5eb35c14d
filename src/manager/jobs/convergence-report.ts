/** A job's convergence for its status: the rounds it ran, read back from its events. */
import { Compile } from 'typebox/compile';
import { type Convergence, ConvergenceRound } from '../../api/convergence.ts';
import { type JobRecord, type ManagerStore, UnknownStoredValueError } from '../store/index.ts';

/** A round's report as stored: checked when read back (the database is a boundary). */
const checkRound = Compile(ConvergenceRound);

/** Absent for a job that runs no rounds. */
export async function convergenceOf(
  store: ManagerStore,
  job: JobRecord,
): Promise<Convergence | undefined> {
  const limit = job.params.converge_rounds ?? 0;
  if (job.action !== 'evacuate' || job.dryRun || limit === 0) return undefined;
  const events = await store.listJobEvents(job.id, 0, limit + 1, 'convergence_round');
  const rounds = events.map((e) => {
    if (!checkRound.Check(e.detail))
      throw new UnknownStoredValueError('convergence round', e.detail);
    return e.detail;
  });
  return { rounds_limit: limit, rounds };
}
