/**
 * Convergence (issue 16): after its main pass an evacuation looks again, in rounds, at the
 * objects it skipped or failed for reasons a fresh look may cure, and reports per round what
 * it retried and what each became.
 */
import { type Static, Type } from 'typebox';

/** Rounds a new job runs unless told otherwise; 0 turns convergence off. */
export const DEFAULT_CONVERGE_ROUNDS = 3;
export const MAX_CONVERGE_ROUNDS = 10;

export const ConvergeRounds = Type.Integer({
  minimum: 0,
  maximum: MAX_CONVERGE_ROUNDS,
  description: `rounds of convergence after the main pass (default ${DEFAULT_CONVERGE_ROUNDS}; 0: none)`,
});

const Counts = Type.Record(Type.String(), Type.Integer({ minimum: 0 }));

export const ConvergenceRound = Type.Object(
  {
    round: Type.Integer({ minimum: 1 }),
    /** Objects the round took: re-read live, then moved again, settled, or replaced. */
    retried: Type.Integer({ minimum: 0 }),
    /** Of those, versions their user had rewritten: the new version was taken in their place. */
    rewritten: Type.Integer({ minimum: 0 }),
    /** New versions taken (those still naming the shark), counted in the job's total. */
    new_versions: Type.Integer({ minimum: 0 }),
    /** What the objects the round worked on (the new versions among them) are now. */
    became: Type.Object({
      complete: Type.Integer({ minimum: 0 }),
      skipped: Counts,
      error: Counts,
      /** Not finished when the round ended (the job was cancelled). */
      unfinished: Type.Integer({ minimum: 0 }),
    }),
    finished_at: Type.String(),
  },
  { title: 'ConvergenceRound', additionalProperties: false },
);
export type ConvergenceRound = Static<typeof ConvergenceRound>;

export const Convergence = Type.Object(
  {
    rounds_limit: ConvergeRounds,
    rounds: Type.Array(ConvergenceRound),
  },
  { title: 'Convergence' },
);
export type Convergence = Static<typeof Convergence>;
