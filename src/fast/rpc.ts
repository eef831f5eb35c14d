/** What a Fast RPC handler gets and throws (spec/protocols.md §1.5–§1.6). */
import { RebalancerError } from '../errors.ts';
import type { FastVersion } from './codec.ts';

export interface FastRpc {
  readonly method: string;
  readonly args: unknown[];
  readonly msgid: number;
  readonly version: FastVersion;
  /** Sends one DATA frame `d: [value]`; resolves when the socket can take more (backpressure).
   * After the connection closed, values are dropped and it resolves at once (see `signal`). */
  write(value: unknown): Promise<void>;
  /**
   * As `write`, for a value the handler already holds as JSON text: the frame carries the text
   * as is (`d: [<json>]`), sparing a parse and a re-stringify. The text must be valid JSON and
   * not `null`; it is not parsed to check.
   */
  writeJson(json: string): Promise<void>;
  /** Aborted when the connection closes (the handler may stop early). */
  readonly signal: AbortSignal;
}

/** Resolve → END `d: []`; throw → ERROR frame. */
export type FastHandler = (rpc: FastRpc) => Promise<void>;

/** What a handler throws to send a specific error payload. */
export class RpcError extends RebalancerError {
  readonly code = 'rpc_error';
  readonly context: Record<string, unknown>;
  readonly info: Record<string, unknown>;

  constructor(
    name: string,
    message: string,
    options?: { context?: Record<string, unknown>; info?: Record<string, unknown> },
  ) {
    super(message);
    this.name = name;
    this.context = options?.context ?? {};
    this.info = options?.info ?? {};
  }
}
