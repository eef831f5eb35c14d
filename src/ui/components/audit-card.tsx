/**
 * The safe-to-remove verdict for a shark: yes only when the audit finished and found no object
 * whose only proven copy is there. Below it, the counts, why the unsafe objects are unsafe (in
 * words) and the first of them by key.
 */
import type { AuditReport } from '../../api/audit.ts';
import { count, time } from '../format.ts';
import { reasonWords } from '../reasons.ts';

/** Unsafe objects listed on the page; `rebalancer-adm` pages through all of them. */
const LISTED = 20;

function verdictText(report: AuditReport | undefined): string {
  if (report?.verdict === 'safe') return 'safe to remove: yes';
  if (report?.verdict === 'unsafe') return 'safe to remove: no';
  if (report === undefined || report.state === 'running')
    return 'safe to remove: unknown until the audit finishes';
  return `safe to remove: unknown, the audit ${report.state}`;
}

export function AuditCard({ report }: { report: AuditReport | undefined }) {
  const reasons = Object.entries(report?.unsafe.by_reason ?? {}).filter(([, n]) => n > 0);
  return (
    <section class="card" aria-labelledby="audit-heading">
      <h2 id="audit-heading">Audit</h2>
      <p data-testid="audit-verdict" class={`verdict verdict-${report?.verdict ?? 'unknown'}`}>
        {report ? <span class="mono">{report.shark}</span> : null} {verdictText(report)}
      </p>
      {report ? (
        <>
          <p>
            Scanned {count(report.scanned.objects)} objects ({count(report.scanned.v1)} Moray,{' '}
            {count(report.scanned.v2)} buckets)
            {report.deep
              ? ', every other copy read and its MD5 compared'
              : ', other copies checked with HEAD'}
            : {count(report.safe)} safe, {count(report.unsafe.total)} unsafe. Started{' '}
            {time(report.started_at)}
            {report.finished_at ? `, finished ${time(report.finished_at)}` : ''}.
          </p>
          {reasons.length === 0 ? null : (
            <ul>
              {reasons.map(([code, n]) => (
                <li key={code}>
                  {count(n)}: {reasonWords(code)} <span class="mono sub">({code})</span>
                </li>
              ))}
            </ul>
          )}
          {report.unsafe_objects.length === 0 ? null : (
            <table>
              <caption>
                Unsafe objects (the first {Math.min(LISTED, report.unsafe_objects.length)} by key)
              </caption>
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Metadata</th>
                  <th scope="col">Why</th>
                </tr>
              </thead>
              <tbody>
                {report.unsafe_objects.slice(0, LISTED).map((o) => (
                  <tr key={`${o.tier}/${o.shard}/${o.key}`}>
                    <td class="mono">{o.key}</td>
                    <td>
                      {o.tier} shard {o.shard}
                    </td>
                    <td>{reasonWords(o.reason)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      ) : null}
    </section>
  );
}
