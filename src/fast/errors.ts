/** Typed errors of the Fast layer (spec/protocols.md §1.3, §1.6, §1.8). */
import { RebalancerError } from '../errors.ts';

/** A peer sent bytes that violate the framing/payload rules; fatal for that connection. */
export class FastProtocolError extends RebalancerError {
  override readonly name = 'FastProtocolError';
  readonly code = 'fast_protocol';
  /** One of: unsupported_version, unsupported_type, unsupported_status, invalid_msgid, bad_crc,
   * invalid_json, bad_data, bad_data_d, bad_error, incomplete_message, message_too_large,
   * unknown_msgid, null_value. */
  readonly reason: string;
  /** Details; always carries `fastReason` = `reason`, like node-fast's VError info. */
  readonly info: Record<string, unknown>;

  constructor(reason: string, message: string, info: Record<string, unknown> = {}) {
    super(message);
    this.reason = reason;
    this.info = { fastReason: reason, ...info };
  }
}

/** The server answered a request with an ERROR frame; carries the server's error verbatim. */
export class FastServerError extends RebalancerError {
  readonly code = 'fast_server_error';
  /** The server's error name, e.g. `EtagConflictError`. */
  override name: string;
  readonly context: Record<string, unknown>;
  readonly info: Record<string, unknown>;
  /** The RPC method of the failed request. */
  readonly method: string;

  constructor(
    method: string,
    payload: {
      name: string;
      message: string;
      context?: Record<string, unknown>;
      info?: Record<string, unknown>;
    },
  ) {
    super(payload.message);
    this.name = payload.name;
    this.method = method;
    this.context = payload.context ?? {};
    this.info = payload.info ?? {};
  }
}

/** The request was abandoned locally after its timeout; the server is not told (§1.8). */
export class FastTimeoutError extends RebalancerError {
  override readonly name = 'FastTimeoutError';
  readonly code = 'fast_timeout';
  readonly method: string;
  readonly timeoutMs: number;

  constructor(method: string, timeoutMs: number) {
    super(`fast request "${method}" timed out: nothing received for ${timeoutMs} ms`);
    this.method = method;
    this.timeoutMs = timeoutMs;
  }
}

/** The connection could not be made or was lost; every pending request fails with it. */
export class FastConnectionError extends RebalancerError {
  override readonly name = 'FastConnectionError';
  readonly code = 'fast_connection';
  readonly address: string;

  constructor(address: string, message: string, options?: { cause?: unknown }) {
    super(`${address}: ${message}`, options);
    this.address = address;
  }
}
