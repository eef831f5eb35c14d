/**
 * A dry run's plan (issue 15): what an evacuation would move, where to, and what it could not
 * move and why — found by the same discovery and placement as a real run, with nothing posted
 * and nothing written to any metadata tier.
 */
import { type Static, Type } from 'typebox';

const Count = Type.Integer({ minimum: 0 });
const Amount = Type.Object({ objects: Count, bytes: Count }, { title: 'PlanAmount' });
const Percent = Type.Number({ minimum: 0 });

export const PlanDestination = Type.Object(
  {
    manta_storage_id: Type.String(),
    datacenter: Type.String(),
    objects: Count,
    bytes: Count,
    /** The shark's fill (percent used) in the storinfo snapshot, and with the plan's copies. */
    fill_before_percent: Percent,
    fill_after_percent: Percent,
  },
  { title: 'PlanDestination' },
);
export type PlanDestination = Static<typeof PlanDestination>;

export const PlanDatacenter = Type.Object(
  {
    datacenter: Type.String(),
    objects: Count,
    bytes: Count,
    /** Bytes the datacenter's eligible sharks may still take under the fill limit, before and after. */
    available_bytes_before: Count,
    available_bytes_after: Count,
  },
  { title: 'PlanDatacenter' },
);
export type PlanDatacenter = Static<typeof PlanDatacenter>;

export const JobPlan = Type.Object(
  {
    job_id: Type.String(),
    from_shark: Type.String(),
    /** Objects and bytes placed on a destination, in all and by metadata tier. */
    move: Type.Object({ ...Amount.properties, v1: Amount, v2: Amount }),
    /** What cannot move, in all and by reason (e.g. source_is_evac_shark: only copy is on the shark). */
    cannot_move: Type.Object({
      ...Amount.properties,
      reasons: Type.Record(Type.String(), Amount),
    }),
    destinations: Type.Array(PlanDestination),
    datacenters: Type.Array(PlanDatacenter),
    /**
     * Seconds the move would take at the job's limits (the slowest of them); null when no
     * limit bounds it.
     */
    estimated_seconds: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
    /** What bounds the estimate: a limit's name, or why there is none. */
    estimate_basis: Type.String(),
    created_at: Type.String(),
  },
  { title: 'JobPlan' },
);
export type JobPlan = Static<typeof JobPlan>;
