/**
 * The storage fleet as the manager sees it (issue 17, `GET /sharks`): storinfo's latest
 * snapshot, each shark's part in jobs and placement, and what placement could still use per
 * datacenter. storinfo's "MB" are MiB.
 */
import { type Static, Type } from 'typebox';

const Count = Type.Integer({ minimum: 0 });

export const FleetShark = Type.Object(
  {
    manta_storage_id: Type.String(),
    datacenter: Type.String(),
    percent_used: Type.Integer({ minimum: 0, maximum: 100 }),
    available_mb: Count,
    /** storinfo's last heartbeat of the shark, ms since the epoch. */
    timestamp: Count,
    /** The unfinished (running or paused) evacuation emptying this shark, or null. */
    evacuating: Type.Union([Type.String(), Type.Null()]),
    /** Never a destination: in the blocklist, or its datacenter is blocked. */
    blocked: Type.Boolean(),
  },
  { title: 'FleetShark' },
);

export const FleetDatacenter = Type.Object(
  {
    datacenter: Type.String(),
    sharks: Count,
    /** Free on all its sharks. */
    available_mb: Count,
    /**
     * What placement could still use: its sharks neither blocked nor being evacuated, each up to
     * `max_fill_percentage` of its size.
     */
    capacity_left_mb: Count,
  },
  { title: 'FleetDatacenter' },
);

export const Fleet = Type.Object(
  {
    /** When storinfo's snapshot was taken; null before the first. */
    fetched_at: Type.Union([Type.String(), Type.Null()]),
    max_fill_percentage: Type.Integer({ minimum: 1, maximum: 100 }),
    /** By datacenter, then storage id. */
    sharks: Type.Array(FleetShark),
    /** By name. */
    datacenters: Type.Array(FleetDatacenter),
  },
  { title: 'Fleet' },
);
export type Fleet = Static<typeof Fleet>;
