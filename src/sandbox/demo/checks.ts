/**
 * What the demo requires of a finished evacuation: the verifier's findings (Moray and the
 * makos' disks) reconciled with what the manager says it did.
 */
import type { JobStatus } from '../../api/manager.ts';
import type { EvacuationVerification, ObjectSnapshot, ObjectState } from '../verify.ts';
import type { UserWrite } from './overwrite.ts';

export interface DemoCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface CheckInput {
  evacuated: string;
  before: ObjectSnapshot;
  status: JobStatus;
  verification: EvacuationVerification;
  /** Keys whose only copy was on the evacuated shark: the manager copies them from it. */
  singleCopy: ReadonlySet<string>;
  /** How many of those records still name the evacuated shark. */
  singleCopyLeft: number;
  /** The user's write during the job and the record as it is now. */
  userWrite: UserWrite | undefined;
  userRecordNow: ObjectState | undefined;
  /** Buckets (v2) rows naming the evacuated shark before: the job must count them too. */
  bucketsOnEvacuated?: number;
}

/** Objects of `snapshot` whose every copy is on `shark`. */
export function onlyOn(snapshot: ObjectSnapshot, shark: string): Set<string> {
  const keys = new Set<string>();
  for (const object of snapshot.values()) {
    if (object.sharks.length > 0 && object.sharks.every((s) => s === shark)) keys.add(object.key);
  }
  return keys;
}

/** Objects of `snapshot` with a copy on `shark`. */
export function countOn(snapshot: ObjectSnapshot, shark: string): number {
  let n = 0;
  for (const object of snapshot.values()) if (object.sharks.includes(shark)) n++;
  return n;
}

export function checkDemo(input: CheckInput): DemoCheck[] {
  const { status, verification: v } = input;
  const r = status.results;
  const skips = r.skip_breakdown ?? {};
  const onEvacuated = countOn(input.before, input.evacuated) + (input.bucketsOnEvacuated ?? 0);
  const newVersions = (status.convergence?.rounds ?? []).reduce((n, x) => n + x.new_versions, 0);
  const checks: DemoCheck[] = [
    {
      name: 'job finished',
      ok: status.state === 'Complete',
      detail: `state ${status.state}${status.error ? `: ${status.error}` : ''}`,
    },
    {
      name: 'every object on the shark was in the job',
      ok: r.Total - newVersions === onEvacuated,
      detail: `job total ${r.Total} (${newVersions} of them users' new versions taken by convergence), objects naming ${input.evacuated} before ${onEvacuated}`,
    },
    {
      name: 'every object of the job reached an end state',
      ok: r.Complete + r.Skipped + r.Error === r.Total,
      detail: `complete ${r.Complete} + skipped ${r.Skipped} + error ${r.Error} of ${r.Total}`,
    },
    {
      name: 'no data lost',
      ok: v.lost === 0,
      detail: `${v.lost} objects lost data (${v.missingCopies.length} missing or corrupt copies, ${v.reducedCopies} with fewer copies)`,
    },
    {
      name: 'single-copy objects copied from the shark itself',
      ok: input.singleCopyLeft === 0 && (skips.source_is_evac_shark ?? 0) === 0,
      detail: `${input.singleCopy.size - input.singleCopyLeft} of ${input.singleCopy.size} moved off the shark; source_is_evac_shark ${skips.source_is_evac_shark ?? 0}`,
    },
    stillOnShark(input),
    userWriteKept(input),
    auditVerdict(input),
  ];
  return checks;
}

/**
 * The API reports counts, not keys: an object the verifier finds still on the shark is
 * accounted for if it is an expected skip, or if the manager reported at least that many other
 * skipped/error objects.
 */
function stillOnShark(input: CheckInput): DemoCheck {
  const r = input.status.results;
  // The user's version the job found is reported rewritten; its new version moved on.
  const expected = 0;
  const unexplained = input.verification.stillOnEvacuated;
  const reportedOthers = Math.max(0, r.Skipped + r.Error - expected);
  return {
    name: 'no reference to the shark left except reported skips/errors',
    ok: unexplained <= reportedOthers,
    detail:
      unexplained === 0
        ? `only the ${expected} expected skips still name ${input.evacuated}`
        : `${unexplained} objects still name ${input.evacuated} beyond the expected skips; the manager reported ${reportedOthers} other skips/errors`,
  };
}

/**
 * The user's version wins: the version the job found is reported rewritten, and convergence
 * moves the user's new version off the shark, its object id and bytes as the user wrote them.
 */
function userWriteKept(input: CheckInput): DemoCheck {
  const name = "user's overwrite during the job kept, then moved by convergence";
  const write = input.userWrite;
  if (!write) return { name, ok: false, detail: 'the overwrite was not made' };
  const now = input.userRecordNow;
  const rewritten = input.status.results.skip_breakdown?.object_rewritten ?? 0;
  if (!now) return { name, ok: false, detail: `${write.key} is gone` };
  const kept = now.objectId === write.objectId && rewritten >= 1;
  const moved = !now.sharks.includes(input.evacuated);
  return {
    name,
    ok: kept && moved,
    detail: `object id now ${now.objectId}, the user's ${write.objectId}; sharks now ${now.sharks.join(',')}, the user's ${write.sharks.join(',')}; object_rewritten ${rewritten}`,
  };
}

/**
 * The job ends with the audit's verdict, and what the audit finds still naming the shark is no
 * more than the job reported leaving there (its skips and errors, a rewritten version apart).
 */
function auditVerdict(input: CheckInput): DemoCheck {
  const name = 'the job ended with the audit, which finds only what the job left';
  const audit = input.status.audit;
  if (!audit || audit.verdict === null) {
    return { name, ok: false, detail: `no verdict (audit ${audit?.state ?? 'absent'})` };
  }
  const r = input.status.results;
  const left = r.Skipped + r.Error - (r.skip_breakdown?.object_rewritten ?? 0);
  return {
    name,
    ok: audit.scanned.objects <= left,
    detail: `safe to remove: ${audit.verdict === 'safe' ? 'yes' : 'no'}; ${audit.scanned.objects} records still name the shark (${audit.unsafe.total} unsafe), the job left ${left}`,
  };
}
