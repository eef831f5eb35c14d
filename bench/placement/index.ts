/**
 * Placement benchmark (`npm run bench -- placement [--objects N] [--sharks N]`): destination
 * choices per second for 10,000 objects over 100 sharks (target ≥ 100,000/s), with byte
 * reservations as the manager makes them (see picks.ts). The same figure is part of the
 * discovery benchmark. Last line: JSON `{"bench":"placement","figures":{...},"targets":[...]}`.
 */
import { parseArgs } from 'node:util';
import { measurePicker } from './picks.ts';

const { values: args } = parseArgs({
  options: {
    objects: { type: 'string', default: process.env.BENCH_PLACEMENT_OBJECTS ?? '10000' },
    sharks: { type: 'string', default: '100' },
  },
});
const TARGET_CHOICES_PER_S = 100_000;

const f = measurePicker({ objects: Number(args.objects), sharks: Number(args.sharks) });
console.log(
  `placement: ${f.objects} objects over ${f.sharks} sharks: ${f.choicesPerS} choices/s with ` +
    `reservations (${f.placed} placed, ${f.skipped} skipped), ${f.pickOnlyPerS} choices/s ` +
    `without; median of ${f.repeats}`,
);
console.log(
  JSON.stringify({
    bench: 'placement',
    figures: {
      objects: f.objects,
      sharks: f.sharks,
      repeats: f.repeats,
      choices_per_s: f.choicesPerS,
      pick_only_per_s: f.pickOnlyPerS,
      placed: f.placed,
      skipped: f.skipped,
      live_reservations_at_end: f.liveReservationsAtEnd,
    },
    targets: [
      {
        name: 'choices_per_s',
        value: f.choicesPerS,
        target: TARGET_CHOICES_PER_S,
        op: '>=',
        met: f.choicesPerS >= TARGET_CHOICES_PER_S,
      },
    ],
  }),
);
