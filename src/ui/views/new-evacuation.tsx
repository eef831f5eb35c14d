/**
 * Starting an evacuation: choose the shark, and plan it first. The dry run finds every object
 * and places it as a real run would, moving nothing; its page shows the plan and starts the
 * real evacuation from it.
 */
import { useState } from 'preact/hooks';
import type { LimitName } from '../../api/limits.ts';
import { api } from '../api.ts';
import { LimitFields, limitTexts, parseLimits } from '../components/limit-fields.tsx';
import { megabytes } from '../format.ts';
import { usePoll } from '../poll.ts';
import { act } from '../problems.ts';
import { navigate } from '../router.ts';

export function NewEvacuationView({ shark: initial }: { shark: string }) {
  const [shark, setShark] = useState(initial);
  const [busy, setBusy] = useState(false);
  const [limits, setLimits] = useState(() => limitTexts(undefined));
  const [invalid, setInvalid] = useState<LimitName[]>([]);
  const { data } = usePoll('sharks', (signal) => api.sharks(signal), []);
  const candidates = (data?.sharks ?? [])
    .filter((s) => s.evacuating === null)
    .sort((a, b) => a.manta_storage_id.localeCompare(b.manta_storage_id));

  const plan = async (event: Event) => {
    event.preventDefault();
    const { changes, bad } = parseLimits(limits);
    setInvalid(bad);
    if (bad.length > 0) return;
    setBusy(true);
    // The limits go with the dry run: the evacuation started from its plan keeps them.
    const id = await act(() =>
      api.evacuate({ from_shark: shark.trim(), dry_run: true, ...changes }),
    );
    setBusy(false);
    if (id !== undefined) navigate({ view: 'job', id });
  };

  return (
    <section class="card narrow" aria-labelledby="new-heading">
      <h2 id="new-heading">Plan an evacuation</h2>
      <p>
        A dry run moves nothing: it finds the objects on the shark and places each one as the
        evacuation would. Its plan shows what moves where and what cannot; you start the evacuation
        from there.
      </p>
      <form onSubmit={plan}>
        <div class="field">
          <label for="evacuate-shark">Shark</label>
          <input
            id="evacuate-shark"
            class="mono"
            list="evacuate-candidates"
            required
            autoComplete="off"
            spellcheck={false}
            aria-describedby="evacuate-shark-hint"
            value={shark}
            onInput={(e) => setShark(e.currentTarget.value)}
          />
          <p id="evacuate-shark-hint" class="hint">
            Its storage id (e.g. 1.stor.example.com) or short name.
          </p>
          <datalist id="evacuate-candidates">
            {candidates.map((s) => (
              <option key={s.manta_storage_id} value={s.manta_storage_id}>
                {s.datacenter}, {s.percent_used}% used, {megabytes(s.available_mb)} available
              </option>
            ))}
          </datalist>
        </div>
        <fieldset>
          <legend>Limits</legend>
          <LimitFields values={limits} invalid={invalid} onInput={setLimits} />
        </fieldset>
        <button type="submit" class="primary" disabled={busy || shark.trim() === ''}>
          Plan (dry run)
        </button>
      </form>
    </section>
  );
}
