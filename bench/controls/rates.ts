/**
 * Phases A and B: a job's objects_per_second (set at creation, then raised while it runs) and
 * bytes_per_second, each measured over a steady window after a warm-up: objects settled
 * (Complete + Skipped + Error) and progress.bytes_done per second, against the limit.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ControlsFixture } from './fixture.ts';
import { bytesDone, finish, MIB, measureWindow, settled, waitFor } from './measure.ts';
import { type PhaseResult, round, type Settings, type Target, withinLimit } from './settings.ts';

type Log = (message: string) => void;

/** Shark 1: objects_per_second at each of the two rates in turn, in one job. */
export const OBJECTS_SHARK = 1;
/** Shark 2: bytes_per_second. */
export const BYTES_SHARK = 2;

export function objectRateTargets(s: Settings, measured: readonly (number | null)[]): Target[] {
  return s.objectRates.map((limit, i) =>
    withinLimit(
      `objects/s settled at objects_per_second ${limit} (${s.windowSeconds} s window)`,
      measured[i] ?? null,
      limit,
      s.rateTolerance,
    ),
  );
}

export async function objectRates(
  fx: ControlsFixture,
  s: Settings,
  log: Log,
): Promise<PhaseResult> {
  const [low, high] = s.objectRates;
  const perRate = s.warmupSeconds + s.windowSeconds + s.marginSeconds;
  const count = Math.ceil((low + high) * perRate);
  const seedSeconds = await fx.seed(OBJECTS_SHARK, count, s.smallObjectBytes, 'objects-rate');
  const { manager } = fx;
  const id = await manager.createEvacuate(fx.shark(OBJECTS_SHARK), {
    limits: { objects_per_second: low },
  });
  log(`job ${id}: ${count} objects at objects_per_second ${low}`);
  const windows: Record<string, unknown>[] = [];
  const measured: number[] = [];
  let end: Record<string, unknown> = {};
  try {
    await waitFor(manager, id, 'a settled object', (st) => settled(st) > 0, s.startTimeoutMs);
    for (const [i, limit] of [low, high].entries()) {
      if (i > 0) {
        await manager.setLimits(id, { objects_per_second: limit });
        log(`job ${id}: objects_per_second set to ${limit}`);
      }
      await sleep(s.warmupSeconds * 1000);
      const w = await measureWindow(manager, id, s.windowSeconds, settled, log);
      log(
        `objects_per_second ${limit}: ${w.rate.toFixed(1)} objects/s over ${w.seconds.toFixed(1)} s`,
      );
      measured.push(w.rate);
      windows.push({
        limit,
        measured_per_s: round(w.rate),
        objects: w.units,
        window_s: round(w.seconds),
        ran_dry: w.ranDry,
      });
    }
  } finally {
    const { status, cancel } = await finish(manager, id);
    end = { final_state: status.state, final_results: status.results, cancel };
  }
  return {
    figures: { objects_seeded: count, seed_s: round(seedSeconds), windows, ...end },
    targets: objectRateTargets(s, measured),
  };
}

export function byteRateTargets(s: Settings, measuredMib: number | null): Target[] {
  return [
    withinLimit(
      `MiB/s moved at bytes_per_second ${s.bytesPerSecond / MIB} MiB (${s.windowSeconds} s window)`,
      measuredMib,
      s.bytesPerSecond / MIB,
      s.rateTolerance,
    ),
  ];
}

export async function byteRate(fx: ControlsFixture, s: Settings, log: Log): Promise<PhaseResult> {
  const perRate = s.warmupSeconds + s.windowSeconds + s.marginSeconds;
  const count = Math.ceil((s.bytesPerSecond * perRate) / s.largeObjectBytes);
  const seedSeconds = await fx.seed(BYTES_SHARK, count, s.largeObjectBytes, 'bytes-rate');
  const { manager } = fx;
  const id = await manager.createEvacuate(fx.shark(BYTES_SHARK), {
    limits: { bytes_per_second: s.bytesPerSecond },
  });
  log(`job ${id}: ${count} objects at bytes_per_second ${s.bytesPerSecond}`);
  let figures: Record<string, unknown> = {};
  let measured: number | null = null;
  try {
    await waitFor(manager, id, 'a moved byte', (st) => bytesDone(st) > 0, s.startTimeoutMs);
    await sleep(s.warmupSeconds * 1000);
    const w = await measureWindow(manager, id, s.windowSeconds, bytesDone, log);
    measured = w.rate / MIB;
    log(
      `bytes_per_second ${s.bytesPerSecond}: ${measured.toFixed(2)} MiB/s over ${w.seconds.toFixed(1)} s`,
    );
    figures = {
      limit_mib_per_s: s.bytesPerSecond / MIB,
      measured_mib_per_s: round(measured),
      mib: round(w.units / MIB),
      window_s: round(w.seconds),
      ran_dry: w.ranDry,
    };
  } finally {
    const { status, cancel } = await finish(manager, id);
    figures = { ...figures, final_state: status.state, final_results: status.results, cancel };
  }
  return {
    figures: {
      objects_seeded: count,
      object_bytes: s.largeObjectBytes,
      seed_s: round(seedSeconds),
      ...figures,
    },
    targets: byteRateTargets(s, measured),
  };
}
