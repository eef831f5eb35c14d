/**
 * The fault injector of the campaign: a plan of faults drawn from a seeded PRNG (kind, target,
 * when, for how long), run one fault at a time against a live sandbox, each healed before the
 * next. The same seed draws the same plan, so a trial that failed can be replayed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RebalancerError } from '../../errors.ts';
import type { MakoFaultsInput } from '../mako/faults.ts';
import type { SeededRandom } from '../seed/random.ts';
import type { SandboxControl } from './control.ts';
import type { TmpfsRoot } from './enospc.ts';

export const FAULT_KINDS = [
  'manager_kill',
  'agent_kill',
  'shard_kill',
  'mako_kill',
  'mako_500',
  'mako_reset',
  'mako_stall',
  'enospc',
  'storinfo_down',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export class FaultInjectionError extends RebalancerError {
  override readonly name = 'FaultInjectionError';
  readonly code = 'FaultInjectionError';
}

export interface PlannedFault {
  kind: FaultKind;
  /** Shark or shard number (1-based) the fault hits; 0 for the manager and storinfo. */
  target: number;
  /** Wait before injecting it. */
  gapMs: number;
  /** How long it lasts before it is healed (a killed process stays down this long). */
  holdMs: number;
  /** For mako_500 / mako_reset: the fraction of requests hit. */
  rate: number;
}

export interface InjectedFault extends PlannedFault {
  /** Milliseconds from the injector's start. */
  atMs: number;
  /** How long it really lasted, heal included. */
  lastedMs: number;
}

export interface FaultPlanOptions {
  count: number;
  kinds: readonly FaultKind[];
  shards: number;
  sharks: number;
  /** The shark whose object root is the small filesystem (enospc). */
  tmpfsShark?: number;
}

const uniform = (random: SeededRandom, min: number, max: number) => random.int(min, max);

/** Draws the plan: every fault's kind, target and timing, before anything runs. */
export function planFaults(random: SeededRandom, options: FaultPlanOptions): PlannedFault[] {
  const kinds = options.kinds.filter((k) => k !== 'enospc' || options.tmpfsShark !== undefined);
  if (kinds.length === 0) return [];
  return Array.from({ length: options.count }, () => {
    const kind = kinds[random.int(0, kinds.length - 1)] as FaultKind;
    const fault: PlannedFault = {
      kind,
      target: 0,
      gapMs: uniform(random, 100, 1500),
      holdMs: uniform(random, 300, 4000),
      rate: uniform(random, 30, 100) / 100,
    };
    if (kind === 'agent_kill') fault.target = random.int(2, options.sharks);
    else if (kind === 'shard_kill') fault.target = random.int(1, options.shards);
    else if (kind === 'enospc') fault.target = options.tmpfsShark as number;
    else if (kind.startsWith('mako_')) fault.target = random.int(1, options.sharks);
    return fault;
  });
}

export class FaultInjector {
  readonly injected: InjectedFault[] = [];
  readonly #stop = new AbortController();
  /** Targets under a fault now: one fault at a time on each. */
  readonly #busy = new Set<string>();

  constructor(
    private readonly control: SandboxControl,
    private readonly tmpfs: TmpfsRoot | undefined,
    private readonly log: (message: string) => void = () => undefined,
  ) {}

  /** Stops after the fault in progress (its hold is cut short; it is still healed). */
  stop(): void {
    this.#stop.abort();
  }

  /**
   * Runs the plan in `lanes` concurrent lanes (fault i in lane i mod lanes, one after another
   * in each), so faults overlap; a fault whose target another lane holds faulted is passed
   * over. Resolves when every lane is done or stopped, every fault injected healed.
   */
  async run(plan: readonly PlannedFault[], lanes = 1): Promise<void> {
    const started = Date.now();
    const results = await Promise.allSettled(
      Array.from({ length: lanes }, (_, lane) =>
        this.#lane(
          plan.filter((_, i) => i % lanes === lane),
          started,
        ),
      ),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async #lane(plan: readonly PlannedFault[], started: number): Promise<void> {
    const signal = this.#stop.signal;
    for (const fault of plan) {
      if (!(await pause(fault.gapMs, signal))) return;
      const target = targetOf(fault);
      if (this.#busy.has(target)) continue;
      this.#busy.add(target);
      try {
        const at = Date.now();
        this.log(`fault ${fault.kind} target ${fault.target} for ${fault.holdMs} ms`);
        const heal = await this.#inject(fault);
        try {
          await pause(fault.holdMs, signal);
        } finally {
          await heal();
        }
        this.injected.push({ ...fault, atMs: at - started, lastedMs: Date.now() - at });
      } finally {
        this.#busy.delete(target);
      }
    }
  }

  /** Injects one fault; returns how to heal it. */
  async #inject(fault: PlannedFault): Promise<() => Promise<void>> {
    const c = this.control;
    const sharkId = (n: number) => c.description.sharks[n - 1]?.manta_storage_id ?? '';
    switch (fault.kind) {
      case 'manager_kill':
        await c.crash('manager');
        return () => c.restartManager();
      case 'agent_kill':
        await c.crash(`agent ${sharkId(fault.target)}`);
        return () => c.restartAgent(fault.target);
      case 'shard_kill': {
        const shard = c.description.shards[fault.target - 1];
        if (!shard) throw new FaultInjectionError(`no shard ${fault.target}`);
        await c.crash(shard.name);
        return () => c.restartShard(fault.target);
      }
      case 'mako_kill':
        await c.crash(`mako ${sharkId(fault.target)}`);
        return () => c.restartMako(fault.target);
      case 'storinfo_down':
        await c.crash('storinfo');
        return () => c.restartStorinfo();
      case 'mako_500':
        return this.#makoFaults(fault.target, {
          seed: fault.gapMs,
          error: { rate: fault.rate, status: 500, methods: ['GET', 'HEAD'] },
        });
      case 'mako_reset':
        return this.#makoFaults(fault.target, {
          seed: fault.gapMs,
          reset: { rate: fault.rate, fraction: 0.5 },
        });
      case 'mako_stall':
        // Every request waits the whole hold: a mako that stopped answering for a while.
        return this.#makoFaults(fault.target, { latencyMs: fault.holdMs });
      case 'enospc': {
        const tmpfs = this.tmpfs;
        if (!tmpfs) throw new FaultInjectionError('enospc planned without a small filesystem');
        await tmpfs.fill();
        return () => tmpfs.release();
      }
    }
  }

  async #makoFaults(n: number, faults: MakoFaultsInput): Promise<() => Promise<void>> {
    const shark = this.control.description.sharks[n - 1];
    if (!shark) throw new FaultInjectionError(`no shark ${n}`);
    await setMakoFaults(shark.mako_url, faults);
    return () => setMakoFaults(shark.mako_url, {});
  }
}

/** What a fault holds: a mako's knobs and its process are one target. */
function targetOf(fault: PlannedFault): string {
  if (fault.kind.startsWith('mako_')) return `mako ${fault.target}`;
  return `${fault.kind} ${fault.target}`;
}

/** The mako stand-in's admin endpoint (src/sandbox/mako/admin.ts). */
export async function setMakoFaults(makoUrl: string, faults: MakoFaultsInput): Promise<void> {
  const res = await fetch(`${makoUrl}/_sandbox/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(faults),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new FaultInjectionError(`mako faults: ${res.status} ${text}`);
}

/** Sleeps `ms`; false when stopped first. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch (err) {
    if ((err as Error).name === 'AbortError') return false;
    throw err;
  }
}
