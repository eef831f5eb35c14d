/**
 * Phase D: how good a steady job's ETA is. The job (objects_per_second fixed) is read every
 * 500 ms until every object settled; at the first reading at or after each progress point
 * (objects_done / objects_total as that reading says) the ETA is compared with the time that
 * was actually left: |eta - actual| / actual.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ControlsFixture } from './fixture.ts';
import { finish, isFinal, read, waitFor } from './measure.ts';
import { type PhaseResult, round, type Settings, type Target } from './settings.ts';

type Log = (message: string) => void;

export const ETA_SHARK = 4;
const READ_EVERY_MS = 500;

interface Sample {
  /** Seconds since the job was created. */
  t: number;
  done: number;
  total: number;
  estimate: boolean;
  eta: number | null;
}

interface PointResult {
  progress: number;
  at_s: number;
  eta_s: number | null;
  actual_s: number;
  error: number | null;
}

export function etaTargets(s: Settings, points: readonly (PointResult | undefined)[]): Target[] {
  return s.etaProgressPoints.map((p, i) => {
    const error = points[i]?.error ?? null;
    return {
      name: `ETA error at ${Math.round(p * 100)}% progress (objects_per_second ${s.etaObjectsPerSecond}, ${s.etaObjects} objects)`,
      value: error === null ? null : round(error, 3),
      target: `<= ${s.etaMaxError}`,
      met: error !== null && error <= s.etaMaxError,
    };
  });
}

export async function etaAccuracy(
  fx: ControlsFixture,
  s: Settings,
  log: Log,
): Promise<PhaseResult> {
  const seedSeconds = await fx.seed(ETA_SHARK, s.etaObjects, s.smallObjectBytes, 'eta');
  const { manager } = fx;
  const created = performance.now();
  const id = await manager.createEvacuate(fx.shark(ETA_SHARK), {
    limits: { objects_per_second: s.etaObjectsPerSecond },
  });
  log(`job ${id}: ${s.etaObjects} objects at objects_per_second ${s.etaObjectsPerSecond}`);
  const samples: Sample[] = [];
  // Far beyond the time the limit alone takes.
  const deadline = created + s.startTimeoutMs + (3 * s.etaObjects * 1000) / s.etaObjectsPerSecond;
  let lastLog = created;
  let finalState: string;
  try {
    for (;;) {
      const { at, status } = await read(manager, id);
      const p = status.progress;
      if (!p) throw new Error('the job reports no progress');
      const sample: Sample = {
        t: (at - created) / 1000,
        done: p.objects_done,
        total: p.objects_total,
        estimate: p.total_is_estimate,
        eta: p.eta_seconds,
      };
      samples.push(sample);
      if (at - lastLog >= 10_000) {
        lastLog = at;
        log(`  ${sample.t.toFixed(0)} s: ${sample.done}/${sample.total} eta ${sample.eta ?? '-'}`);
      }
      const allSettled = !sample.estimate && sample.total > 0 && sample.done >= sample.total;
      if (allSettled || isFinal(status)) break;
      if (at > deadline) throw new Error(`job ${id} not done in time: ${JSON.stringify(status)}`);
      await sleep(READ_EVERY_MS);
    }
    finalState = (await waitFor(manager, id, 'the end', isFinal, 60_000, 500)).status.state;
  } finally {
    await finish(manager, id);
  }
  const end = samples[samples.length - 1] as Sample;
  const points = s.etaProgressPoints.map((point) => {
    const at = samples.find((x) => x.total > 0 && x.done / x.total >= point);
    return at ? pointAt(at, end) : undefined;
  });
  const firstEta = samples.find((x) => x.eta !== null);
  const firstSettled = samples.find((x) => x.done > 0);
  return {
    figures: {
      objects_seeded: s.etaObjects,
      seed_s: round(seedSeconds),
      final_state: finalState,
      all_settled_after_s: round(end.t),
      first_settled_after_s: firstSettled ? round(firstSettled.t) : null,
      // Context for a point that has no ETA yet: when the first one came, and how good it was.
      first_eta: firstEta ? rounded(pointAt(firstEta, end)) : null,
      objects_per_s_overall: firstSettled
        ? round(end.done / Math.max(0.001, end.t - firstSettled.t))
        : null,
      points: Object.fromEntries(
        s.etaProgressPoints.map((p, i) => [
          `${Math.round(p * 100)}%`,
          points[i] ? rounded(points[i]) : null,
        ]),
      ),
      samples: samples.length,
    },
    targets: etaTargets(s, points),
  };
}

/** The ETA `at` gave against the time actually left until `end`. */
function pointAt(at: Sample, end: Sample): PointResult {
  const actual = end.t - at.t;
  return {
    progress: round(at.done / Math.max(1, at.total), 3),
    at_s: round(at.t),
    eta_s: at.eta === null ? null : round(at.eta),
    actual_s: round(actual),
    error: at.eta === null || actual <= 0 ? null : Math.abs(at.eta - actual) / actual,
  };
}

const rounded = (p: PointResult) => ({ ...p, error: p.error === null ? null : round(p.error, 3) });
