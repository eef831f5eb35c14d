/** The one error of a download from a source shark, whatever part of the exchange failed. */
import { RebalancerError } from '../../errors.ts';

export type HttpGetFailure =
  | 'connect_timeout'
  | 'idle_timeout'
  | 'aborted'
  /** Refused, reset, or closed before the response head arrived (the cause has the errno). */
  | 'connection_failed'
  /** A response head or body framing this client does not accept (malformed, oversized). */
  | 'bad_response'
  /** The connection broke while the body was in flight: fewer bytes than announced. */
  | 'truncated';

/** Every failure of a GET, before or after its headers; the task treats it as a network error. */
export class HttpGetError extends RebalancerError {
  override readonly name = 'HttpGetError';
  constructor(
    message: string,
    readonly code: HttpGetFailure,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An error's errno code and message, for the messages above. */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code === undefined ? err.message : `${code}: ${err.message}`;
}
