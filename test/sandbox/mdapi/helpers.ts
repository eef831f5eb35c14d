import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import type { Database } from '../../../src/db/index.ts';
import { FastClient } from '../../../src/fast/index.ts';
import { createLogger } from '../../../src/log/index.ts';
import {
  type CreateObjectPayload,
  MdapiClient,
  type MdapiClientOptions,
} from '../../../src/mdapi/index.ts';
import {
  type MdapiShard,
  type MdapiShardOptions,
  openMdapiDatabase,
  startMdapiShard,
} from '../../../src/sandbox/mdapi/index.ts';
import {
  createTestDatabaseUrl,
  dropTestDatabase,
  testPostgresUrl,
} from '../../support/database.ts';

export const silent = createLogger({ name: 'test', level: 'silent' });

export interface Backend {
  readonly label: string;
  /** A fresh database fit for a shard; `drop` closes (and on PostgreSQL drops) it. */
  open(): Promise<{ db: Database; drop(): Promise<void> }>;
}

/** PGlite always; the real PostgreSQL of REBALANCER_TEST_PG_URL too when it is set. */
export function backends(): Backend[] {
  const list: Backend[] = [
    {
      label: 'PGlite',
      open: async () => {
        const db = await openMdapiDatabase();
        return { db, drop: () => db.close() };
      },
    },
  ];
  const adminUrl = testPostgresUrl();
  if (adminUrl !== undefined) {
    list.push({
      label: 'PostgreSQL',
      open: async () => {
        const { name, url } = await createTestDatabaseUrl(adminUrl);
        const db = await openMdapiDatabase({ url, poolSize: 4 });
        return {
          db,
          drop: async () => {
            await db.close();
            await dropTestDatabase(adminUrl, name);
          },
        };
      },
    });
  }
  return list;
}

export interface StartedShard {
  db: Database;
  shard: MdapiShard;
  /** A raw Fast client, for exact wire checks. */
  fast: FastClient;
  client: MdapiClient;
  close(): Promise<void>;
}

/** A shard on a fresh database of `backend`, a raw Fast client and an MdapiClient to it. */
export async function startShard(
  backend: Backend,
  options: Partial<MdapiShardOptions> = {},
  clientOptions: Partial<MdapiClientOptions> = {},
): Promise<StartedShard> {
  const { db, drop } = await backend.open();
  const shard = await startMdapiShard({ db, vnodes: [0, 2], log: silent, ...options });
  const fast = new FastClient({ host: '127.0.0.1', port: shard.port, log: silent });
  const client = new MdapiClient({
    host: '127.0.0.1',
    port: shard.port,
    connections: 1,
    initialBackoffMs: 1,
    maxBackoffMs: 5,
    log: silent,
    ...clientOptions,
  });
  return {
    db,
    shard,
    fast,
    client,
    async close() {
      await client.close();
      await fast.close();
      await shard.close();
      await drop();
    },
  };
}

/** A 16-byte digest in base64 (what `content_md5` carries). */
export const MD5 = 'XUFAKrxLKna5cZ2REBfFkg==';

/** A createobject payload with a fresh id, on vnode 0 unless told otherwise. */
export function newObject(
  owner: string,
  bucketId: string,
  name: string,
  extra: Partial<CreateObjectPayload> = {},
): CreateObjectPayload {
  return {
    owner,
    bucket_id: bucketId,
    name,
    id: randomUUID(),
    vnode: 0,
    content_length: 5,
    content_md5: MD5,
    content_type: 'text/plain',
    headers: {},
    sharks: [{ datacenter: 'dc1', manta_storage_id: '1.stor.example.com' }],
    properties: null,
    request_id: randomUUID(),
    ...extra,
  };
}

/** The ObjectNotFound reply, exactly. */
export const NOT_FOUND = {
  error: { name: 'ObjectNotFound', message: 'requested object not found' },
};

/**
 * A shard of `backend` with one bucket (vnode 0) for the tests of the calling `describe`
 * (it registers their before/after hooks), and raw wire helpers to call it.
 */
export function wireFixture(backend: Backend) {
  let started: StartedShard | undefined;
  const owner = randomUUID();
  let bucketId = '';
  const shard = (): StartedShard => {
    assert.ok(started, 'the shard is started in before()');
    return started;
  };
  const call = (method: string, payload: Record<string, unknown>) =>
    shard().fast.call(method, [{ request_id: randomUUID(), ...payload }]);
  const one = async (method: string, payload: Record<string, unknown>) => {
    const values = await call(method, payload);
    assert.equal(values.length, 1, `${method} answers one value`);
    return values[0] as Record<string, unknown>;
  };
  before(async () => {
    started = await startShard(backend);
    bucketId = String((await one('createbucket', { owner, name: 'photos', vnode: 0 })).id);
  });
  after(() => started?.close());
  return {
    owner,
    shard,
    bucketId: () => bucketId,
    call,
    one,
    create: (name: string, extra: Partial<CreateObjectPayload> = {}) =>
      one('createobject', newObject(owner, bucketId, name, extra)),
    key: (name: string, vnode = 0) => ({ owner, bucket_id: bucketId, name, vnode }),
    /** An updateobject payload rewriting `o` as it is (less request_id), with `extra`. */
    updateOf: (o: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
      owner: o.owner,
      bucket_id: o.bucket_id,
      name: o.name,
      id: o.id,
      vnode: 0,
      content_type: o.content_type,
      headers: o.headers,
      properties: o.properties,
      ...extra,
    }),
  };
}
