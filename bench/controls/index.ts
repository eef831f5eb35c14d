/**
 * Operator controls benchmark (`npm run bench -- controls [--window-seconds 60]
 * [--warmup-seconds 10] [--margin-seconds 15] [--agent-window-seconds N] [--objects-rates 50,200]
 * [--bytes-mib 20] [--agent-cap-mib 10] [--eta-objects 6000] [--eta-rate 100]
 * [--phases A,B,C,D] [--pg-url URL]`): one sandbox on real PostgreSQL (--pg-url, else
 * REBALANCER_TEST_PG_URL, else postgres://postgres@127.0.0.1:5432/postgres), every service a
 * real process, and four phases, each evacuating its own shark through the manager's API:
 *   A. objects_per_second 50, then raised to 200 while the job runs: objects settled per
 *      second over a steady window at each, within ±10% of the limit;
 *   B. bytes_per_second 20 MiB: bytes moved per second over a steady window, within ±10%;
 *   C. every agent restarted with max_bytes_per_second 10 MiB under an unlimited job: the
 *      fastest agent's download rate over the window, at most 10.5 MiB/s;
 *   D. a steady job (objects_per_second 100): its ETA's error at 10%, 50% and 90% progress,
 *      relative to the time actually left, at most 0.25.
 * The window is the minute by default; `--window-seconds 15` is a quick trial.
 * Progress goes to stderr; the last line of stdout is one JSON
 *   {"bench":"controls","figures":{...},"targets":[{name,value,target,met}]}.
 */
import { parseArgs } from 'node:util';
import { loopbackHttpRate } from '../support/calibrate.ts';
import { AGENT_CAP_SHARK, agentCap, agentCapTargets } from './agent-cap.ts';
import { ETA_SHARK, etaAccuracy, etaTargets } from './eta.ts';
import { ControlsFixture } from './fixture.ts';
import { MIB } from './measure.ts';
import {
  BYTES_SHARK,
  byteRate,
  byteRateTargets,
  OBJECTS_SHARK,
  objectRates,
  objectRateTargets,
} from './rates.ts';
import {
  DEFAULT_LARGE_OBJECT_BYTES,
  type PhaseResult,
  round,
  type Settings,
  type Target,
} from './settings.ts';

const { values: args } = parseArgs({
  options: {
    'window-seconds': { type: 'string', default: '60' },
    'warmup-seconds': { type: 'string', default: '10' },
    'margin-seconds': { type: 'string', default: '15' },
    'agent-window-seconds': { type: 'string' },
    'objects-rates': { type: 'string', default: '50,200' },
    'bytes-mib': { type: 'string', default: '20' },
    'agent-cap-mib': { type: 'string', default: '10' },
    'eta-objects': { type: 'string', default: '6000' },
    'eta-rate': { type: 'string', default: '100' },
    destinations: { type: 'string', default: '4' },
    phases: { type: 'string', default: 'A,B,C,D' },
    'pg-url': { type: 'string' },
  },
});

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a number > 0, not ${text}`);
    process.exit(2);
  }
  return n;
}

const windowSeconds = positive('window-seconds', args['window-seconds']);
const rates = args['objects-rates'].split(',').map((r) => positive('objects-rates', r));
if (rates.length !== 2) {
  console.error('--objects-rates takes two rates, e.g. 50,200');
  process.exit(2);
}
const settings: Settings = {
  windowSeconds,
  warmupSeconds: positive('warmup-seconds', args['warmup-seconds']),
  marginSeconds: positive('margin-seconds', args['margin-seconds']),
  // The issue asks for at least 20 s of counter deltas.
  agentWindowSeconds: positive(
    'agent-window-seconds',
    args['agent-window-seconds'] ?? String(Math.max(20, windowSeconds / 2)),
  ),
  objectRates: [rates[0] as number, rates[1] as number],
  bytesPerSecond: Math.round(positive('bytes-mib', args['bytes-mib']) * MIB),
  agentCapBytesPerSecond: Math.round(positive('agent-cap-mib', args['agent-cap-mib']) * MIB),
  agentCapTolerance: 1.05,
  etaObjects: Math.round(positive('eta-objects', args['eta-objects'])),
  etaObjectsPerSecond: positive('eta-rate', args['eta-rate']),
  etaMaxError: 0.25,
  etaProgressPoints: [0.1, 0.5, 0.9],
  smallObjectBytes: 4 * 1024,
  largeObjectBytes: DEFAULT_LARGE_OBJECT_BYTES,
  startTimeoutMs: 120_000,
  rateTolerance: 0.1,
};
const DESTINATIONS = Math.round(positive('destinations', args.destinations));
const PHASES = new Set(args.phases.split(',').map((p) => p.trim().toUpperCase()));
const PG_URL =
  args['pg-url'] ??
  process.env.REBALANCER_TEST_PG_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

interface Phase {
  key: string;
  name: string;
  shark: number;
  run: (fx: ControlsFixture) => Promise<PhaseResult>;
  /** The phase's targets when it could not measure them. */
  unmeasured: () => Target[];
}

const PHASE_LIST: Phase[] = [
  {
    key: 'A',
    name: 'objects_per_second',
    shark: OBJECTS_SHARK,
    run: (fx) => objectRates(fx, settings, log),
    unmeasured: () => objectRateTargets(settings, []),
  },
  {
    key: 'B',
    name: 'bytes_per_second',
    shark: BYTES_SHARK,
    run: (fx) => byteRate(fx, settings, log),
    unmeasured: () => byteRateTargets(settings, null),
  },
  {
    key: 'C',
    name: 'agent_cap',
    shark: AGENT_CAP_SHARK,
    run: (fx) => agentCap(fx, settings, log),
    unmeasured: () => agentCapTargets(settings, null),
  },
  {
    key: 'D',
    name: 'eta',
    shark: ETA_SHARK,
    run: (fx) => etaAccuracy(fx, settings, log),
    unmeasured: () => etaTargets(settings, []),
  },
];

const started = performance.now();
const yardstick = round(await loopbackHttpRate(), 1);
log(`machine yardstick: ${yardstick} loopback HTTP requests/s, a new connection each`);
const figures: Record<string, unknown> = {
  yardstick_loopback_http_per_s: yardstick,
  settings: { ...settings, destinations: DESTINATIONS, phases: [...PHASES] },
};
const wall: Record<string, number> = {};
const targets: Target[] = [];
let failed = false;
const setupStarted = performance.now();
const fx = await ControlsFixture.start({
  pgUrl: PG_URL,
  sources: Math.max(...PHASE_LIST.map((p) => p.shark)),
  destinations: DESTINATIONS,
  log,
});
wall.setup = round((performance.now() - setupStarted) / 1000, 1);
try {
  for (const phase of PHASE_LIST) {
    if (!PHASES.has(phase.key)) continue;
    const phaseStarted = performance.now();
    log(`phase ${phase.key} (${phase.name}) on shark ${phase.shark}`);
    try {
      const result = await phase.run(fx);
      figures[phase.name] = result.figures;
      targets.push(...result.targets);
    } catch (err) {
      failed = true;
      log(`phase ${phase.key} failed: ${(err as Error).stack ?? String(err)}`);
      figures[phase.name] = { error: (err as Error).message };
      targets.push(...phase.unmeasured());
    }
    wall[phase.name] = round((performance.now() - phaseStarted) / 1000, 1);
    log(`phase ${phase.key} took ${wall[phase.name]} s`);
  }
} finally {
  await fx.stop(failed);
  if (failed) log(`a phase failed: the services' logs are kept in ${fx.dir}`);
}
wall.total = round((performance.now() - started) / 1000, 1);
figures.wall_s = wall;
for (const t of targets)
  console.log(`${t.met ? 'met    ' : 'NOT MET'} ${t.name}: ${t.value} (target ${t.target})`);
console.log(JSON.stringify({ bench: 'controls', figures, targets }));
