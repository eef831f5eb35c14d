/**
 * Metadata updates of buckets objects: `batchupdateobjects` through MdapiClient against the
 * stand-in (its own process, as in the sandbox) beside raw SQL updates of the same rows over
 * `pg`, with the same batches (one vnode each) and the same number in flight. The client
 * moves the rows' copies off TARGET_SHARK; the raw updates move them back.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import pg from 'pg';
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import { storageNodeFromText } from '../../src/manta/buckets.ts';
import { MdapiClient, type MdapiPayload, type UpdateObjectPayload } from '../../src/mdapi/index.ts';
import { runBounded } from '../../src/sandbox/bounded.ts';
import { vnodeTable } from '../../src/sandbox/mdapi/schema.ts';
import { entryPoint } from '../../src/sandbox/process.ts';
import { DESTINATION, TARGET_SHARK } from './fill.ts';

export interface UpdateFigures {
  objects: number;
  mdapi_updates_per_s: number;
  raw_updates_per_s: number;
  ratio: number;
}

const BATCH = 100;
const IN_FLIGHT = 8;

const RowSchema = Type.Object({
  owner: Type.String(),
  bucket_id: Type.String(),
  name: Type.String(),
  id: Type.String(),
  content_type: Type.String(),
  headers: Type.Union([
    Type.Null(),
    Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()])),
  ]),
  sharks: Type.Array(Type.String()),
  properties: Type.Unknown(),
});
const rowCheck = Compile(RowSchema);

async function startStandIn(url: string, vnodes: readonly number[]) {
  const child = spawn(
    process.execPath,
    [
      entryPoint('sandbox/mdapi/main'),
      '--port',
      '0',
      '--vnodes',
      vnodes.join(','),
      '--database-url',
      url,
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const stdout = child.stdout;
  for await (const line of createInterface({ input: stdout })) {
    const record = JSON.parse(line) as { msg?: string; port?: number };
    if (record.msg === 'mdapi shard listening' && typeof record.port === 'number') {
      stdout.resume();
      return { child, port: record.port };
    }
  }
  throw new Error('mdapi stand-in exited before listening');
}

/** `perVnode` rows on TARGET_SHARK of each vnode, as update payloads (by vnode). */
async function readBatches(url: string, vnodes: readonly number[], perVnode: number) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const batches: UpdateObjectPayload[][] = [];
  try {
    for (const vnode of vnodes) {
      const { rows } = await client.query(
        `SELECT owner, bucket_id, name, id, content_type, hstore_to_json(headers) AS headers, sharks, properties
         FROM ${vnodeTable(vnode, 'manta_bucket_object')}
         WHERE 'dc1:${TARGET_SHARK}' = ANY(sharks) ORDER BY owner, bucket_id, name LIMIT ${perVnode}`,
      );
      const payloads = rows.map((row: unknown) => {
        if (!rowCheck.Check(row)) throw new Error(`unexpected row ${JSON.stringify(row)}`);
        return {
          owner: row.owner,
          bucket_id: row.bucket_id,
          name: row.name,
          id: row.id,
          vnode,
          content_type: row.content_type,
          headers: row.headers ?? {},
          sharks: row.sharks.map((s) => {
            const node = storageNodeFromText(s);
            return node.manta_storage_id === TARGET_SHARK ? DESTINATION : node;
          }),
          properties: row.properties,
          request_id: '00000000-0000-4000-8000-000000000000',
          conditions: { 'if-match': [row.id] },
        };
      });
      for (let at = 0; at < payloads.length; at += BATCH)
        batches.push(payloads.slice(at, at + BATCH));
    }
  } finally {
    await client.end();
  }
  return batches;
}

/** `batches` without `request_id`, which the client makes, as the metadata stage calls it. */
async function mdapiUpdates(
  port: number,
  batches: MdapiPayload<UpdateObjectPayload>[][],
): Promise<void> {
  const client = new MdapiClient({ host: '127.0.0.1', port, connections: 4, maxBatchSize: BATCH });
  try {
    await runBounded(
      batches.map((batch) => async () => {
        const { failed } = await client.batchUpdateObjects(batch);
        if (failed.length > 0) throw new Error(`batch failed: ${failed[0]?.error.message}`);
      }),
      IN_FLIGHT,
    );
  } finally {
    await client.close();
  }
}

/**
 * The plainest SQL that does the same: per batch, one UPDATE of its rows from arrays (the
 * sharks back to the target), conditional on each row's id, in its own transaction.
 */
async function rawUpdates(url: string, batches: UpdateObjectPayload[][]): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: IN_FLIGHT });
  try {
    await runBounded(
      batches.map((batch) => async () => {
        const vnode = batch[0]?.vnode ?? 0;
        const col = <T>(f: (o: UpdateObjectPayload) => T) => batch.map(f);
        const result = await pool.query(
          `UPDATE ${vnodeTable(vnode, 'manta_bucket_object')} AS o
           SET content_type = v.content_type,
             headers = COALESCE((SELECT hstore(array_agg(e.key), array_agg(e.value))
               FROM json_each_text(v.headers::json) e), ''::hstore),
             sharks = ARRAY(SELECT json_array_elements_text(v.sharks::json)),
             properties = v.properties::jsonb, modified = current_timestamp
           FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[],
             $7::text[], $8::text[]) AS v(owner, bucket_id, name, id, content_type, headers,
             sharks, properties)
           WHERE o.owner = v.owner AND o.bucket_id = v.bucket_id AND o.name = v.name AND o.id = v.id`,
          [
            col((o) => o.owner),
            col((o) => o.bucket_id),
            col((o) => o.name),
            col((o) => o.id),
            col((o) => o.content_type),
            col((o) => JSON.stringify(o.headers)),
            col((o) =>
              JSON.stringify(
                (o.sharks ?? []).map((s) =>
                  s.manta_storage_id === DESTINATION.manta_storage_id
                    ? `dc1:${TARGET_SHARK}`
                    : `${s.datacenter}:${s.manta_storage_id}`,
                ),
              ),
            ),
            col((o) => JSON.stringify(o.properties ?? null)),
          ],
        );
        if (result.rowCount !== batch.length) {
          throw new Error(`raw update applied ${result.rowCount} of ${batch.length}`);
        }
      }),
      IN_FLIGHT,
    );
  } finally {
    await pool.end();
  }
}

/**
 * `rounds` alternating rounds (ours, then raw: each round's raw updates put the rows back
 * for the next); the best of each side, the least disturbed by other load on the machine.
 * The stand-in's first round also warms it up, as a long-running server is.
 */
export async function measureUpdates(
  url: string,
  vnodes: readonly number[],
  perVnode: number,
  rounds: number,
): Promise<UpdateFigures> {
  const batches = await readBatches(url, vnodes, perVnode);
  const objects = batches.reduce((n, b) => n + b.length, 0);
  const requests = batches.map((batch) => batch.map(({ request_id: _, ...o }) => o));
  const standIn: { child: ChildProcess; port: number } = await startStandIn(url, vnodes);
  const timed = async (f: () => Promise<void>) => {
    const t0 = performance.now();
    await f();
    return (performance.now() - t0) / 1000;
  };
  try {
    let mdapiS = Number.POSITIVE_INFINITY;
    let rawS = Number.POSITIVE_INFINITY;
    for (let r = 0; r < rounds; r++) {
      mdapiS = Math.min(mdapiS, await timed(() => mdapiUpdates(standIn.port, requests)));
      rawS = Math.min(rawS, await timed(() => rawUpdates(url, batches)));
    }
    const mdapi = objects / mdapiS;
    const raw = objects / rawS;
    return {
      objects,
      mdapi_updates_per_s: Math.round(mdapi),
      raw_updates_per_s: Math.round(raw),
      ratio: Number((mdapi / raw).toFixed(3)),
    };
  } finally {
    standIn.child.kill('SIGTERM');
    await new Promise((resolve) => standIn.child.once('exit', resolve));
  }
}
