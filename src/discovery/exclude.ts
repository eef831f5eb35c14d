/**
 * `exclude_key_prefixes` (peers.md §4.4, manager.md §9.3): objects under system-managed paths
 * (`/stor/logs/`, ...) that crons rewrite during a job are kept out of it.
 *
 * L's semantics are kept where the spec says they are intended: `["none"]` (exactly) or `[]`
 * disables the filter, and an entry matches a key that *contains* it (keys are
 * `/<owner>/stor/logs/...`, so the default entries are never literal prefixes). Unlike L the
 * filter applies in both discovery modes and excluded objects are reported, not dropped.
 * `match: 'owner-prefix'` is the stricter alternative: the entry must start the key, or the
 * key with its leading `/<owner>` segment removed.
 */

/** L's default (`options.exclude_key_prefixes`). */
export const DEFAULT_EXCLUDE_KEY_PREFIXES: readonly string[] = [
  '/stor/logs/',
  '/stor/usage/',
  '/stor/manatee_backups/',
];

export type ExcludeMatch = 'substring' | 'owner-prefix';

/** Returns the matching entry for a key, or undefined; a no-op function when disabled. */
export function keyExcluder(
  entries: readonly string[],
  match: ExcludeMatch = 'substring',
): (key: string) => string | undefined {
  const active =
    entries.length === 1 && entries[0] === 'none' ? [] : entries.filter((e) => e !== '');
  if (active.length === 0) return () => undefined;
  if (match === 'substring') {
    return (key) => active.find((e) => key.includes(e));
  }
  return (key) => {
    const slash = key.indexOf('/', 1);
    const ownerRelative = key.startsWith('/') && slash > 0 ? key.slice(slash) : key;
    return active.find((e) => key.startsWith(e) || ownerRelative.startsWith(e));
  };
}
