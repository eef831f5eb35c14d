/**
 * A Moray shard stand-in: a Fast server answering the Moray RPCs (spec/protocols.md §2) from a
 * PostgreSQL database laid out as real Moray's (§3), so that node-moray, rust-moray and
 * sharkspotter (RPC and direct-DB modes) work against it as against a real shard.
 */
import { type Database, type Queryable, TableVacuumer } from '../../db/index.ts';
import { type FastRpc, FastServer, RpcError } from '../../fast/index.ts';
import { createLogger, type Logger } from '../../log/index.ts';
import { BucketStore } from './buckets.ts';
import { invocation } from './errors.ts';
import { ObjectStore, type RecordSink } from './objects.ts';
import { runSql } from './sql.ts';
import { type ArgSpec, invalidArguments, type MorayOptions } from './validate.ts';

export interface MorayShardOptions {
  db: Database;
  host?: string;
  port?: number;
  log?: Logger;
  /** Shard name for logs, e.g. `1.moray.example.com`. */
  name?: string;
  /**
   * Time between vacuums of the bucket tables rewritten meanwhile, ms (default 60 s). Only
   * when the server runs no autovacuum: real Moray's Manatee does, and without it a table
   * rewritten object by object slows every update down.
   */
  vacuumIntervalMs?: number;
}

export interface MorayShard {
  readonly host: string;
  readonly port: number;
  /** Stops the Fast server (in-flight RPCs finish); the database stays open (the caller's). */
  close(): Promise<void>;
}

/** Moray's API version, reported by `version` (§2.13). */
export const MORAY_API_VERSION = 2;

const S = (name: string): ArgSpec => ({ name, type: 'string' });
const O = (name: string): ArgSpec => ({ name, type: 'object' });
const OPTIONS: ArgSpec = { name: 'options', type: 'options' };

interface BatchRequest {
  bucket: string;
  operation?: 'put' | 'delete' | 'update' | 'deleteMany';
  key?: string;
  value?: Record<string, unknown>;
  filter?: string;
  fields?: Record<string, unknown>;
  options?: MorayOptions;
}

interface BatchEntry {
  bucket: string;
  count?: number;
  etag?: string;
  key?: string;
  filter?: string;
}

type Handler = (rpc: FastRpc) => Promise<void>;

/** Wraps a handler with Moray's argument validation. */
function validated(specs: ArgSpec[], handler: Handler): Handler {
  return async (rpc) => {
    const err = invalidArguments(rpc.method, rpc.args, specs);
    if (err) throw err;
    await handler(rpc);
  };
}

const emitter = (rpc: FastRpc) => (value: unknown) => rpc.write(value);
const recordSink = (rpc: FastRpc): RecordSink => ({
  value: (value) => rpc.write(value),
  json: (text) => rpc.writeJson(text),
});

export function registerMorayHandlers(
  server: FastServer,
  db: Database,
  log: Logger,
): { buckets: BucketStore; objects: ObjectStore } {
  const buckets = new BucketStore(db);
  const objects = new ObjectStore(db, buckets);
  const arg = <T>(rpc: FastRpc, i: number): T => rpc.args[i] as T;

  server.register(
    'createBucket',
    validated([S('bucket'), O('config'), OPTIONS], async (rpc) => {
      await buckets.create(arg(rpc, 0), arg(rpc, 1));
    }),
  );
  server.register(
    'getBucket',
    validated([OPTIONS, S('bucket')], async (rpc) => {
      const bucket = await buckets.load(arg(rpc, 1), db, true);
      await rpc.write(bucket.row);
    }),
  );
  server.register(
    'listBuckets',
    validated([OPTIONS], async (rpc) => {
      for (const row of await buckets.list()) await rpc.write(row);
    }),
  );
  server.register(
    'updateBucket',
    validated([S('name'), O('config'), OPTIONS], async (rpc) => {
      await buckets.update(arg(rpc, 0), arg(rpc, 1));
    }),
  );
  server.register(
    'delBucket',
    validated([S('bucket'), OPTIONS], async (rpc) => {
      await buckets.delete(arg(rpc, 0));
    }),
  );

  server.register(
    'putObject',
    validated([S('bucket'), S('key'), O('value'), OPTIONS], async (rpc) => {
      const etag = await objects.put(db, arg(rpc, 0), arg(rpc, 1), arg(rpc, 2), arg(rpc, 3));
      await rpc.write({ etag });
    }),
  );
  server.register(
    'getObject',
    validated([S('bucket'), S('key'), OPTIONS], async (rpc) => {
      await objects.get(arg(rpc, 0), arg(rpc, 1), arg(rpc, 2), recordSink(rpc));
    }),
  );
  server.register(
    'delObject',
    validated([S('bucket'), S('key'), OPTIONS], async (rpc) => {
      await objects.del(db, arg(rpc, 0), arg(rpc, 1), arg(rpc, 2));
      await rpc.write({});
    }),
  );
  server.register(
    'findObjects',
    validated([S('bucket'), S('filter'), OPTIONS], async (rpc) => {
      await objects.find(arg(rpc, 0), arg(rpc, 1), arg(rpc, 2), recordSink(rpc), rpc.signal);
    }),
  );
  server.register(
    'updateObjects',
    validated([S('bucket'), O('fields'), S('filter'), OPTIONS], async (rpc) => {
      const summary = await db.transaction((tx) =>
        objects.update(tx, arg(rpc, 0), arg(rpc, 1), arg(rpc, 2), arg(rpc, 3)),
      );
      await rpc.write(summary);
    }),
  );
  server.register(
    'deleteMany',
    validated([S('bucket'), S('filter'), OPTIONS], async (rpc) => {
      const summary = await db.transaction((tx) =>
        objects.deleteMany(tx, arg(rpc, 0), arg(rpc, 1), arg(rpc, 2)),
      );
      await rpc.write(summary);
    }),
  );
  server.register(
    'batch',
    validated([{ name: 'requests', type: 'requests' }, OPTIONS], async (rpc) => {
      const requests = arg<BatchRequest[]>(rpc, 0);
      const batchOptions = arg<MorayOptions>(rpc, 1);
      const etags = await db.transaction((tx) => runBatch(tx, objects, requests, batchOptions));
      await rpc.write({ etags });
    }),
  );

  server.register(
    'sql',
    validated([S('statement'), { name: 'values', type: 'array' }, OPTIONS], async (rpc) => {
      await runSql(db, arg(rpc, 0), arg(rpc, 1), emitter(rpc), rpc.signal);
    }),
  );
  server.register(
    'ping',
    validated([OPTIONS], async (rpc) => {
      if (arg<MorayOptions>(rpc, 0).deep) {
        await db.query('SELECT name FROM buckets_config LIMIT 1');
      }
    }),
  );
  server.register(
    'version',
    validated([OPTIONS], async (rpc) => {
      await rpc.write({ version: MORAY_API_VERSION });
    }),
  );
  server.register(
    'getTokens',
    validated([OPTIONS], async () => {
      throw new RpcError('Error', 'Operation not supported');
    }),
  );
  log.debug('moray handlers registered');
  return { buckets, objects };
}

/** Puts with `etag: null` (the seeder's): several in a row may go in one statement. */
function isPutIfAbsent(r: BatchRequest): boolean {
  return (r.operation ?? 'put') === 'put' && r.options?.etag === null && r.key !== undefined;
}

/**
 * The run of insert-if-absent puts on one bucket with distinct keys starting at `from`, when
 * longer than one (the one-statement path of `putAllIfAbsent`).
 */
function putRun(requests: BatchRequest[], from: number): BatchRequest[] {
  const first = requests[from]!;
  const keys = new Set<string>();
  let end = from;
  while (end < requests.length) {
    const r = requests[end]!;
    if (!isPutIfAbsent(r) || r.bucket !== first.bucket || r.value === undefined) break;
    if (keys.has(r.key!)) break;
    keys.add(r.key!);
    end++;
  }
  return end - from > 1 ? requests.slice(from, end) : [];
}

/** Runs a batch's operations in order on one transaction (§2.7). */
async function runBatch(
  tx: Queryable,
  objects: ObjectStore,
  requests: BatchRequest[],
  batchOptions: MorayOptions,
): Promise<BatchEntry[]> {
  const entries: BatchEntry[] = [];
  for (let i = 0; i < requests.length; ) {
    const run = putRun(requests, i);
    if (run.length > 0) {
      const items = run.map((r) => ({ key: r.key!, value: r.value! }));
      const options = { ...run[0]!.options, ...batchOptions };
      const etags = await objects.putAllIfAbsent(tx, run[0]!.bucket, items, options);
      if (etags) {
        run.forEach((r, k) => {
          const entry: BatchEntry = { bucket: r.bucket, etag: etags[k] };
          if (r.key) entry.key = r.key;
          if (r.filter) entry.filter = r.filter;
          entries.push(entry);
        });
        i += run.length;
        continue;
      }
    }
    // One by one: the rest, and a run that met an existing key (for Moray's exact error).
    const end = run.length > 0 ? i + run.length : i + 1;
    for (; i < end; i++) entries.push(await runOne(tx, objects, requests[i]!, batchOptions));
  }
  return entries;
}

async function runOne(
  tx: Queryable,
  objects: ObjectStore,
  r: BatchRequest,
  batchOptions: MorayOptions,
): Promise<BatchEntry> {
  const own = r.options ?? {};
  // Batch-level options win; the operation keeps its own etag and headers.
  const options: MorayOptions = { ...own, ...batchOptions };
  if (own.headers) options.headers = own.headers;
  const entry: BatchEntry = { bucket: r.bucket };
  switch (r.operation ?? 'put') {
    case 'put': {
      if (r.key === undefined || r.value === undefined) {
        throw invocation('batch put requests need a "key" and a "value"');
      }
      entry.etag = await objects.put(tx, r.bucket, r.key, r.value, {
        ...options,
        etag: own.etag,
      });
      break;
    }
    case 'delete':
      if (r.key === undefined) throw invocation('batch delete requests need a "key"');
      await objects.del(tx, r.bucket, r.key, { ...options, etag: own.etag });
      break;
    case 'update': {
      const out = await objects.update(tx, r.bucket, r.fields ?? {}, r.filter ?? '', options);
      entry.count = out.count;
      entry.etag = out.etag;
      break;
    }
    case 'deleteMany':
      entry.count = (await objects.deleteMany(tx, r.bucket, r.filter ?? '', options)).count;
      break;
  }
  if (r.key) entry.key = r.key;
  if (r.filter) entry.filter = r.filter;
  return entry;
}

/** Starts a shard: creates `buckets_config` if needed and listens for Fast RPCs. */
export async function startMorayShard(options: MorayShardOptions): Promise<MorayShard> {
  const log = (options.log ?? createLogger({ name: 'sandbox-moray' })).child({
    shard: options.name ?? 'moray',
  });
  const server = new FastServer({ log });
  const { buckets, objects } = registerMorayHandlers(server, options.db, log);
  await buckets.setup();
  const vacuumer = new TableVacuumer({
    db: options.db,
    log,
    ...(options.vacuumIntervalMs === undefined ? {} : { intervalMs: options.vacuumIntervalMs }),
    due: () => objects.takeRewritten(),
  });
  await vacuumer.start();
  const address = await server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  log.info(address, 'moray shard listening');
  return {
    host: address.host,
    port: address.port,
    close: async () => {
      await vacuumer.stop();
      await server.close();
    },
  };
}
