/**
 * The three limits of a job as form fields, for the limits form of a running job and for a new
 * evacuation: whole numbers of at least 1, empty meaning unlimited.
 */
import type { JobLimits, LimitChanges, LimitName } from '../../api/limits.ts';

export const LIMIT_FIELDS: readonly [LimitName, string][] = [
  ['objects_per_second', 'Objects per second'],
  ['bytes_per_second', 'Bytes per second'],
  ['metadata_updates_per_second', 'Metadata updates per second'],
];

export type LimitTexts = Record<LimitName, string>;

export const limitTexts = (limits: JobLimits | undefined): LimitTexts => ({
  objects_per_second: String(limits?.objects_per_second ?? ''),
  bytes_per_second: String(limits?.bytes_per_second ?? ''),
  metadata_updates_per_second: String(limits?.metadata_updates_per_second ?? ''),
});

/** A field's text as a limit: empty is unlimited (null); undefined when it is no limit. */
export function parseLimit(text: string): number | null | undefined {
  const t = text.trim();
  if (t === '') return null;
  if (!/^[0-9]+$/.test(t)) return undefined;
  const n = Number(t);
  return n >= 1 && Number.isSafeInteger(n) ? n : undefined;
}

/** The fields' texts as limits, or the names of those that are no limit. */
export function parseLimits(texts: LimitTexts): { changes: LimitChanges; bad: LimitName[] } {
  const changes: LimitChanges = {};
  const bad: LimitName[] = [];
  for (const [name] of LIMIT_FIELDS) {
    const limit = parseLimit(texts[name]);
    if (limit === undefined) bad.push(name);
    else changes[name] = limit;
  }
  return { changes, bad };
}

export function LimitFields(props: {
  values: LimitTexts;
  invalid: readonly LimitName[];
  onInput: (values: LimitTexts) => void;
}) {
  const { values, invalid, onInput } = props;
  return (
    <>
      <p id="limits-hint" class="hint">
        Whole numbers of at least 1; empty means unlimited. Metadata updates are per metadata shard.
      </p>
      {LIMIT_FIELDS.map(([name, label]) => (
        <div class="field" key={name}>
          <label for={`limit-${name}`}>{label}</label>
          <input
            id={`limit-${name}`}
            type="text"
            inputMode="numeric"
            autoComplete="off"
            placeholder="unlimited"
            aria-describedby="limits-hint"
            aria-invalid={invalid.includes(name)}
            value={values[name]}
            onInput={(e) => onInput({ ...values, [name]: e.currentTarget.value })}
          />
        </div>
      ))}
      {invalid.length > 0 ? (
        <p class="field-error" role="status">
          Not a limit: {invalid.map((n) => LIMIT_FIELDS.find(([f]) => f === n)?.[1]).join(', ')}.
        </p>
      ) : null}
    </>
  );
}
