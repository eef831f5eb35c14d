/** A FastServer standing in for a Moray shard: records each call, answers with spec shapes. */
import { type FastHandler, type FastRpc, FastServer } from '../../src/fast/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { sampleMantaRecord } from '../support/manta-record.ts';

export const log = createLogger({ name: 'test', level: 'silent' });

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export const mantaValue = sampleMantaRecord() as Record<string, unknown> & { key: string };

export function mantaRecord(count: number | null | undefined): Record<string, unknown> {
  const record: Record<string, unknown> = {
    bucket: 'manta',
    key: mantaValue.key,
    value: mantaValue,
    _id: 114590,
    _etag: '7712D647',
    _mtime: 1570611723074,
    _txn_snap: null,
  };
  if (count !== undefined) record._count = count;
  return record;
}

export const mantaBucketRow = {
  name: 'manta',
  index:
    '{"dirname":{"type":"string"},"name":{"type":"string"},"owner":{"type":"string"},"objectId":{"type":"string"},"type":{"type":"string"}}',
  pre: '[]',
  post: '["function recordDeleteLog(req, cb) { ... }"]',
  options: '{"version":2}',
  mtime: '2019-10-09T08:00:00.000Z',
  reindex_active: null,
};

export interface Call {
  method: string;
  args: unknown[];
}

/** Starts a fake shard; `handlers` override or add methods. */
export async function fakeShard(
  handlers: Record<string, FastHandler> = {},
): Promise<{ server: FastServer; port: number; calls: Call[] }> {
  const server = new FastServer({ log, closeTimeoutMs: 1000 });
  const calls: Call[] = [];
  const record =
    (h: FastHandler): FastHandler =>
    (rpc: FastRpc) => {
      calls.push({ method: rpc.method, args: rpc.args });
      return h(rpc);
    };
  const defaults: Record<string, FastHandler> = {
    // Moray answers ping with END only.
    ping: async () => undefined,
    version: async (rpc) => rpc.write({ version: 2 }),
  };
  for (const [method, h] of Object.entries({ ...defaults, ...handlers })) {
    server.register(method, record(h));
  }
  const { port } = await server.listen(0);
  return { server, port, calls };
}
