/** The job service's typed refusals; the HTTP API answers each with its status. */
import { RebalancerError } from '../../errors.ts';

export class BadRequestError extends RebalancerError {
  override readonly name = 'BadRequestError';
  readonly code = 'bad_request';
}
export class NotFoundError extends RebalancerError {
  override readonly name = 'NotFoundError';
  readonly code = 'not_found';
}
export class ConflictError extends RebalancerError {
  override readonly name = 'ConflictError';
  readonly code = 'conflict';
}
/** A dependency (e.g. storinfo) could not answer: try again later (503). */
export class UnavailableError extends RebalancerError {
  override readonly name = 'UnavailableError';
  readonly code = 'unavailable';
}
/** `snaplink_cleanup_required` is set: no job may be created (manager.md §6.2). */
export class SnaplinkCleanupRequiredError extends RebalancerError {
  override readonly name = 'SnaplinkCleanupRequiredError';
  readonly code = 'snaplink_cleanup_required';
}
