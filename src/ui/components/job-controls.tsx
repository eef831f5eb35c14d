/**
 * What an operator can do to a job: pause, resume, cancel, retry, and change its limits. Each
 * button is enabled only in the states where the manager accepts it (job-rules.ts).
 */
import { useEffect, useState } from 'preact/hooks';
import type { JobLimits, LimitName } from '../../api/limits.ts';
import type { JobStatus } from '../../api/manager.ts';
import { api } from '../api.ts';
import { allowedActions } from '../job-rules.ts';
import { act } from '../problems.ts';
import { navigate } from '../router.ts';
import { LimitFields, limitTexts, parseLimits } from './limit-fields.tsx';

export function JobActions(props: { uuid: string; status: JobStatus; refresh: () => void }) {
  const { uuid, status, refresh } = props;
  const [busy, setBusy] = useState(false);
  const allowed = allowedActions(status);
  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    await act(action);
    setBusy(false);
    refresh();
  };
  const retry = async () => {
    setBusy(true);
    const id = await act(() => api.retry(uuid));
    setBusy(false);
    if (id !== undefined) navigate({ view: 'job', id });
  };
  return (
    <div class="actions">
      <button
        type="button"
        disabled={busy || !allowed.pause}
        onClick={() => run(() => api.pause(uuid))}
      >
        Pause
      </button>
      <button
        type="button"
        disabled={busy || !allowed.resume}
        onClick={() => run(() => api.resume(uuid))}
      >
        Resume
      </button>
      <button
        type="button"
        class="danger"
        disabled={busy || !allowed.cancel}
        onClick={() => run(() => api.cancel(uuid))}
      >
        Cancel
      </button>
      <button type="button" disabled={busy || !allowed.retry} onClick={retry}>
        Retry
      </button>
    </div>
  );
}

export function LimitsForm(props: { uuid: string; limits?: JobLimits; refresh: () => void }) {
  const { uuid, limits, refresh } = props;
  const [values, setValues] = useState(() => limitTexts(limits));
  // While the operator edits, the polled limits do not overwrite what they typed.
  const [editing, setEditing] = useState(false);
  const [invalid, setInvalid] = useState<LimitName[]>([]);
  const current = JSON.stringify(limits ?? null);
  // Keyed on `current`, the limits' text: each poll brings an equal but new object.
  useEffect(() => {
    if (!editing) setValues(limitTexts(limits));
  }, [current, editing]);

  const submit = async (event: Event) => {
    event.preventDefault();
    const { changes, bad } = parseLimits(values);
    setInvalid(bad);
    if (bad.length > 0) return;
    const done = await act(() => api.setLimits(uuid, changes));
    if (done !== undefined) setEditing(false);
    refresh();
  };

  return (
    <form class="limits" onSubmit={submit} aria-labelledby="limits-heading">
      <h3 id="limits-heading">Limits</h3>
      <LimitFields
        values={values}
        invalid={invalid}
        onInput={(v) => {
          setEditing(true);
          setValues(v);
        }}
      />
      <button type="submit">Apply limits</button>
    </form>
  );
}
