/**
 * Reason codes in plain words: why objects were skipped or failed (skip_breakdown,
 * error_breakdown, a plan's cannot_move, convergence rounds), why an audit found a shark
 * unsafe, and what a job's events mean. An operator deciding whether to retry or to call
 * someone reads the sentence; the code stays next to it for searching logs. A code not in the
 * table (a newer manager) is shown as it is.
 */

const WORDS: Readonly<Record<string, string>> = {
  // Skip reasons (the agent's and the manager's).
  agent_fs_error: 'The agent could not write the copy to its disk.',
  agent_assignment_no_ent: 'The agent no longer knew the assignment (it may have restarted).',
  agent_busy: 'The agent was too busy to take the assignment.',
  assignment_error: 'The assignment failed on the agent.',
  assignment_mismatch: 'The agent reported an assignment other than the one sent.',
  assignment_rejected: 'The agent refused the assignment.',
  destination_insufficient_space: 'The destination shark had no room for the copy.',
  destination_unreachable: 'The destination shark could not be reached.',
  md5_mismatch: 'The downloaded copy did not match the object’s MD5.',
  network_error: 'A network error interrupted the copy.',
  object_already_on_dest_shark: 'The destination shark already held a copy.',
  object_already_in_datacenter: 'Another copy already lives in that datacenter.',
  source_other_error: 'The source shark failed to serve the object.',
  source_object_not_found: 'The source shark did not have the object.',
  source_is_evac_shark: 'The only copy is on the shark being evacuated.',
  mpu_part_no_data: 'A multipart-upload part had no data to copy.',
  agent_assignment_timeout: 'The agent did not finish the assignment in time.',
  metadata_etag_mismatch: 'A user changed the object meanwhile; their write was kept.',
  metadata_object_not_found: 'The object was deleted meanwhile.',
  excluded_key_prefix: 'Its key is excluded by the configuration (exclude_key_prefixes).',
  object_not_on_shark: 'The object no longer has a copy on the shark.',
  evacuated_shark_unreachable: 'The only copy is on the evacuated shark, which did not answer.',
  object_rewritten: 'A user rewrote the object; the new version was taken instead.',
  // Errors (the metadata update and the records).
  bad_moray_client: 'No Moray client could be made for the object’s shard.',
  bad_moray_object: 'The object’s Moray record could not be read.',
  bad_manta_object: 'The object’s metadata is malformed.',
  bad_shard_number: 'The object’s metadata shard number is invalid.',
  duplicate_shark: 'The new copy’s shark is already in the object’s metadata.',
  internal_error: 'An internal error of the manager.',
  metadata_update_failed: 'The metadata update failed.',
  moray_update_failed: 'Moray refused the metadata update.',
  moray_etag_mismatch: 'A user changed the object in Moray meanwhile; their write was kept.',
  moray_object_not_found: 'The object was deleted from Moray meanwhile.',
  mdapi_update_failed: 'buckets-mdapi refused the metadata update.',
  mdapi_etag_mismatch:
    'A user changed the object in buckets-mdapi meanwhile; their write was kept.',
  mdapi_object_not_found: 'The object was deleted from buckets-mdapi meanwhile.',
  missing_sharks: 'The object’s metadata names no sharks.',
  bad_content_length: 'The object’s size in its metadata is invalid.',
  // Audit: why a shark is not safe to remove.
  only_copy: 'Its only copy is on this shark.',
  other_copies_missing: 'Its other copies are missing or wrong (size or MD5).',
  other_copies_unverified: 'A shark holding another copy did not answer, so nothing is proven.',
  unreadable_record: 'Its metadata record could not be read.',
};

const EVENT_WORDS: Readonly<Record<string, string>> = {
  created: 'Job created',
  started: 'Job started',
  resumed_after_restart: 'Job resumed after a manager restart',
  paused: 'Job paused by the operator: nothing new starts',
  resumed: 'Job resumed by the operator',
  limits_changed: 'Limits changed',
  metadata_threads_changed: 'Metadata threads changed',
  stalled: 'Job stalled: no object settled for a while',
  unstalled: 'Job moving again',
  cancel_requested: 'Cancel requested by the operator',
  discovery_complete: 'Discovery complete: every object on the shark is known',
  planned: 'Dry run planned',
  convergence_round: 'Convergence round finished',
};

/** A reason code in words; `{http_status_code:N}` is the source shark’s HTTP answer. */
export function reasonWords(code: string): string {
  const status = /^\{http_status_code:(\d+)\}$/.exec(code);
  if (status) return `The source shark answered HTTP ${status[1]}.`;
  return WORDS[code] ?? code;
}

/** An error_breakdown entry (`moray` + `etag_mismatch`) as the error code it counts. */
export function errorCode(backend: string, detail: string): string {
  return backend === 'other' ? detail : `${backend}_${detail}`;
}

/** An event kind in words. */
export function eventWords(kind: string): string {
  return EVENT_WORDS[kind] ?? kind;
}

/** What bounds a plan’s estimate: a limit’s name in words, or the manager’s own words. */
export function estimateBasisWords(basis: string): string {
  const limit: Record<string, string> = {
    objects_per_second: 'the objects-per-second limit',
    bytes_per_second: 'the bytes-per-second limit',
    metadata_updates_per_second: 'the metadata-updates-per-second limit',
  };
  return limit[basis] ?? basis;
}

const LIMIT_WORDS: Readonly<Record<string, string>> = {
  objects_per_second: 'objects/s',
  bytes_per_second: 'bytes/s',
  metadata_updates_per_second: 'metadata updates/s',
};

const limitText = (v: unknown): string => (v === null || v === undefined ? 'unlimited' : String(v));

const isLimits = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' &&
  v !== null &&
  Object.keys(v).length > 0 &&
  Object.keys(v).every((k) => k in LIMIT_WORDS);

const valueText = (v: unknown): string =>
  isLimits(v)
    ? Object.entries(v)
        .map(([k, n]) => `${LIMIT_WORDS[k]} ${limitText(n)}`)
        .join(', ')
    : typeof v === 'object'
      ? JSON.stringify(v)
      : String(v);

/** An event's detail in a line: a limit change as `objects/s: unlimited → 20`, else `key: value`. */
export function eventDetail(kind: string, detail: Readonly<Record<string, unknown>>): string {
  const { from, to } = detail as { from?: Record<string, unknown>; to?: Record<string, unknown> };
  if (kind === 'limits_changed' && typeof to === 'object' && to !== null) {
    const changed = Object.keys(LIMIT_WORDS).filter((k) => from?.[k] !== to[k]);
    return changed
      .map((k) => `${LIMIT_WORDS[k]}: ${limitText(from?.[k])} → ${limitText(to[k])}`)
      .join(', ');
  }
  return Object.entries(detail)
    .map(([k, v]) => `${k.replaceAll('_', ' ')}: ${valueText(v)}`)
    .join(', ');
}
