/**
 * Phase C: every agent restarted with `max_bytes_per_second`, then an unlimited job of large
 * objects keeps the destination agents busier than their cap allows. Each agent's download
 * rate is its verified-bytes counter (`bytes_count`) over the window; its own gauge
 * (`rebalancer_agent_download_bytes_per_second`, a 10 s average) is sampled beside it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ControlsFixture } from './fixture.ts';
import { bytesDone, finish, isFinal, MIB, read, settled, waitFor } from './measure.ts';
import { type PhaseResult, round, type Settings, type Target } from './settings.ts';

type Log = (message: string) => void;

export const AGENT_CAP_SHARK = 3;
const GAUGE_EVERY_MS = 2000;

/** A metric's value from Prometheus text (its one series; labels ignored). */
function metric(text: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  if (!match) throw new Error(`no ${name} in the agent's metrics`);
  return Number(match[1]);
}

interface AgentReading {
  at: number;
  bytes: number;
  gauge: number;
}

async function readAgent(url: string): Promise<AgentReading> {
  const before = performance.now();
  const text = await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).text();
  return {
    at: (before + performance.now()) / 2,
    bytes: metric(text, 'bytes_count'),
    gauge: metric(text, 'rebalancer_agent_download_bytes_per_second'),
  };
}

const readAll = (urls: Map<number, string>) =>
  Promise.all([...urls].map(async ([n, url]) => [n, await readAgent(url)] as const));

export function agentCapTargets(s: Settings, maxMib: number | null): Target[] {
  const cap = s.agentCapBytesPerSecond / MIB;
  const bound = round(cap * s.agentCapTolerance);
  return [
    {
      name: `fastest agent's download MiB/s with max_bytes_per_second ${cap} MiB (${s.agentWindowSeconds} s window)`,
      value: maxMib === null ? null : round(maxMib),
      target: `<= ${bound}`,
      met: maxMib !== null && maxMib <= bound,
    },
  ];
}

export async function agentCap(fx: ControlsFixture, s: Settings, log: Log): Promise<PhaseResult> {
  const urls = await fx.restartAgents(s.agentCapBytesPerSecond);
  try {
    return await capped(fx, s, urls, log);
  } finally {
    await fx.restartAgents(0);
  }
}

async function capped(
  fx: ControlsFixture,
  s: Settings,
  urls: Map<number, string>,
  log: Log,
): Promise<PhaseResult> {
  // Enough for every destination agent at its cap through warm-up, window and margin.
  const seconds = s.warmupSeconds + s.agentWindowSeconds + s.marginSeconds;
  const count = Math.ceil(
    (fx.destinations.length * s.agentCapBytesPerSecond * seconds) / s.largeObjectBytes,
  );
  const seedSeconds = await fx.seed(AGENT_CAP_SHARK, count, s.largeObjectBytes, 'agent-cap');
  const { manager } = fx;
  const id = await manager.createEvacuate(fx.shark(AGENT_CAP_SHARK));
  log(
    `job ${id}: ${count} objects, no job limits, agents capped at ${s.agentCapBytesPerSecond} B/s`,
  );
  let figures: Record<string, unknown> = {};
  let maxMib: number | null = null;
  try {
    await waitFor(manager, id, 'a moved byte', (st) => bytesDone(st) > 0, s.startTimeoutMs);
    await sleep(s.warmupSeconds * 1000);
    const job0 = await read(manager, id);
    const first = new Map(await readAll(urls));
    const gaugeMax = new Map<number, number>();
    const end = performance.now() + s.agentWindowSeconds * 1000;
    let last = first;
    while (performance.now() < end) {
      await sleep(Math.min(GAUGE_EVERY_MS, Math.max(0, end - performance.now())));
      last = new Map(await readAll(urls));
      for (const [n, r] of last) gaugeMax.set(n, Math.max(gaugeMax.get(n) ?? 0, r.gauge));
    }
    const job1 = await read(manager, id);
    const perAgent: Record<string, number> = {};
    const gauges: Record<string, number> = {};
    let total = 0;
    for (const [n, r1] of last) {
      const r0 = first.get(n) as AgentReading;
      const mib = (r1.bytes - r0.bytes) / MIB / ((r1.at - r0.at) / 1000);
      perAgent[fx.shark(n)] = round(mib);
      gauges[fx.shark(n)] = round((gaugeMax.get(n) ?? 0) / MIB);
      total += mib;
      maxMib = Math.max(maxMib ?? 0, mib);
    }
    const jobSeconds = (job1.at - job0.at) / 1000;
    const ranDry =
      isFinal(job1.status) || job1.status.results.Unprocessed + job1.status.results.Assigned === 0;
    log(`agent download MiB/s over the window: ${JSON.stringify(perAgent)}`);
    figures = {
      cap_mib_per_s: s.agentCapBytesPerSecond / MIB,
      max_agent_mib_per_s: round(maxMib ?? 0),
      agents_mib_per_s: perAgent,
      agents_gauge_max_mib_per_s: gauges,
      total_mib_per_s: round(total),
      job_mib_per_s: round((bytesDone(job1.status) - bytesDone(job0.status)) / MIB / jobSeconds),
      job_objects_per_s: round((settled(job1.status) - settled(job0.status)) / jobSeconds),
      window_s: round(jobSeconds),
      ran_dry: ranDry,
    };
  } finally {
    const { status, cancel } = await finish(manager, id);
    figures = { ...figures, final_state: status.state, cancel };
  }
  return {
    figures: {
      objects_seeded: count,
      object_bytes: s.largeObjectBytes,
      seed_s: round(seedSeconds),
      ...figures,
    },
    targets: agentCapTargets(s, maxMib),
  };
}
