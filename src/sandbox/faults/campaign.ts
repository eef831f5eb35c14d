/**
 * The fault campaign's figures over many trials and its targets: no object lost, no record
 * naming a bad copy, no user write clobbered, no job failed by a transient fault, and objects
 * left on the evacuated shark only for reasons no retry can cure.
 */
import { INCURABLE_REASONS, USER_CHANGE_REASONS } from './accounting.ts';
import type { TrialResult } from './trial.ts';

export interface TrialFailure {
  seed: number;
  /** The harness could not finish the trial (a job never ended, a restart failed, ...). */
  error?: string;
  problems: string[];
}

export interface CampaignFigures {
  trials: number;
  /** Trials the harness could not finish. */
  trial_errors: number;
  seeds: number[];
  objects: number;
  objects_on_evacuated: number;
  faults_injected: Record<string, number>;
  user_writes: Record<string, number>;
  lost: number;
  bad_copies: number;
  fewer_copies: number;
  clobbered_user_writes: number;
  /** Objects still on the evacuated shark after the retries, by the reason the manager gave. */
  left_on_shark: Record<string, number>;
  /** The part of left_on_shark a retry could have cured. */
  left_curable: Record<string, number>;
  /**
   * Skips and errors of the first jobs, by reason, leaving out those no retry cures and those
   * a user's change explains: transient faults turned into skips (invariant 9), which the
   * retries then had to cure. Reported, not a target.
   */
  first_job_transient_outcomes: Record<string, number>;
  job_states: Record<string, number>;
  /** First jobs that did not end Complete (a transient fault must not fail a job). */
  failed_first_jobs: number;
  retries: number;
  failures: TrialFailure[];
}

export interface Target {
  name: string;
  value: number;
  target: string;
  met: boolean;
}

export const MIN_TRIALS = 20;
const PROBLEMS_SHOWN = 8;

const add = (into: Record<string, number>, key: string, n = 1) => {
  into[key] = (into[key] ?? 0) + n;
};

export function campaignFigures(
  results: readonly TrialResult[],
  errors: readonly { seed: number; error: string }[],
): CampaignFigures {
  const f: CampaignFigures = {
    trials: results.length + errors.length,
    trial_errors: errors.length,
    seeds: [...results.map((r) => r.seed), ...errors.map((e) => e.seed)].sort((a, b) => a - b),
    objects: 0,
    objects_on_evacuated: 0,
    faults_injected: {},
    user_writes: {},
    lost: 0,
    bad_copies: 0,
    fewer_copies: 0,
    clobbered_user_writes: 0,
    left_on_shark: {},
    left_curable: {},
    first_job_transient_outcomes: {},
    job_states: {},
    failed_first_jobs: 0,
    retries: 0,
    failures: errors.map((e) => ({ seed: e.seed, error: e.error, problems: [] })),
  };
  for (const r of results) {
    f.objects += r.objects;
    f.objects_on_evacuated += r.onEvacuated;
    for (const fault of r.faults) add(f.faults_injected, fault.kind);
    for (const [kind, n] of Object.entries(r.userWrites)) add(f.user_writes, kind, n);
    f.lost += r.lost.length;
    f.bad_copies += r.badCopies.length;
    f.fewer_copies += r.fewerCopies;
    f.clobbered_user_writes += r.clobbered.length;
    for (const l of r.leftovers) {
      add(f.left_on_shark, l.reason);
      if (l.curable) add(f.left_curable, l.reason);
    }
    for (const job of r.jobs) add(f.job_states, job.state);
    const first = r.jobs[0]?.results;
    const outcomes: [string, number][] = [
      ...Object.entries(first?.skip_breakdown ?? {}),
      // The API groups errors by backend (`moray_update_failed` is moray: update_failed).
      ...Object.entries(first?.error_breakdown ?? {}).flatMap(([backend, byName]) =>
        Object.entries(byName).map(([name, n]): [string, number] => [
          backend === 'other' ? name : `${backend}_${name}`,
          n,
        ]),
      ),
    ];
    for (const [reason, n] of outcomes) {
      const transient = !(INCURABLE_REASONS.has(reason) || USER_CHANGE_REASONS.has(reason));
      if (transient) add(f.first_job_transient_outcomes, reason, n);
    }
    if (r.jobs[0]?.state !== 'Complete') f.failed_first_jobs++;
    f.retries += r.jobs.length - 1;
    if (r.problems.length > 0 || r.jobs[0]?.state !== 'Complete') {
      f.failures.push({
        seed: r.seed,
        problems: [
          ...(r.jobs[0]?.state === 'Complete'
            ? []
            : [`job ${r.jobs[0]?.id} ${r.jobs[0]?.state}: ${r.jobs[0]?.error ?? ''}`]),
          ...r.problems.slice(0, PROBLEMS_SHOWN),
          ...(r.problems.length > PROBLEMS_SHOWN
            ? [`... ${r.problems.length - PROBLEMS_SHOWN} more`]
            : []),
        ],
      });
    }
  }
  return f;
}

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

export function campaignTargets(f: CampaignFigures): Target[] {
  const zero = (name: string, value: number): Target => ({
    name,
    value,
    target: '0',
    met: value === 0,
  });
  return [
    {
      name: 'trials',
      value: f.trials,
      target: `>= ${MIN_TRIALS}`,
      met: f.trials >= MIN_TRIALS,
    },
    zero('trials the harness could not finish', f.trial_errors),
    zero('objects lost', f.lost),
    zero('records naming a missing or corrupt copy', f.bad_copies),
    zero('objects with fewer copies than before', f.fewer_copies),
    zero('user writes clobbered', f.clobbered_user_writes),
    zero('objects left on the shark for a reason a retry could cure', sum(f.left_curable)),
    zero('first jobs failed by transient faults', f.failed_first_jobs),
  ];
}
