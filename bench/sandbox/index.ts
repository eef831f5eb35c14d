/**
 * `npm run bench -- sandbox`: the Moray shard stand-in against raw SQL (moray.ts) and the
 * seeding rate (seed.ts), on real PostgreSQL, summarised in one JSON line (the last printed).
 *
 *   npm run bench -- sandbox [moray.ts options] [--seed-objects N (default 1000000; 0: skip)]
 */
import { parseArgs } from 'node:util';
import { morayOptionsFromArgs, runMorayBench, TABLE_HEADER } from './moray.ts';
import { runSeedBench } from './seed.ts';

const argv = process.argv.slice(2);
const { values } = parseArgs({
  args: argv,
  strict: false,
  options: { 'seed-objects': { type: 'string', default: '1000000' } },
});
const seedObjects = Number(values['seed-objects']);
const options = morayOptionsFromArgs(
  argv.filter((a, i) => !a.startsWith('--seed-objects') && argv[i - 1] !== '--seed-objects'),
);

const { figures, targets, table } = await runMorayBench(options);
console.log(TABLE_HEADER);
for (const line of table) console.log(line);
const seed = seedObjects > 0 ? await runSeedBench(options.adminUrl, seedObjects) : {};
if (seedObjects > 0) console.log(`seeding: ${JSON.stringify(seed)}`);
console.log(JSON.stringify({ bench: 'sandbox', figures: { ...figures, ...seed }, targets }));
