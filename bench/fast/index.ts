/**
 * Fast RPC benchmark: echo throughput/latency over one loopback connection with 100 requests in
 * flight, each carrying a Manta object record (spec/protocols.md §4.3), and raw decode
 * throughput. The last line printed is the JSON summary.
 */
import { performance } from 'node:perf_hooks';
import {
  encodeFrame,
  FastClient,
  FastDecoder,
  FastServer,
  FastStatus,
} from '../../src/fast/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { sampleMantaRecord } from '../../test/support/manta-record.ts';

const NODE_FAST_BASELINE_RPCS_PER_S = 3200;
const ECHO_TARGET = 10_000;
const DECODE_TARGET = 100_000;
const REQUESTS = 50_000;
const IN_FLIGHT = 100;
const DECODE_FRAMES = 100_000;

const mantaValue = sampleMantaRecord();

const record = {
  bucket: 'manta',
  key: mantaValue.key,
  value: mantaValue,
  _id: 114590,
  _etag: '7712D647',
  _mtime: 1570611723074,
  _txn_snap: null,
  _count: 224574,
};

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

async function echoRun(
  client: FastClient,
  total: number,
): Promise<{ rps: number; p50: number; p99: number }> {
  const latencies = new Float64Array(total);
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (issued < total) {
      const i = issued++;
      const t0 = performance.now();
      const out = await client.call('echo', [mantaValue]);
      latencies[i] = performance.now() - t0;
      if (out.length !== 1) throw new Error('echo returned the wrong number of values');
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort();
  return {
    rps: total / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
  };
}

function decodeRun(): { recordsPerS: number; mbPerS: number } {
  const one = encodeFrame({
    version: 2,
    status: FastStatus.Data,
    msgid: 1,
    data: { m: { uts: 1700000000000000, name: 'findObjects' }, d: [record] },
  });
  const stream = Buffer.concat(Array.from({ length: DECODE_FRAMES }, () => one));
  // Feed in 64 KiB chunks, as a socket would.
  const chunk = 64 * 1024;
  const decoder = new FastDecoder();
  let n = 0;
  const start = performance.now();
  for (let off = 0; off < stream.length; off += chunk) {
    n += decoder.push(stream.subarray(off, off + chunk)).length;
  }
  decoder.end();
  const seconds = (performance.now() - start) / 1000;
  if (n !== DECODE_FRAMES) throw new Error(`decoded ${n} frames`);
  return { recordsPerS: n / seconds, mbPerS: stream.length / seconds / 1e6 };
}

async function main(): Promise<void> {
  const log = createLogger({ name: 'bench-fast', level: 'warn' });
  const server = new FastServer({ log });
  server.register('echo', async (rpc) => {
    await rpc.write(rpc.args[0]);
  });
  const { port } = await server.listen(0, '127.0.0.1');
  const client = new FastClient({ host: '127.0.0.1', port, log });
  await client.connect();
  const argBytes = JSON.stringify(mantaValue).length;

  await echoRun(client, 5000); // warm-up
  const echo = await echoRun(client, REQUESTS);
  await client.close();
  await server.close();

  decodeRun(); // warm-up
  const decode = decodeRun();

  console.log(`fast echo: ${REQUESTS} RPCs, ${IN_FLIGHT} in flight, ${argBytes}-byte argument`);
  console.log(
    `  ${echo.rps.toFixed(0)} RPCs/s  p50 ${echo.p50.toFixed(2)} ms  p99 ${echo.p99.toFixed(2)} ms`,
  );
  console.log(
    `  ${(echo.rps / NODE_FAST_BASELINE_RPCS_PER_S).toFixed(2)}x node-fast 3.1.3 (~${NODE_FAST_BASELINE_RPCS_PER_S}/s)`,
  );
  console.log(
    `fast decode: ${DECODE_FRAMES} DATA frames: ${decode.recordsPerS.toFixed(0)} records/s (${decode.mbPerS.toFixed(0)} MB/s)`,
  );
  const round = (x: number, digits = 0): number => Number(x.toFixed(digits));
  console.log(
    JSON.stringify({
      bench: 'fast',
      figures: {
        echo_rpcs_per_s: round(echo.rps),
        echo_p50_ms: round(echo.p50, 3),
        echo_p99_ms: round(echo.p99, 3),
        echo_requests: REQUESTS,
        echo_in_flight: IN_FLIGHT,
        echo_arg_bytes: argBytes,
        node_fast_baseline_rpcs_per_s: NODE_FAST_BASELINE_RPCS_PER_S,
        echo_vs_node_fast_ratio: round(echo.rps / NODE_FAST_BASELINE_RPCS_PER_S, 2),
        decode_records_per_s: round(decode.recordsPerS),
        decode_mb_per_s: round(decode.mbPerS, 1),
        decode_vs_target_ratio: round(decode.recordsPerS / DECODE_TARGET, 2),
      },
      targets: [
        {
          name: 'echo_rpcs_per_s',
          value: round(echo.rps),
          target: ECHO_TARGET,
          met: echo.rps >= ECHO_TARGET,
        },
        {
          name: 'decode_records_per_s',
          value: round(decode.recordsPerS),
          target: DECODE_TARGET,
          met: decode.recordsPerS >= DECODE_TARGET,
        },
      ],
    }),
  );
}

await main();
