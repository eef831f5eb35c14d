/**
 * Fault campaign (`npm run bench -- faults [--trials 20] [--objects 2000] [--faults 8]
 * [--lanes 2] [--user-writes N] [--retries 3] [--seed S] [--kinds a,b] [--no-enospc] [--pg-url URL]`):
 * each trial is a fresh sandbox on real PostgreSQL (--pg-url, else REBALANCER_TEST_PG_URL,
 * else postgres://postgres@127.0.0.1:5432/postgres) in which shark 1 is evacuated through the
 * manager's API while faults are injected at random moments (kill -9 + restart of the manager,
 * agents, Moray shards, makos; makos answering 500, resetting mid-body, stalling; a destination
 * out of space; storinfo down) and a user re-uploads, overwrites, updates and deletes objects;
 * the job is retried (as an operator would) while a retry could help, then verified
 * independently (src/sandbox/verify.ts). Trial i uses seed S+i, printed: replay one with
 * `--seed <that seed> --trials 1`. Last line: one JSON
 *   {"bench":"faults","figures":{...},"targets":[{name,value,target,met}]}.
 */
import { parseArgs } from 'node:util';
import { campaignFigures, campaignTargets } from '../../src/sandbox/faults/campaign.ts';
import { probeTmpfs } from '../../src/sandbox/faults/enospc.ts';
import { FAULT_KINDS, type FaultKind } from '../../src/sandbox/faults/injector.ts';
import { runTrial, type TrialResult } from '../../src/sandbox/faults/trial.ts';

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '20' },
    objects: { type: 'string', default: '2000' },
    faults: { type: 'string', default: '8' },
    lanes: { type: 'string', default: '2' },
    'user-writes': { type: 'string' },
    retries: { type: 'string', default: '3' },
    seed: { type: 'string' },
    kinds: { type: 'string', default: FAULT_KINDS.join(',') },
    'no-enospc': { type: 'boolean', default: false },
    'pg-url': { type: 'string' },
    'job-timeout': { type: 'string', default: '300' },
  },
});

function count(name: string, text: string, min = 0): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer >= ${min}, not ${text}`);
    process.exit(2);
  }
  return n;
}

const TRIALS = count('trials', args.trials, 1);
const OBJECTS = count('objects', args.objects, 1);
const FAULTS = count('faults', args.faults);
const USER_WRITES = count(
  'user-writes',
  args['user-writes'] ?? String(Math.max(20, Math.round(OBJECTS / 20))),
);
const RETRIES = count('retries', args.retries);
const LANES = count('lanes', args.lanes, 1);
const SEED = count('seed', args.seed ?? String(Math.floor(Math.random() * 0x7fffffff)));
const JOB_TIMEOUT_MS = count('job-timeout', args['job-timeout'], 1) * 1000;
const PG_URL =
  args['pg-url'] ??
  process.env.REBALANCER_TEST_PG_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
const KINDS = args.kinds.split(',').map((k) => k.trim()) as FaultKind[];
for (const kind of KINDS) {
  if (!FAULT_KINDS.includes(kind)) {
    console.error(`unknown fault kind ${kind} (known: ${FAULT_KINDS.join(', ')})`);
    process.exit(2);
  }
}

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

let enospc = KINDS.includes('enospc') && !args['no-enospc'];
let enospcHow = enospc ? 'a full tmpfs as one destination shark object root' : 'not asked';
if (enospc) {
  const probe = await probeTmpfs();
  if (!probe.ok) {
    enospc = false;
    enospcHow = `left out: ${probe.reason}`;
  }
}
log(
  `fault campaign: ${TRIALS} trials from seed ${SEED}, ${OBJECTS} objects each; enospc: ${enospcHow}`,
);

const results: TrialResult[] = [];
const errors: { seed: number; error: string }[] = [];
for (let i = 0; i < TRIALS; i++) {
  const seed = SEED + i;
  log(`trial ${i + 1}/${TRIALS}: seed ${seed}`);
  try {
    const result = await runTrial({
      seed,
      objects: OBJECTS,
      faults: FAULTS,
      kinds: KINDS,
      lanes: LANES,
      userWrites: USER_WRITES,
      retries: RETRIES,
      pgUrl: PG_URL,
      enospc,
      jobTimeoutMs: JOB_TIMEOUT_MS,
      log: (m) => log(`  [seed ${seed}] ${m}`),
    });
    results.push(result);
    const curable = result.leftovers.filter((l) => l.curable).length;
    console.log(
      `seed ${seed}: ${result.seconds.toFixed(0)} s, ${result.faults.length} faults (${result.faults.map((f) => f.kind).join(', ')}), jobs ${result.jobs.map((j) => j.state).join(' > ')}; lost ${result.lost.length}, bad copies ${result.badCopies.length}, clobbered ${result.clobbered.length}, left ${result.leftovers.length} (${curable} curable)`,
    );
    for (const problem of result.problems.slice(0, 10)) console.log(`  ${problem}`);
  } catch (err) {
    const error = (err as Error).stack ?? String(err);
    errors.push({ seed, error: (err as Error).message });
    console.log(`seed ${seed}: the trial could not finish: ${error}`);
  }
}

const figures = { ...campaignFigures(results, errors), enospc: enospcHow };
console.log(JSON.stringify({ bench: 'faults', figures, targets: campaignTargets(figures) }));
