/**
 * A buckets-mdapi shard stand-in (peers.md §3.7): Fast RPC on a port, the RPCs of the
 * MANTA-5484 server over a PostgreSQL database laid out as a buckets-postgres shard, for
 * the vnodes it is given (a request for another vnode fails as on a real shard that lacks
 * the schema). Several shards, each with its own database and vnode set (even/odd, ...),
 * make a buckets tier.
 *
 * Stand-in-only methods, for tests and the sandbox (a real shard answers them "Unsupported"):
 *   sandbox.control        [{faults?, discoveryRpcs?}] → {faults, discoveryRpcs}
 *   sandbox.replaceobject  [{owner, bucket_id, name, vnode}] → the object with its new id
 */
import { randomUUID } from 'node:crypto';
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import { sleep } from '../../async/index.ts';
import type { Database } from '../../db/index.ts';
import { type FastHandler, type FastRpc, RpcError } from '../../fast/index.ts';
import { createLogger, type Logger } from '../../log/index.ts';
import { type ObjectResponse, Uuid, Vnode } from '../../mdapi/index.ts';
import { BucketStore } from './buckets.ts';
import { NO_CONDITIONS } from './conditions.ts';
import { fastError, MdapiAppError, overloaded, unsupported } from './errors.ts';
import { MdapiFaults, type MdapiFaultsInput } from './faults.ts';
import { type MethodHandler, mdapiMethods } from './handlers.ts';
import { FastListener, type RequestConnection } from './listener.ts';
import { ObjectStore } from './objects.ts';
import { createVnodeSchemas } from './schema.ts';

export interface MdapiShardOptions {
  db: Database;
  /** The vnodes this shard hosts; their schemas are created when missing. */
  vnodes: readonly number[];
  host?: string;
  port?: number;
  /** Shard name for logs, e.g. `1.buckets-mdapi.example.com`. */
  name?: string;
  /** Serve `listvnodes`/`listowners` (default false: "Unsupported functon", as production). */
  discoveryRpcs?: boolean;
  faults?: MdapiFaultsInput;
  log?: Logger;
}

/** Where an object is: its key and vnode. */
export interface MdapiObjectKey {
  owner: string;
  bucket_id: string;
  name: string;
  vnode: number;
}

export interface MdapiShard {
  readonly host: string;
  readonly port: number;
  readonly vnodes: readonly number[];
  readonly faults: MdapiFaults;
  /** Whether `listvnodes`/`listowners` are served. */
  discoveryRpcs: boolean;
  /** A user overwrite: the object gets a new id (so a new etag), its content otherwise kept. */
  replaceObject(key: MdapiObjectKey): Promise<ObjectResponse>;
  /** A user delete. */
  deleteObject(key: MdapiObjectKey): Promise<void>;
  /** Closes every client connection now. */
  dropConnections(): void;
  /** Stops serving (in-flight requests finish); the database stays open (the caller's). */
  close(): Promise<void>;
}

const ObjectKeySchema = Type.Object({
  owner: Uuid,
  bucket_id: Uuid,
  name: Type.String(),
  vnode: Vnode,
});
const ControlSchema = Type.Object({
  faults: Type.Optional(Type.Unknown()),
  discoveryRpcs: Type.Optional(Type.Boolean()),
});
const objectKey = Compile(ObjectKeySchema);
const control = Compile(ControlSchema);

export async function startMdapiShard(options: MdapiShardOptions): Promise<MdapiShard> {
  const name = options.name ?? 'buckets-mdapi';
  const log = (options.log ?? createLogger({ name: 'sandbox-mdapi' })).child({ shard: name });
  const vnodes = [...new Set(options.vnodes)];
  const hosted = new Set(vnodes);
  const hosts = (vnode: number) => hosted.has(vnode);
  await createVnodeSchemas(options.db, vnodes);
  const objects = new ObjectStore(options.db, hosts);
  const buckets = new BucketStore(options.db, hosts, vnodes);
  const faults = new MdapiFaults(options.faults ?? {});
  let discovery = options.discoveryRpcs ?? false;
  const methods = mdapiMethods(objects, buckets, () => discovery);

  const replaceObject = async (key: MdapiObjectKey): Promise<ObjectResponse> => {
    const current = await objects.get({ ...key, request_id: randomUUID() }, NO_CONDITIONS);
    return objects.create(
      {
        ...key,
        id: randomUUID(),
        content_length: current.content_length,
        content_md5: current.content_md5,
        content_type: current.content_type,
        headers: current.headers,
        sharks: current.sharks,
        properties: current.properties,
        request_id: randomUUID(),
      },
      NO_CONDITIONS,
    );
  };
  const deleteObject = async (key: MdapiObjectKey): Promise<void> => {
    await objects.delete({ ...key, request_id: randomUUID() }, NO_CONDITIONS);
  };

  const controls = new Map<string, MethodHandler>([
    [
      'sandbox.control',
      async (args) => {
        const input = args[0];
        if (!control.Check(input))
          throw fastError('sandbox.control takes {faults?, discoveryRpcs?}');
        if (input.faults !== undefined) faults.set(input.faults);
        if (input.discoveryRpcs !== undefined) discovery = input.discoveryRpcs;
        return [{ faults: faults.get(), discoveryRpcs: discovery }];
      },
    ],
    [
      'sandbox.replaceobject',
      async (args) => {
        const key = args[0];
        if (!objectKey.Check(key)) throw fastError('sandbox.replaceobject takes an object key');
        return [await replaceObject(key)];
      },
    ],
  ]);

  const handlerFor = (method: string, connection: RequestConnection): FastHandler => {
    const own = controls.get(method);
    if (own) return (rpc) => reply(rpc, own);
    return async (rpc) => {
      const decision = faults.next(method);
      if (decision.delayMs > 0) await sleep(decision.delayMs);
      if (decision.fault === 'drop') {
        log.info({ method }, 'fault: dropping the connection');
        connection.drop(`fault: drop on ${method}`);
        return;
      }
      if (decision.fault === 'overloaded') {
        await rpc.write(overloaded().toWire());
        return;
      }
      const handler = methods.get(method);
      if (!handler) throw unsupported(method);
      await reply(rpc, handler);
    };
  };

  const listener = new FastListener({ log, handlerFor });
  const address = await listener.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  log.info({ ...address, vnodes }, 'mdapi shard listening');
  return {
    host: address.host,
    port: address.port,
    vnodes,
    faults,
    get discoveryRpcs() {
      return discovery;
    },
    set discoveryRpcs(on: boolean) {
      discovery = on;
    },
    replaceObject,
    deleteObject,
    dropConnections: () => listener.dropAll('dropped by the sandbox'),
    close: () => listener.close(),
  };
}

/** Runs `handler` and sends its values; an application error is sent as its DATA value. */
async function reply(rpc: FastRpc, handler: MethodHandler): Promise<void> {
  let values: unknown[];
  try {
    values = await handler(rpc.args);
  } catch (err) {
    if (err instanceof MdapiAppError) {
      await rpc.write(err.toWire());
      return;
    }
    if (err instanceof RpcError) throw err;
    throw fastError(err instanceof Error ? err.message : String(err));
  }
  for (const value of values) await rpc.write(value);
}
