/**
 * An audit as the API shows it (src/api/audit.ts): its counts, its verdict once complete, and
 * a page of its unsafe objects; and the lookup behind `GET /sharks/{id}/audit`.
 */
import {
  AUDIT_PAGE_SIZE,
  type AuditQuery,
  type AuditReport,
  UNSAFE_REASONS,
  type UnsafeObject,
} from '../../api/audit.ts';
import { NotFoundError, UnavailableError } from '../jobs/errors.ts';
import type { SharkDirectory } from '../sharks.ts';
import type { AuditedObject, AuditRecord, ManagerStore } from '../store/index.ts';

interface ReportPage {
  /** The `next` of the previous page: the last key it held. */
  after?: string | undefined;
  limit: number;
}

export async function auditReport(
  store: ManagerStore,
  audit: AuditRecord,
  page: ReportPage = { limit: AUDIT_PAGE_SIZE },
): Promise<AuditReport> {
  const unsafe = await store.unsafeObjects(audit.jobId, page.after, page.limit);
  const last = unsafe.at(-1);
  return {
    job_id: audit.jobId,
    shark: audit.shark,
    deep: audit.deep,
    state: audit.state,
    verdict: audit.verdict ?? null,
    scanned: {
      objects: audit.scanned.v1 + audit.scanned.v2,
      v1: audit.scanned.v1,
      v2: audit.scanned.v2,
    },
    safe: audit.safe,
    unsafe: {
      total: UNSAFE_REASONS.reduce((sum, r) => sum + audit.unsafe[r], 0),
      by_reason: { ...audit.unsafe },
    },
    unsafe_objects: unsafe.map(wireObject),
    ...(last !== undefined && unsafe.length >= page.limit ? { next: last.key } : {}),
    started_at: audit.startedAt.toISOString(),
    finished_at: audit.finishedAt?.toISOString() ?? null,
  };
}

function wireObject(o: AuditedObject): UnsafeObject {
  if (o.outcome === 'safe') throw new TypeError(`${o.key} is safe: not an unsafe object`);
  return {
    key: o.key,
    tier: o.tier === 'buckets' ? 'v2' : 'v1',
    shard: o.shard,
    object_id: o.objectId ?? null,
    reason: o.outcome,
  };
}

/**
 * The audit `GET /sharks/{name}/audit` answers: the job's (`?job=`) when it audited that shark,
 * else the shark's newest. `name` is looked up as given first, so the audits of a shark that
 * is no longer in the directory (removed after a safe verdict) can still be read.
 */
export async function sharkAudit(
  deps: { store: ManagerStore; sharks: SharkDirectory },
  name: string,
  query: AuditQuery,
): Promise<AuditReport> {
  const { store } = deps;
  const fullId = async (): Promise<string | undefined> => {
    try {
      return (await deps.sharks.resolve(name))?.manta_storage_id;
    } catch (err) {
      throw new UnavailableError(
        `cannot check shark ${name}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  };
  let audit: AuditRecord | undefined;
  if (query.job !== undefined) {
    audit = await store.getAudit(query.job.toLowerCase());
    if (audit !== undefined && audit.shark !== name && audit.shark !== (await fullId())) {
      audit = undefined;
    }
  } else {
    audit = await store.newestAuditOf(name);
    if (audit === undefined) {
      const id = await fullId();
      if (id !== undefined && id !== name) audit = await store.newestAuditOf(id);
    }
  }
  if (audit === undefined) {
    throw new NotFoundError(
      query.job === undefined
        ? `No audit of shark ${name}`
        : `No audit ${query.job} of shark ${name}`,
    );
  }
  const limit = query.limit === undefined ? AUDIT_PAGE_SIZE : Number(query.limit);
  return auditReport(store, audit, { after: query.after, limit });
}
