/** The `job_plans` table: a dry run's plan, written once when it ends, validated when read. */
import { Compile } from 'typebox/compile';
import { JobPlan } from '../../api/plan.ts';
import type { Queryable } from '../../db/index.ts';
import { UnknownStoredValueError } from './enums.ts';

const checkPlan = Compile(JobPlan);

export async function savePlan(db: Queryable, jobId: string, plan: JobPlan): Promise<void> {
  await db.query(
    `INSERT INTO job_plans (job_id, plan) VALUES ($1, $2::jsonb)
     ON CONFLICT (job_id) DO UPDATE SET plan = EXCLUDED.plan, created_at = now()`,
    [jobId, JSON.stringify(plan)],
  );
}

export async function getPlan(db: Queryable, jobId: string): Promise<JobPlan | undefined> {
  const { rows } = await db.query<{ plan: unknown }>(
    'SELECT plan FROM job_plans WHERE job_id = $1',
    [jobId],
  );
  if (rows[0] === undefined) return undefined;
  const plan = rows[0].plan;
  if (!checkPlan.Check(plan)) throw new UnknownStoredValueError('job plan', jobId);
  return plan;
}

/** The newest plan of a shark (for a job's estimate before its discovery ends). */
export async function latestPlanOf(db: Queryable, shark: string): Promise<JobPlan | undefined> {
  const { rows } = await db.query<{ plan: unknown }>(
    `SELECT p.plan FROM job_plans p JOIN jobs j ON j.id = p.job_id
      WHERE j.from_shark ->> 'manta_storage_id' = $1 ORDER BY p.created_at DESC LIMIT 1`,
    [shark],
  );
  const plan = rows[0]?.plan;
  return plan !== undefined && checkPlan.Check(plan) ? plan : undefined;
}
