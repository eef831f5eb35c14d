/**
 * Placement benchmark: destination picks per second for 1,000,000 objects over 100 sharks,
 * with byte reservations made per object and ended per assignment (50 objects) as the manager
 * does. Last line: JSON `{"bench":"placement","figures":{...},"targets":[...]}`.
 */
import {
  DestinationPicker,
  MIB,
  Reservations,
  type SharkCopy,
  type StorageNode,
  type StorinfoSnapshot,
} from '../../src/storinfo/index.ts';

const OBJECTS = Number(process.env.BENCH_PLACEMENT_OBJECTS ?? 1_000_000);
const SHARKS = 100;
const DCS = ['dc1', 'dc2', 'dc3'];
const TARGET_PICKS_PER_S = 200_000;

const nodes: StorageNode[] = Array.from({ length: SHARKS }, (_, i) => ({
  availableMB: 4_000_000 + ((i * 7919) % 1000) * 1000,
  percentUsed: 20 + (i % 50),
  filesystem: '/manta',
  datacenter: DCS[i % DCS.length] as string,
  manta_storage_id: `${i + 1}.stor.bench.example.com`,
  timestamp: Date.now(),
}));
const evacuated: SharkCopy = { manta_storage_id: '1.stor.bench.example.com', datacenter: 'dc1' };
/** Storinfo refreshes every `REFRESH_EVERY` picks, with heartbeats newer than every commit. */
const REFRESH_EVERY = 50_000;

// Objects: the evacuated copy plus one copy elsewhere; sizes 0..8 MiB.
let x = 12345;
const next = () => {
  x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  return x;
};
const objects = Array.from({ length: 1000 }, () => {
  const other = nodes[1 + (next() % (SHARKS - 1))] as StorageNode;
  return {
    sharks: [evacuated, { manta_storage_id: other.manta_storage_id, datacenter: other.datacenter }],
    sizeBytes: next() % (8 * MIB),
  };
});

interface Run {
  seconds: number;
  placed: number;
  skipped: number;
  heapMiB: number;
  live: number;
}

function run(reserve: boolean): Run {
  let clock = 0;
  const reservations = new Reservations({ now: () => clock, settleMarginMs: 0 });
  let snapshot: StorinfoSnapshot = { nodes, fetchedAt: 0, version: 1 };
  const picker = new DestinationPicker({
    evacuated,
    snapshot: () => snapshot,
    reservations,
    maxFillPercentage: 90,
    seed: 7,
  });
  let placed = 0;
  let skipped = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < OBJECTS; i++) {
    const object = objects[i % objects.length] as (typeof objects)[number];
    const group = `a${Math.floor(i / 50)}`;
    const d = reserve ? picker.place(object, `o${i}`, group) : picker.pick(object);
    if (d.outcome === 'placed') placed++;
    else skipped++;
    // Assignments end some time after they are filled: commit one 20 assignments back.
    if (reserve && i % 50 === 49 && i >= 1000)
      reservations.commitGroup(`a${Math.floor(i / 50) - 20}`);
    if (i % REFRESH_EVERY === REFRESH_EVERY - 1) {
      clock++;
      const fresh = nodes.map((n) => ({ ...n, timestamp: clock }));
      snapshot = { nodes: fresh, fetchedAt: clock, version: snapshot.version + 1 };
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return {
    seconds,
    placed,
    skipped,
    heapMiB: Math.round(process.memoryUsage().heapUsed / MIB),
    live: reservations.stats().pending + reservations.stats().committed,
  };
}

run(false); // warm-up of the JIT on the same code paths
const pickOnly = run(false);
const withReservations = run(true);
const picksPerS = Math.round(OBJECTS / withReservations.seconds);
const pickOnlyPerS = Math.round(OBJECTS / pickOnly.seconds);

console.log(
  `placement: ${OBJECTS} objects over ${SHARKS} sharks: ${picksPerS} picks/s with reservations ` +
    `(${withReservations.placed} placed, ${withReservations.skipped} skipped), ${pickOnlyPerS} picks/s pick only`,
);
console.log(
  JSON.stringify({
    bench: 'placement',
    figures: {
      objects: OBJECTS,
      sharks: SHARKS,
      picks_per_s: picksPerS,
      pick_only_per_s: pickOnlyPerS,
      placed: withReservations.placed,
      skipped: withReservations.skipped,
      seconds: Number(withReservations.seconds.toFixed(3)),
      heap_mib: withReservations.heapMiB,
      live_reservations_at_end: withReservations.live,
    },
    targets: [
      {
        name: 'picks_per_s',
        op: '>=',
        target: TARGET_PICKS_PER_S,
        value: picksPerS,
        met: picksPerS >= TARGET_PICKS_PER_S,
      },
    ],
  }),
);
