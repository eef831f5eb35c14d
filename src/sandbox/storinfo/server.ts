/**
 * The storinfo stand-in (peers.md §1): `GET /storagenodes` with storinfo's exact paging
 * contract, `GET /storagenodes/:id`, `POST /flush`, fed by the real usage of each mako's
 * directory. Stand-in-only controls live under `/_sandbox/` (see handleAdmin).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Logger } from '../../log/index.ts';
import {
  type Heartbeat,
  InvalidStorinfoInputError,
  parseSharkConfig,
  parseSharkPatch,
  parseStorinfoConfig,
  parseStorinfoFaults,
  type SharkConfig,
  type SharkPatch,
  type StorinfoConfig,
  type StorinfoFaults,
} from './config.ts';
import { DuplicateSharkError, Fleet, type SharkView, UnknownSharkError } from './fleet.ts';
import { pageNodes } from './paging.ts';
import type { StorageNodeRecord } from './record.ts';

export interface StorinfoOptions extends StorinfoConfig {
  readonly log?: Logger;
}

export interface StorinfoHandle {
  readonly url: string;
  readonly port: number;
  /** Re-poll now (what POST /flush does). */
  flush(): Promise<void>;
  /** The list /storagenodes currently serves. */
  nodes(): readonly StorageNodeRecord[];
  /** Every configured node with its state, listed or not. */
  sharks(): SharkView[];
  /** Changes take effect at the next poll (flush() for now), as on a real deployment. */
  setHeartbeat(storageId: string, heartbeat: Heartbeat): SharkView;
  updateShark(storageId: string, patch: SharkPatch): SharkView;
  addShark(shark: SharkConfig): void;
  removeShark(storageId: string): void;
  setFaults(faults: StorinfoFaults): void;
  close(): Promise<void>;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 500;
const MAX_ADMIN_BODY = 1 << 20;

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  sendText(res, status, text, headers);
}

function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(text));
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(text);
}

/** restify-style error body. */
function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { code, message });
}

/** `limit` (1..500, default 100) and `after_id`; anything else is an error message. */
function parseListQuery(
  params: URLSearchParams,
): { limit: number; afterId: string | undefined } | string {
  let limit = DEFAULT_LIMIT;
  let afterId: string | undefined;
  for (const name of new Set(params.keys())) {
    const values = params.getAll(name);
    if (name === 'limit') {
      const text = values.length === 1 ? (values[0] ?? '') : '';
      const n = Number(text);
      if (!/^[0-9]+$/.test(text) || n < 1 || n > MAX_LIMIT) return 'Invalid parameter: limit';
      limit = n;
    } else if (name === 'after_id') {
      if (values.length !== 1) return 'Invalid parameter: after_id';
      afterId = values[0];
    } else {
      return `Invalid parameter: ${name}`;
    }
  }
  return { limit, afterId };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_ADMIN_BODY)
      throw new InvalidStorinfoInputError('body', [{ path: '', message: 'too large' }]);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch (err) {
    throw new InvalidStorinfoInputError('body', [
      { path: '', message: `invalid JSON: ${(err as Error).message}` },
    ]);
  }
}

export async function startStorinfo(options: StorinfoOptions): Promise<StorinfoHandle> {
  const { log: givenLog, ...config } = options;
  const parsed = parseStorinfoConfig(config);
  const log = givenLog ?? createLogger({ name: 'storinfo' });
  const fleet = new Fleet(parsed.sharks, {
    maxOperatorUtilizationPct: parsed.maxOperatorUtilizationPct ?? 92,
    lagMs: parsed.lagMs ?? 60_000,
    log,
  });
  let faults: StorinfoFaults = parsed.faults ?? {};
  const stopping = new AbortController();

  // Like storinfo, serve only after a first successful poll.
  await fleet.poll();
  // The first poll walks every mako's tree; later ones re-read only the directories that
  // changed (usage.ts), in time proportional to the files added. A job adding many at once
  // still makes a poll long: timed polls skip their turn while one runs or until three times
  // the last one's duration has passed, so they never take more than a quarter of a core.
  // POST /flush always polls.
  let timedPollBusy = false;
  let nextTimedPollAt = 0;
  const pollTimer = setInterval(() => {
    if (timedPollBusy || performance.now() < nextTimedPollAt) return;
    timedPollBusy = true;
    const started = performance.now();
    fleet
      .poll()
      .catch((err: unknown) => {
        // storinfo logs a failed refresh and keeps serving the previous cache.
        log.error({ err }, 'storinfo poll failed; keeping the previous cache');
      })
      .finally(() => {
        const ended = performance.now();
        nextTimedPollAt = ended + 3 * (ended - started);
        timedPollBusy = false;
      });
  }, parsed.pollIntervalMs ?? 30_000);
  pollTimer.unref();

  function sendNodes(
    res: ServerResponse,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    if (faults.body === 'malformed-json') {
      sendText(res, 200, '[{"manta_storage_id": ', headers);
      return;
    }
    if (faults.body === 'missing-field') {
      const strip = (n: StorageNodeRecord) => {
        const { timestamp: _dropped, ...rest } = n;
        return rest;
      };
      sendJson(
        res,
        200,
        Array.isArray(body) ? body.map(strip) : strip(body as StorageNodeRecord),
        headers,
      );
      return;
    }
    sendJson(res, 200, body, headers);
  }

  function listNodes(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const query = parseListQuery(url.searchParams);
    if (typeof query === 'string') {
      sendError(res, 400, 'BadRequest', query);
      return;
    }
    const page = pageNodes(fleet.list(), query.limit, query.afterId);
    if (page.status === 404) {
      sendError(res, 404, 'ResourceNotFound', `after_id ${query.afterId} is past the last node`);
      return;
    }
    const headers: Record<string, string> = {};
    if (page.nextAfterId !== undefined) {
      const next = `/storagenodes?after_id=${encodeURIComponent(page.nextAfterId)}&limit=${query.limit}`;
      headers.link = `<http://${req.headers.host ?? 'storinfo'}${next}>; rel="next"`;
    }
    sendNodes(res, page.nodes, headers);
  }

  async function handleAdmin(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    if (path === '/_sandbox/faults') {
      if (method === 'GET') return sendJson(res, 200, faults);
      if (method === 'PUT') {
        faults = parseStorinfoFaults(await readJson(req));
        return sendJson(res, 200, faults);
      }
    } else if (path === '/_sandbox/sharks') {
      if (method === 'GET') return sendJson(res, 200, fleet.views());
      if (method === 'POST') {
        fleet.add(parseSharkConfig(await readJson(req)));
        return sendJson(res, 201, fleet.views());
      }
    } else if (path.startsWith('/_sandbox/sharks/')) {
      const id = decodeURIComponent(path.slice('/_sandbox/sharks/'.length));
      if (method === 'PUT' || method === 'PATCH') {
        return sendJson(res, 200, fleet.update(id, parseSharkPatch(await readJson(req))));
      }
      if (method === 'DELETE') {
        fleet.remove(id);
        res.statusCode = 204;
        res.end();
        return;
      }
    } else {
      return sendError(res, 404, 'ResourceNotFound', `${path} does not exist`);
    }
    return sendError(res, 405, 'MethodNotAllowed', `${method} is not allowed on ${path}`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://storinfo');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path.startsWith('/_sandbox/')) return handleAdmin(req, res, path);

    if (path === '/flush') {
      if (method !== 'POST')
        return sendError(res, 405, 'MethodNotAllowed', `${method} is not allowed`);
      await fleet.poll();
      res.statusCode = 200;
      res.setHeader('content-length', 0);
      res.end();
      return;
    }
    if (path === '/storagenodes' || path.startsWith('/storagenodes/')) {
      if (method !== 'GET' && method !== 'HEAD') {
        return sendError(res, 405, 'MethodNotAllowed', `${method} is not allowed`);
      }
      if (faults.latencyMs) await sleep(faults.latencyMs, undefined, { signal: stopping.signal });
      if (faults.status !== undefined) {
        return sendError(res, faults.status, 'InjectedFault', `injected status ${faults.status}`);
      }
      if (path === '/storagenodes') return listNodes(req, res, url);
      const id = decodeURIComponent(path.slice('/storagenodes/'.length));
      const node = fleet.get(id);
      if (!node) return sendError(res, 404, 'NotFound', `storage node ${id} not found`);
      return sendNodes(res, node);
    }
    return sendError(res, 404, 'ResourceNotFound', `${path} does not exist`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (stopping.signal.aborted) {
        res.destroy();
        return;
      }
      if (err instanceof InvalidStorinfoInputError) {
        return sendJson(res, 400, { code: 'BadRequest', message: err.message, errors: err.errors });
      }
      if (err instanceof UnknownSharkError) return sendError(res, 404, 'NotFound', err.message);
      if (err instanceof DuplicateSharkError) return sendError(res, 409, 'Conflict', err.message);
      if (err instanceof URIError) return sendError(res, 400, 'BadRequest', 'malformed URL');
      log.error({ err, method: req.method, url: req.url }, 'storinfo request failed');
      if (res.headersSent) res.destroy();
      else sendError(res, 500, 'InternalError', 'internal error');
    });
  });

  const host = parsed.host ?? '127.0.0.1';
  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(parsed.port ?? 0, host, () => {
        server.off('error', reject);
        resolveListen();
      });
    });
  } catch (err) {
    clearInterval(pollTimer);
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info({ url, port, sharks: parsed.sharks.length }, 'storinfo listening');

  return {
    url,
    port,
    flush: () => fleet.poll(),
    nodes: () => fleet.list(),
    sharks: () => fleet.views(),
    setHeartbeat: (id, heartbeat) => fleet.update(id, { heartbeat }),
    updateShark: (id, patch) => fleet.update(id, parseSharkPatch(patch)),
    addShark: (shark) => fleet.add(parseSharkConfig(shark)),
    removeShark: (id) => fleet.remove(id),
    setFaults: (f) => {
      faults = parseStorinfoFaults(f);
    },
    close: () =>
      new Promise<void>((resolveClose, reject) => {
        clearInterval(pollTimer);
        stopping.abort();
        server.close((err) => (err ? reject(err) : resolveClose()));
        server.closeAllConnections();
      }),
  };
}
