/**
 * Loads the real node-fast 3.1.3 and node-moray 4.1.4 from test/interop/node_modules (an isolated
 * package, see README.md) behind small typed façades. When that package is not installed the
 * interop tests skip, or fail when REBALANCER_REQUIRE_INTEROP=1 (CI installs it).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Server as NetServer, Socket } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

export const INSTALL_COMMAND = 'npm ci --prefix test/interop';
export const REQUIRE_ENV = 'REBALANCER_REQUIRE_INTEROP';

/** bunyan-style logger node-fast and node-moray insist on. */
export interface BunyanLogger {
  child(fields: Record<string, unknown>, simple?: boolean): BunyanLogger;
}

/** Encoder half of node-fast's lib/fast_protocol.js. */
export interface NodeFastProtocol {
  fastMessageEncode(msg: { msgid: number; status: number; version: number; data: unknown }): Buffer;
}

/** What node-fast hands an RPC handler: an object-mode writable plus accessors. */
export interface NodeFastRpc {
  argv(): unknown[];
  methodName(): string;
  requestId(): number;
  write(value: object): boolean;
  end(value?: object): void;
  fail(err: Error): void;
  once(event: 'drain', listener: () => void): void;
}

export interface NodeFastServer {
  registerRpcMethod(args: { rpcmethod: string; rpchandler: (rpc: NodeFastRpc) => void }): void;
  close(): void;
}

/** node-fast's request stream: 'data' per value, then 'end' or 'error'. */
export interface NodeFastRequest {
  on(event: 'data', listener: (value: unknown) => void): this;
  on(event: 'end', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

export interface NodeFastClient {
  rpc(args: {
    rpcmethod: string;
    rpcargs: unknown[];
    ignoreNullValues?: boolean;
    timeout?: number;
  }): NodeFastRequest;
  detach(): void;
}

export interface NodeFast {
  FastServer: new (args: { log: BunyanLogger; server: NetServer }) => NodeFastServer;
  FastClient: new (args: {
    log: BunyanLogger;
    transport: Socket;
    nRecentRequests: number;
    version?: number;
  }) => NodeFastClient;
}

/** node-moray's record/end/error emitter (findObjects, sql). */
export interface MorayEmitter {
  on(event: 'record', listener: (record: Record<string, unknown>) => void): this;
  on(event: 'end', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

type Callback<T> = (err: Error | null, result: T) => void;
type Options = Record<string, unknown>;

export interface NodeMorayClient {
  on(event: 'connect', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  createBucket(bucket: string, config: Options, opts: Options, cb: Callback<void>): void;
  getBucket(bucket: string, opts: Options, cb: Callback<Record<string, unknown>>): void;
  putObject(
    bucket: string,
    key: string,
    value: Options,
    opts: Options,
    cb: Callback<{ etag: string }>,
  ): void;
  getObject(
    bucket: string,
    key: string,
    opts: Options,
    cb: Callback<Record<string, unknown>>,
  ): void;
  delObject(bucket: string, key: string, opts: Options, cb: Callback<void>): void;
  findObjects(bucket: string, filter: string, opts: Options): MorayEmitter;
  batch(requests: Options[], opts: Options, cb: Callback<{ etags: Options[] }>): void;
  sql(statement: string, values: unknown[], opts: Options): MorayEmitter;
  close(): void;
}

export interface NodeMoray {
  createClient(options: {
    host: string;
    port: number;
    log: BunyanLogger;
    failFast?: boolean;
    unwrapErrors?: boolean;
  }): NodeMorayClient;
}

export interface InteropLibraries {
  fast: NodeFast;
  fastProtocol: NodeFastProtocol;
  moray: NodeMoray;
  /** A logger that prints nothing (node-fast logs expected failures at warn). */
  log: BunyanLogger;
}

const packageJson = new URL('./package.json', import.meta.url);
const installed = new URL('./node_modules/.package-lock.json', import.meta.url);

const EXPECTED = { fast: '3.1.3', moray: '4.1.4' } as const;

function load(): InteropLibraries {
  const require = createRequire(fileURLToPath(packageJson));
  for (const [name, version] of Object.entries(EXPECTED)) {
    const found = (require(`${name}/package.json`) as { version: string }).version;
    if (found !== version) {
      throw new Error(
        `test/interop has ${name}@${found}, expected ${version}: run \`${INSTALL_COMMAND}\``,
      );
    }
  }
  const bunyan = require('bunyan') as {
    createLogger(opts: { name: string; level: number }): BunyanLogger;
  };
  return {
    fast: require('fast') as NodeFast,
    fastProtocol: require('fast/lib/fast_protocol') as NodeFastProtocol,
    moray: require('moray') as NodeMoray,
    // Above bunyan's FATAL (60): silent.
    log: bunyan.createLogger({ name: 'interop', level: 70 }),
  };
}

/**
 * The libraries, or undefined after registering one test that skips (not installed) or fails
 * (not installed but REBALANCER_REQUIRE_INTEROP=1). Installed but unloadable always fails.
 */
export function interopLibraries(suite: string): InteropLibraries | undefined {
  if (existsSync(installed)) return load();
  const why = `test/interop/node_modules is not installed; run \`${INSTALL_COMMAND}\``;
  if (process.env[REQUIRE_ENV] === '1') {
    test(suite, () => {
      throw new Error(`${why} (${REQUIRE_ENV}=1 requires the interop tests)`);
    });
  } else {
    test(suite, { skip: why }, () => {
      // Skipped: the body never runs.
    });
  }
  return undefined;
}

/**
 * The server's error behind node-fast's and node-moray's wrappers (FastRequestError →
 * FastServerError → the reconstituted server error, plus node-moray's own context): the deepest
 * VError cause.
 */
export function serverCause(err: Error): Error & { context?: Record<string, unknown> } {
  let cur: Error = err;
  for (;;) {
    const cause = (cur as Error & { cause?: unknown }).cause;
    const next = typeof cause === 'function' ? (cause.call(cur) as Error | undefined) : undefined;
    if (!next) return cur;
    cur = next;
  }
}
