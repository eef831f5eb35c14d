/**
 * The demo's progress bar: the manager's progress of the job, drawn by the renderer
 * `rebalancer-adm job get --watch` uses (adm/progress.ts). A live bar on a terminal; plain
 * lines every few seconds otherwise (logs, CI, a pipe).
 */
import { type ProgressOutput, ProgressView } from '../../adm/progress.ts';

export type ProgressSink = ProgressOutput;

const PLAIN_EVERY_MS = 5000;

export class JobProgress extends ProgressView {
  constructor(out: ProgressSink) {
    super(out, { plainEveryMs: PLAIN_EVERY_MS });
  }
}
