/**
 * Destination choices per second: `objects` objects (the evacuated copy plus one elsewhere,
 * 0..8 MiB) placed over `sharks` storage nodes in 3 datacenters, with a byte reservation per
 * choice, committed per assignment of 50 objects twenty assignments later, as the manager does.
 * The run is repeated `repeats` times (after a warm-up run of the same size) and the median
 * taken, since 10,000 choices last only milliseconds on a shared machine.
 */
import type { StorageNode } from '../../src/api/common.ts';
import {
  DestinationPicker,
  MIB,
  Reservations,
  type StorinfoNode,
  type StorinfoSnapshot,
} from '../../src/storinfo/index.ts';

export interface PickerFigures {
  objects: number;
  sharks: number;
  repeats: number;
  /** Median over the repeats. */
  choicesPerS: number;
  /** Without reservations (`pick` only), median. */
  pickOnlyPerS: number;
  placed: number;
  skipped: number;
  liveReservationsAtEnd: number;
}

const DCS = ['dc1', 'dc2', 'dc3'];

export function measurePicker(o: {
  objects: number;
  sharks: number;
  repeats?: number;
}): PickerFigures {
  const repeats = o.repeats ?? 9;
  const nodes: StorinfoNode[] = Array.from({ length: o.sharks }, (_, i) => ({
    availableMB: 4_000_000 + ((i * 7919) % 1000) * 1000,
    percentUsed: 20 + (i % 50),
    filesystem: '/manta',
    datacenter: DCS[i % DCS.length] as string,
    manta_storage_id: `${i + 1}.stor.bench.example.com`,
    timestamp: Date.now(),
  }));
  const evacuated: StorageNode = {
    manta_storage_id: '1.stor.bench.example.com',
    datacenter: 'dc1',
  };
  let x = 12345;
  const next = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x;
  };
  const objects = Array.from({ length: o.objects }, () => {
    const other = nodes[1 + (next() % (o.sharks - 1))] as StorinfoNode;
    return {
      sharks: [
        evacuated,
        { manta_storage_id: other.manta_storage_id, datacenter: other.datacenter },
      ],
      sizeBytes: next() % (8 * MIB),
    };
  });
  const snapshot: StorinfoSnapshot = { nodes, fetchedAt: 0, version: 1 };

  const once = (reserve: boolean) => {
    const reservations = new Reservations({ now: () => 0, settleMarginMs: 0 });
    const picker = new DestinationPicker({
      evacuated,
      snapshot: () => snapshot,
      reservations,
      maxFillPercentage: 90,
      seed: 7,
    });
    let placed = 0;
    const start = process.hrtime.bigint();
    for (let i = 0; i < objects.length; i++) {
      const object = objects[i] as (typeof objects)[number];
      const d = reserve
        ? picker.place(object, `o${i}`, `a${Math.floor(i / 50)}`)
        : picker.pick(object);
      if (d.outcome === 'placed') placed++;
      if (reserve && i % 50 === 49 && i >= 1000)
        reservations.commitGroup(`a${Math.floor(i / 50) - 20}`);
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const stats = reservations.stats();
    return { perS: objects.length / seconds, placed, live: stats.pending + stats.committed };
  };
  const median = (xs: number[]) => Math.round(xs.sort((a, b) => a - b)[xs.length >> 1] as number);

  once(true); // warm-up of the JIT on the same paths
  once(false);
  const withReservations = Array.from({ length: repeats }, () => once(true));
  const pickOnly = Array.from({ length: repeats }, () => once(false));
  const last = withReservations.at(-1) as ReturnType<typeof once>;
  return {
    objects: o.objects,
    sharks: o.sharks,
    repeats,
    choicesPerS: median(withReservations.map((r) => r.perS)),
    pickOnlyPerS: median(pickOnly.map((r) => r.perS)),
    placed: last.placed,
    skipped: o.objects - last.placed,
    liveReservationsAtEnd: last.live,
  };
}
