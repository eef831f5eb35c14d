/**
 * A job's assignments summed per destination agent (the `assignments` table), for the
 * console: what waits to be posted, what the agent holds, what it finished, and what it
 * finished lately. One grouped query, whatever the number of assignments.
 */
import type { Queryable } from '../../db/index.ts';
import type { AssignmentState } from './enums.ts';
import { storedCount } from './numbers.ts';

/** Stored, not yet posted. */
const QUEUED: AssignmentState = 'init';
/** Posted; the agent has not reported it finished. */
const ON_AGENT: AssignmentState = 'assigned';
/** The agent finished it (its failed tasks included): before or after the metadata stage. */
const FINISHED: readonly AssignmentState[] = ['agent_complete', 'post_processed'];

export interface AgentAssignments {
  destShark: string;
  destDatacenter: string;
  queued: number;
  onAgent: number;
  tasksOnAgent: number;
  objectsDone: number;
  /** Tasks and bytes of the assignments finished in the last `windowMs`. */
  recentObjects: number;
  recentBytes: number;
}

interface ActivityRow extends Record<string, unknown> {
  dest_shark: string;
  dest_datacenter: string;
}

/**
 * Per destination of `jobId`, by datacenter then storage id. "Finished lately" goes by the
 * row's `updated_at`, the last state change: the metadata stage's `post_processed` follows the
 * agent's report within moments, so it stands for the time the agent finished.
 */
export async function assignmentsPerAgent(
  db: Queryable,
  jobId: string,
  windowMs: number,
): Promise<AgentAssignments[]> {
  const { rows } = await db.query<ActivityRow>(
    `SELECT dest_shark, dest_datacenter,
            count(*) FILTER (WHERE state = $2) AS queued,
            count(*) FILTER (WHERE state = $3) AS on_agent,
            coalesce(sum(task_count) FILTER (WHERE state = $3), 0) AS tasks_on_agent,
            coalesce(sum(task_count) FILTER (WHERE state = ANY($4::text[])), 0) AS objects_done,
            coalesce(sum(task_count) FILTER (WHERE state = ANY($4::text[]) AND recent), 0)
              AS recent_objects,
            coalesce(sum(total_bytes) FILTER (WHERE state = ANY($4::text[]) AND recent), 0)
              AS recent_bytes
       FROM (SELECT *, updated_at > now() - $5::double precision * interval '1 millisecond'
                       AS recent
               FROM assignments WHERE job_id = $1) a
      GROUP BY dest_shark, dest_datacenter
      ORDER BY dest_datacenter, dest_shark`,
    [jobId, QUEUED, ON_AGENT, FINISHED, windowMs],
  );
  return rows.map((r) => ({
    destShark: r.dest_shark,
    destDatacenter: r.dest_datacenter,
    queued: storedCount(r.queued, 'assignments queued'),
    onAgent: storedCount(r.on_agent, 'assignments on agent'),
    tasksOnAgent: storedCount(r.tasks_on_agent, 'assignment tasks on agent'),
    objectsDone: storedCount(r.objects_done, 'assignment tasks done'),
    recentObjects: storedCount(r.recent_objects, 'assignment tasks done lately'),
    recentBytes: storedCount(r.recent_bytes, 'assignment bytes done lately'),
  }));
}
