/**
 * What became of a job's objects: the count in each state, why the skipped ones were skipped
 * and the failed ones failed (in words, the code beside), and what each convergence round
 * retried and what that became.
 */
import type { Convergence } from '../../api/convergence.ts';
import { type JobResults, RESULT_STATUS_KEYS } from '../../api/manager.ts';
import { count, time } from '../format.ts';
import { errorCode, reasonWords } from '../reasons.ts';

function ReasonTable({ caption, rows }: { caption: string; rows: [string, number][] }) {
  if (rows.length === 0) return null;
  return (
    <table class="reasons">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Why</th>
          <th scope="col">Code</th>
          <th scope="col" class="num">
            Objects
          </th>
        </tr>
      </thead>
      <tbody>
        {rows
          .sort(([, a], [, b]) => b - a)
          .map(([code, n]) => (
            <tr key={code}>
              <td>{reasonWords(code)}</td>
              <td class="mono">{code}</td>
              <td class="num">{count(n)}</td>
            </tr>
          ))}
      </tbody>
    </table>
  );
}

export function JobResultsCard({ results }: { results: JobResults }) {
  const skips = Object.entries(results.skip_breakdown ?? {});
  const errors = Object.entries(results.error_breakdown ?? {}).flatMap(([backend, details]) =>
    Object.entries(details).map(([detail, n]): [string, number] => [errorCode(backend, detail), n]),
  );
  return (
    <section class="card" aria-labelledby="results-heading">
      <h2 id="results-heading">Objects by state</h2>
      <dl class="counts">
        {RESULT_STATUS_KEYS.map((key) => (
          <div key={key}>
            <dt>{key}</dt>
            <dd>{count(results[key])}</dd>
          </div>
        ))}
        <div>
          <dt>Duplicates</dt>
          <dd>{count(results.Duplicates)}</dd>
        </div>
        <div>
          <dt>Total</dt>
          <dd>{count(results.Total)}</dd>
        </div>
      </dl>
      <ReasonTable caption="Skipped, by reason" rows={skips} />
      <ReasonTable caption="Failed, by error" rows={errors} />
    </section>
  );
}

const became = (counts: Record<string, number>, what: string): string[] =>
  Object.entries(counts).map(([code, n]) => `${count(n)} ${what}: ${reasonWords(code)}`);

export function ConvergenceCard(props: { convergence: Convergence; final: boolean }) {
  const { convergence, final } = props;
  return (
    <section class="card" aria-labelledby="convergence-heading">
      <h2 id="convergence-heading">
        Convergence{' '}
        <span class="sub">
          ({convergence.rounds.length} of at most {convergence.rounds_limit} rounds)
        </span>
      </h2>
      {convergence.rounds.length === 0 ? (
        <p>
          {final
            ? 'No round ran: nothing was left to retry.'
            : 'No round has run yet: rounds start after the main pass.'}
        </p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Round</th>
              <th scope="col" class="num">
                Retried
              </th>
              <th scope="col" class="num">
                Rewritten
              </th>
              <th scope="col" class="num">
                Complete
              </th>
              <th scope="col">Still skipped or failed</th>
              <th scope="col">Finished</th>
            </tr>
          </thead>
          <tbody>
            {convergence.rounds.map((r) => {
              const rest = [
                ...became(r.became.skipped, 'skipped'),
                ...became(r.became.error, 'failed'),
                ...(r.became.unfinished > 0 ? [`${count(r.became.unfinished)} unfinished`] : []),
              ];
              return (
                <tr key={r.round}>
                  <th scope="row">{r.round}</th>
                  <td class="num">{count(r.retried)}</td>
                  <td class="num">{count(r.rewritten)}</td>
                  <td class="num">{count(r.became.complete)}</td>
                  <td>{rest.length === 0 ? 'none' : rest.join('; ')}</td>
                  <td>{time(r.finished_at)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
