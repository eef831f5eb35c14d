/** Why the manager refuses to list or delete a shark's orphans (HTTP 409, code = `refusal`). */
import type { OrphanRefusalCode } from '../../api/orphans.ts';
import { RebalancerError } from '../../errors.ts';

export class OrphansRefusedError extends RebalancerError {
  override readonly name = 'OrphansRefusedError';
  readonly code = 'orphans_refused';
  constructor(
    readonly refusal: OrphanRefusalCode,
    message: string,
  ) {
    super(message);
  }
}
