/**
 * One client connection of a FastServer: frames decoded into requests, each run by its handler
 * as a ServerRpc whose DATA, END and ERROR frames go back in the request's own version; a
 * malformed frame, a duplicate pending msgid or a client END closes only this connection.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log/index.ts';
import {
  encodeFrame,
  encodeFrameJson,
  FastDecoder,
  type FastMessage,
  FastStatus,
  type FastVersion,
  nowMicros,
} from './codec.ts';
import { FastProtocolError } from './errors.ts';
import { type FastHandler, type FastRpc, RpcError } from './rpc.ts';
import { FrameWriter } from './writer.ts';

/** Where a connection finds the handler of a method. */
export interface HandlerSource {
  handler(method: string): FastHandler | undefined;
}

interface ErrorPayload {
  name: string;
  message: string;
  context: Record<string, unknown>;
  info: Record<string, unknown>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The ERROR payload for what a handler threw (§1.6). */
function errorPayload(err: unknown): ErrorPayload {
  if (err instanceof RpcError) {
    return { name: err.name, message: err.message, context: err.context, info: err.info };
  }
  if (err instanceof Error) {
    const context = (err as { context?: unknown }).context;
    return {
      name: err.name,
      message: err.message,
      context: isRecord(context) ? context : {},
      info: {},
    };
  }
  return { name: 'Error', message: String(err), context: {}, info: {} };
}

export class ServerConnection {
  private readonly decoder: FastDecoder;
  private readonly writer: FrameWriter;
  private readonly pending = new Map<number, ServerRpc>();
  private readonly abort = new AbortController();
  private readonly log: Logger;
  private shuttingDown = false;

  constructor(
    private readonly server: HandlerSource,
    readonly socket: Socket,
    log: Logger,
    maxMessageSize: number | undefined,
  ) {
    this.log = log.child({ remote: `${socket.remoteAddress}:${socket.remotePort}` });
    this.decoder = new FastDecoder({ maxMessageSize });
    this.writer = new FrameWriter(socket);
    socket.setKeepAlive(true, 10_000);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err) => this.log.debug({ err }, 'fast connection error'));
    socket.on('close', () => this.abort.abort(new Error('fast connection closed')));
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Stop taking requests; close once the in-flight ones finished. */
  shutdown(): void {
    this.shuttingDown = true;
    if (this.pending.size === 0) this.socket.end();
  }

  destroy(why: string, err?: unknown): void {
    if (this.socket.destroyed) return;
    this.log.warn({ err, pending: this.pending.size }, `closing fast connection: ${why}`);
    this.socket.destroy();
  }

  /** Writes a response frame; false when the socket is full. */
  send(msg: FastMessage): boolean {
    return this.writer.write(encodeFrame(msg));
  }

  /** Writes a DATA frame whose `d` is the given JSON text; false when the socket is full. */
  sendJson(version: FastVersion, msgid: number, name: string, dJson: string): boolean {
    const frame = encodeFrameJson(
      version,
      FastStatus.Data,
      msgid,
      { uts: nowMicros(), name },
      dJson,
    );
    return this.writer.write(frame);
  }

  drained(): Promise<void> {
    return this.writer.drained();
  }

  /** Called by an RPC when its END or ERROR was sent. */
  finished(rpc: ServerRpc): void {
    this.pending.delete(rpc.msgid);
    if (this.shuttingDown && this.pending.size === 0) this.socket.end();
  }

  private onData(chunk: Buffer): void {
    let messages: FastMessage[];
    try {
      messages = this.decoder.push(chunk);
    } catch (err) {
      this.destroy(err instanceof FastProtocolError ? err.reason : 'decoder failure', err);
      return;
    }
    for (const msg of messages) {
      if (this.socket.destroyed) return;
      this.onMessage(msg);
    }
  }

  private onEnd(): void {
    try {
      this.decoder.end();
    } catch (err) {
      this.log.warn({ err }, 'fast client ended mid-frame');
    }
    // The client will send no more requests; answer the in-flight ones, then close.
    this.shutdown();
  }

  private onMessage(msg: FastMessage): void {
    const { msgid, status, version } = msg;
    if (status === FastStatus.End) {
      this.destroy('unexpected_status: client sent END', undefined);
      return;
    }
    if (status === FastStatus.Error) {
      // Cancellation request of intermediate node-fast versions: logged and ignored (§1.6).
      this.log.info({ msgid, error: msg.data.d }, 'ignoring ERROR frame from fast client');
      return;
    }
    if (this.pending.has(msgid)) {
      this.destroy(`duplicate_msgid: ${msgid} is still pending`);
      return;
    }
    if (this.shuttingDown) {
      this.log.debug({ msgid, method: msg.data.m.name }, 'request during shutdown dropped');
      return;
    }
    const name = msg.data.m.name;
    const args = msg.data.d;
    if (typeof name !== 'string' || !Array.isArray(args)) {
      this.sendError(msgid, version, name, {
        name: 'FastError',
        message: 'RPC request is not well-formed',
        context: {},
        info: { fastReason: 'bad_data', rpcMsgid: msgid, rpcMessage: msg.data },
      });
      return;
    }
    const handler = this.server.handler(name);
    if (!handler) {
      this.sendError(msgid, version, name, {
        name: 'FastError',
        message: `unsupported RPC method: ${JSON.stringify(name)}`,
        context: {},
        info: { fastReason: 'bad_method', rpcMethod: name, rpcMsgid: msgid },
      });
      return;
    }
    const rpc = new ServerRpc(this, name, args, msgid, version);
    this.pending.set(msgid, rpc);
    rpc.run(handler, this.log);
  }

  sendError(msgid: number, version: FastVersion, name: string | null, d: ErrorPayload): void {
    const data = { m: { uts: nowMicros(), name }, d };
    let frame: Buffer;
    try {
      frame = encodeFrame({ version, status: FastStatus.Error, msgid, data });
    } catch (err) {
      // The handler's error context cannot be serialised; say so rather than sending nothing.
      this.log.warn({ err, msgid }, 'fast error payload not serialisable');
      const fallback = {
        name: d.name,
        message: `${d.message} (error context not serialisable)`,
        context: {},
        info: {},
      };
      frame = encodeFrame({
        version,
        status: FastStatus.Error,
        msgid,
        data: { m: data.m, d: fallback },
      });
    }
    this.writer.write(frame);
  }
}

class ServerRpc implements FastRpc {
  private done = false;

  constructor(
    private readonly conn: ServerConnection,
    readonly method: string,
    readonly args: unknown[],
    readonly msgid: number,
    readonly version: FastVersion,
  ) {}

  get signal(): AbortSignal {
    return this.conn.signal;
  }

  write(value: unknown): Promise<void> {
    if (this.done) return Promise.reject(new Error(`fast rpc ${this.method} already finished`));
    if (value === null || value === undefined) {
      // Clients reject null values (§1.5).
      return Promise.reject(new TypeError('fast rpc values must not be null or undefined'));
    }
    let ok: boolean;
    try {
      ok = this.conn.send({
        version: this.version,
        status: FastStatus.Data,
        msgid: this.msgid,
        data: { m: { uts: nowMicros(), name: this.method }, d: [value] },
      });
    } catch (err) {
      return Promise.reject(err);
    }
    return ok ? Promise.resolve() : this.conn.drained();
  }

  writeJson(json: string): Promise<void> {
    if (this.done) return Promise.reject(new Error(`fast rpc ${this.method} already finished`));
    if (json === 'null' || json.length === 0) {
      return Promise.reject(new TypeError('fast rpc values must not be null or empty'));
    }
    let ok: boolean;
    try {
      ok = this.conn.sendJson(this.version, this.msgid, this.method, `[${json}]`);
    } catch (err) {
      return Promise.reject(err);
    }
    return ok ? Promise.resolve() : this.conn.drained();
  }

  run(handler: FastHandler, log: Logger): void {
    let result: Promise<void>;
    try {
      result = handler(this);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      () => this.finish(),
      (err: unknown) => {
        log.debug({ err, method: this.method, msgid: this.msgid }, 'fast rpc failed');
        this.finish(errorPayload(err));
      },
    );
  }

  private finish(error?: ErrorPayload): void {
    this.done = true;
    if (error) {
      this.conn.sendError(this.msgid, this.version, this.method, error);
    } else {
      this.conn.send({
        version: this.version,
        status: FastStatus.End,
        msgid: this.msgid,
        data: { m: { uts: nowMicros(), name: this.method }, d: [] },
      });
    }
    this.conn.finished(this);
  }
}
