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
  /** Keys whose only copy was on the evacuated shark: the manager must skip them. */
  singleCopy: ReadonlySet<string>;
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
  const checks: DemoCheck[] = [
    {
      name: 'job finished',
      ok: status.state === 'Complete',
      detail: `state ${status.state}${status.error ? `: ${status.error}` : ''}`,
    },
    {
      name: 'every object on the shark was in the job',
      ok: r.Total === onEvacuated,
      detail: `job total ${r.Total}, objects naming ${input.evacuated} before ${onEvacuated}`,
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
      name: 'single-copy objects skipped, not moved',
      ok: (skips.source_is_evac_shark ?? 0) === input.singleCopy.size,
      detail: `source_is_evac_shark ${skips.source_is_evac_shark ?? 0}, expected ${input.singleCopy.size}`,
    },
    stillOnShark(input),
    userWriteKept(input),
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
  const expected = input.singleCopy.size + (input.userWrite ? 1 : 0);
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

function userWriteKept(input: CheckInput): DemoCheck {
  const name = "user's overwrite during the job kept (etag conflict skipped)";
  const write = input.userWrite;
  if (!write) return { name, ok: false, detail: 'the overwrite was not made' };
  const now = input.userRecordNow;
  const conflicts = input.status.results.skip_breakdown?.metadata_etag_mismatch ?? 0;
  if (!now) return { name, ok: false, detail: `${write.key} is gone` };
  const untouched =
    now.etag === write.etag && now.sharks.join(',') === write.sharks.join(',') && conflicts >= 1;
  return {
    name,
    ok: untouched,
    detail: untouched
      ? `etag ${now.etag} is the user's; metadata_etag_mismatch ${conflicts}`
      : `etag now ${now.etag}, user wrote ${write.etag}; sharks now ${now.sharks.join(',')}, user's ${write.sharks.join(',')}; metadata_etag_mismatch ${conflicts}`,
  };
}
