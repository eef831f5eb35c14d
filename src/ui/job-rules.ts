/**
 * What the manager accepts for a job in its state (src/manager/jobs/service.ts), so the
 * console offers only those actions; the manager still decides, a refusal shows as an error.
 */
import { LIMIT_NAMES } from '../api/limits.ts';
import type { EvacuateParams, JobStatus } from '../api/manager.ts';
import { FINAL_JOB_STATE_NAMES } from '../api/manager.ts';

export function allowedActions(s: JobStatus) {
  const moves = s.config.action === 'Evacuate' && !s.dry_run;
  const final = FINAL_JOB_STATE_NAMES.includes(s.state);
  return {
    pause: moves && (s.state === 'Setup' || s.state === 'Running'),
    resume: s.state === 'Paused',
    cancel: !final,
    retry: moves && final,
    limits: s.config.action === 'Evacuate' && ['Setup', 'Running', 'Paused'].includes(s.state),
  };
}

/** The real evacuation a dry run planned: its shark and settings, so the plan holds. */
export function evacuationOf(dryRun: JobStatus): EvacuateParams {
  const params: EvacuateParams = { from_shark: dryRun.config.from_shark.manta_storage_id };
  if (dryRun.max_objects != null) params.max_objects = dryRun.max_objects;
  if (dryRun.single_copies !== undefined) params.single_copies = dryRun.single_copies;
  if (dryRun.convergence !== undefined) params.converge_rounds = dryRun.convergence.rounds_limit;
  for (const name of LIMIT_NAMES) {
    const limit = dryRun.limits?.[name];
    if (limit != null) params[name] = limit;
  }
  return params;
}
