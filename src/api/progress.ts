import { type Static, Type } from 'typebox';

const Count = Type.Integer({ minimum: 0 });

/**
 * How far a job is (additions, manager.md §2.4 has none): objects and bytes settled and in
 * all, the rate over the last minute, an ETA only when one can be known, and why a job that
 * has not moved for a while is stalled.
 */
export const JobProgress = Type.Object(
  {
    /** Objects that reached an end: complete, skipped or error. */
    objects_done: Count,
    objects_total: Count,
    /** Bytes of the objects moved (complete). */
    bytes_done: Count,
    /** Bytes of the objects still to move and moved. */
    bytes_total: Count,
    /** True while discovery runs: the totals are an estimate (from a plan or storinfo). */
    total_is_estimate: Type.Boolean(),
    objects_per_second: Type.Number({ minimum: 0 }),
    bytes_per_second: Type.Number({ minimum: 0 }),
    /** Null while it cannot be known (no rate yet, no total, paused). */
    eta_seconds: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
    stalled: Type.Union([
      Type.Object({ since: Type.String(), reason: Type.String() }, { title: 'JobStall' }),
      Type.Null(),
    ]),
  },
  { title: 'JobProgress' },
);
export type JobProgress = Static<typeof JobProgress>;
