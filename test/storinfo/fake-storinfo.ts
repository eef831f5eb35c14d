/**
 * A minimal storinfo for client tests: the paging contract of peers.md §1.4 over node:http,
 * plus knobs to break it. (The full stand-in lives in src/sandbox/storinfo.)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeStorinfo {
  readonly url: string;
  /** Records served, in order (mutable). */
  nodes: Record<string, unknown>[];
  /** Send `Link: rel="next"` when more records remain (real storinfo does). */
  sendLink: boolean;
  /** When set, every request answers this status. */
  failWith: number | undefined;
  /** When set, `/storagenodes` answers this raw body. */
  rawBody: string | undefined;
  /** Called before each page is served (to mutate `nodes` between pages). */
  beforePage: ((afterId: string | null) => void) | undefined;
  readonly requests: string[];
  flushes: number;
  close(): Promise<void>;
}

export function node(
  n: number,
  overrides: Record<string, unknown> = {},
  dc = `dc${n % 3}`,
): Record<string, unknown> {
  return {
    availableMB: 100_000 + n,
    percentUsed: 10,
    filesystem: '/manta',
    datacenter: dc,
    manta_storage_id: `${n}.stor.test.example.com`,
    timestamp: 1_700_000_000_000 + n,
    hostname: `mako${n}`,
    statvfs: { bsize: 4096 },
    ...overrides,
  };
}

export async function startFakeStorinfo(nodes: Record<string, unknown>[]): Promise<FakeStorinfo> {
  const state = {
    nodes,
    sendLink: true,
    failWith: undefined as number | undefined,
    rawBody: undefined as string | undefined,
    beforePage: undefined as ((afterId: string | null) => void) | undefined,
    requests: [] as string[],
    flushes: 0,
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    state.requests.push(`${req.method} ${req.url}`);
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    };
    if (state.failWith !== undefined) return send(state.failWith, '{"code":"Broken"}');
    if (req.method === 'POST' && url.pathname === '/flush') {
      state.flushes++;
      return send(200, '');
    }
    if (req.method !== 'GET' || url.pathname !== '/storagenodes') return send(404, '{}');
    if (state.rawBody !== undefined) return send(200, state.rawBody);
    const afterId = url.searchParams.get('after_id');
    state.beforePage?.(afterId);
    const limit = Number(url.searchParams.get('limit') ?? 100);
    let start = 0;
    if (afterId) {
      const at = state.nodes.findIndex((n) => n.manta_storage_id === afterId);
      if (at < 0) return send(404, '{"code":"ResourceNotFound"}');
      start = at + 1;
    }
    const page = state.nodes.slice(start, start + limit);
    const headers: Record<string, string> = {};
    const last = page.at(-1);
    if (state.sendLink && start + limit < state.nodes.length && last) {
      headers.link = `</storagenodes?after_id=${encodeURIComponent(String(last.manta_storage_id))}&limit=${limit}>; rel="next"`;
    }
    return send(200, JSON.stringify(page), headers);
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  });
}
