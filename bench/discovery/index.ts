/**
 * Discovery benchmark: rows/s through the moray-mode scanner, the row filter and the merged
 * bounded stream, with an in-memory shard (no network, no database) so the figure is the
 * rebalancer's own cost. 4 shards × 250,000 rows, 1 in 20 on the shark, windows of 10,000.
 * Last line: JSON `{"bench":"discovery","figures":{...},"targets":[...]}`.
 */
import { discoverObjects, type MoraySqlClient } from '../../src/discovery/index.ts';

const SHARDS = 4;
const ROWS_PER_SHARD = Number(process.env.BENCH_DISCOVERY_ROWS ?? 250_000);
const SHARK = '7.stor.bench.example.com';
const TARGET_ROWS_PER_S = 200_000;
const OWNER = '61368287-aa5b-6c0f-f3a9-931a228215e4';

function value(i: number): string {
  const sharks = [
    { datacenter: 'dc1', manta_storage_id: `${1 + (i % 5)}.stor.bench.example.com` },
    {
      datacenter: 'dc2',
      manta_storage_id: i % 20 === 0 ? SHARK : `${10 + (i % 7)}.stor.bench.example.com`,
    },
  ];
  const key = `/${OWNER}/stor/bench/${i}`;
  return JSON.stringify({
    dirname: `/${OWNER}/stor/bench`,
    key,
    headers: {},
    mtime: 1570611723062,
    name: String(i),
    creator: OWNER,
    owner: OWNER,
    roles: [],
    type: 'object',
    contentLength: 9099176,
    contentMD5: 'L9NrIZXTY37AYVZN9+gZ7w==',
    contentType: 'text/plain',
    etag: '2e08b069-d132-c25c-920c-945e3329e450',
    objectId: `2e08b069-d132-c25c-920c-${String(i).padStart(12, '0')}`,
    sharks,
    vnode: i % 1024,
  });
}

/** Pre-built `_value` texts (reused cyclically) so the figure excludes fixture building. */
const VALUES = Array.from({ length: 20_000 }, (_, i) => value(i));

/** Rows are streamed per window, as a Moray would. */
function memoryShard(): MoraySqlClient {
  return {
    async *sql(statement: string) {
      if (statement.startsWith('SELECT MAX(_id)')) {
        yield { max: String(ROWS_PER_SHARD) };
        return;
      }
      if (statement.startsWith('SELECT MAX(_idx)')) {
        throw new Error('column "_idx" does not exist');
      }
      const m = /_id >= (\d+) AND _id <= (\d+)/.exec(statement);
      const from = Number(m?.[1] ?? 0);
      const to = Number(m?.[2] ?? -1);
      for (let i = Math.max(1, from); i <= to; i++) {
        yield {
          _id: String(i),
          _txn_snap: null,
          _key: `/${OWNER}/stor/bench/${i}`,
          _value: VALUES[i % VALUES.length] as string,
          _etag: '7712D647',
          _mtime: '1570611723074',
          _vnode: String(i % 1024),
          type: 'object',
        };
      }
    },
  };
}

const start = process.hrtime.bigint();
let objects = 0;
const discovery = discoverObjects({
  shark: SHARK,
  shards: Array.from({ length: SHARDS }, (_, i) => ({
    shard: i + 1,
    mode: 'moray' as const,
    client: memoryShard(),
  })),
  chunkSize: 10_000,
});
for await (const e of discovery) if (e.kind === 'object') objects++;
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const rows = SHARDS * ROWS_PER_SHARD;
const rowsPerS = Math.round(rows / seconds);
const expected = SHARDS * Math.floor(ROWS_PER_SHARD / 20);
if (objects !== expected) throw new Error(`found ${objects} objects, expected ${expected}`);

console.log(
  `discovery: ${rows} rows in ${seconds.toFixed(2)} s: ${rowsPerS} rows/s, ${objects} objects`,
);
console.log(
  JSON.stringify({
    bench: 'discovery',
    figures: {
      rows,
      objects,
      seconds: Number(seconds.toFixed(3)),
      rows_per_s: rowsPerS,
      objects_per_s: Math.round(objects / seconds),
      heap_mib: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    },
    targets: [
      {
        name: 'rows_per_s',
        op: '>=',
        target: TARGET_ROWS_PER_S,
        value: rowsPerS,
        met: rowsPerS >= TARGET_ROWS_PER_S,
      },
    ],
  }),
);
