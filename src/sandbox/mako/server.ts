/**
 * The mako stand-in: an HTTP object server over a directory that behaves like a storage
 * node's nginx (peers.md §2): GET/HEAD/PUT of v1 and v2 object paths (any file under the
 * root, as nginx serves), with fault knobs and a request log for tests.
 */
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Logger } from '../../log/index.ts';
import { ADMIN_PREFIX, handleAdmin } from './admin.ts';
import { FaultController, type FaultDecider, type MakoFaultsInput } from './faults.ts';
import { serveObject } from './get.ts';
import { Md5Cache } from './md5-cache.ts';
import { sendErrorPage } from './nginx.ts';
import { storeObject } from './put.ts';
import { RequestLog } from './request-log.ts';
import { resolveRequestTarget } from './request-path.ts';

export interface MakoOptions {
  /** The object root (`/manta` on a real mako); created if absent. */
  readonly root: string;
  readonly host?: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  readonly faults?: MakoFaultsInput;
  readonly log?: Logger;
  /**
   * Real makos run nginx with `keepalive_timeout 0`: every response closes its connection.
   * Default false (faithful); true lets benchmarks reuse connections.
   */
  readonly keepAlive?: boolean;
  /**
   * Send `Content-MD5` (base64) on GET/HEAD. Default true for convenience; stock nginx on a
   * real mako sends none (peers.md §2.3), and the agent must not rely on it.
   */
  readonly contentMd5Header?: boolean;
  /** Request-log capacity (most recent requests kept), default 10 000. */
  readonly requestLogSize?: number;
}

export interface MakoHandle {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** `host:port`, usable as a `manta_storage_id` in test fixtures. */
  readonly storageId: string;
  readonly root: string;
  readonly faults: FaultController;
  readonly requests: RequestLog;
  close(): Promise<void>;
}

const NGINX_TEMP = 'nginx_temp';

export async function startMako(options: MakoOptions): Promise<MakoHandle> {
  const root = resolve(options.root);
  const tempDir = join(root, NGINX_TEMP);
  await mkdir(tempDir, { recursive: true });
  const log = options.log ?? createLogger({ name: 'mako' });
  const faults = new FaultController(options.faults ?? {});
  const requests = new RequestLog(options.requestLogSize);
  const md5Cache = new Md5Cache();
  const keepAlive = options.keepAlive ?? false;
  const stopping = new AbortController();
  const getCtx = {
    md5Cache,
    contentMd5Header: options.contentMd5Header ?? true,
    log,
    signal: stopping.signal,
    throttles: (path: string) => faults.throttles(path),
  };
  const putCtx = { tempDir, md5Cache, log };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    if (!keepAlive) res.setHeader('connection', 'close');
    res.setHeader('server', 'nginx');
    if (req.url?.startsWith(ADMIN_PREFIX)) {
      const adminPath = req.url.split('?')[0] ?? '';
      await handleAdmin(req, res, adminPath, faults, requests);
      return;
    }
    const target = resolveRequestTarget(root, req.url);
    const path = target.ok ? target.path : (req.url ?? '');
    let decider: FaultDecider | undefined;
    res.on('close', () => {
      const fault = decider?.applied;
      requests.add({
        time: Date.now(),
        method,
        path,
        status: res.statusCode,
        ...(fault ? { fault } : {}),
      });
    });
    if (!target.ok) {
      sendErrorPage(res, target.status, method);
      return;
    }
    if (method !== 'GET' && method !== 'HEAD' && method !== 'PUT') {
      sendErrorPage(res, 405, method);
      return;
    }
    decider = faults.next(target.path);
    if (decider.latencyMs > 0) {
      await sleep(decider.latencyMs, undefined, { signal: stopping.signal });
    }
    const errorStatus = decider.errorStatus(method);
    if (errorStatus !== undefined) {
      sendErrorPage(res, errorStatus, method);
      return;
    }
    if (method === 'PUT') {
      if (target.isRoot) {
        sendErrorPage(res, 409, method);
        return;
      }
      await storeObject(putCtx, req, res, target.path, target.file);
      return;
    }
    if (target.isRoot) {
      sendErrorPage(res, 403, method);
      return;
    }
    await serveObject(getCtx, req, res, target.path, target.file, decider);
  }

  const server = createServer({ requestTimeout: 0 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (stopping.signal.aborted) {
        res.destroy();
        return;
      }
      const code = (err as NodeJS.ErrnoException).code;
      // A client that goes away mid-body is routine for a storage node.
      if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || res.destroyed) {
        log.debug({ err, url: req.url }, 'client went away');
        res.destroy();
        return;
      }
      log.error({ err, method: req.method, url: req.url }, 'mako request failed');
      if (res.headersSent) {
        res.destroy();
      } else {
        sendErrorPage(res, 500, req.method ?? 'GET');
      }
    });
  });
  server.keepAliveTimeout = keepAlive ? 5000 : 0;

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  const url = `http://${hostInUrl}:${port}`;
  log.info({ url, port, root }, 'mako listening');

  return {
    url,
    host,
    port,
    storageId: `${hostInUrl}:${port}`,
    root,
    faults,
    requests,
    close: () =>
      new Promise<void>((resolveClose, reject) => {
        stopping.abort();
        server.close((err) => (err ? reject(err) : resolveClose()));
        server.closeAllConnections();
      }),
  };
}
