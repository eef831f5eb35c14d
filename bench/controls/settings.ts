/** The benchmark's knobs (flags), and the shape every phase reports in. */
import { MIB } from './measure.ts';

export interface Settings {
  /** The steady window each job limit is measured over (the minute). */
  windowSeconds: number;
  /** Skipped after a job starts settling objects, or after a limit changes. */
  warmupSeconds: number;
  /** Extra work seeded past each window, so that no window runs dry. */
  marginSeconds: number;
  /** The window the agents' download rates are measured over. */
  agentWindowSeconds: number;
  objectRates: readonly [number, number];
  bytesPerSecond: number;
  agentCapBytesPerSecond: number;
  /** The agents' rate must stay at or under cap × this. */
  agentCapTolerance: number;
  etaObjects: number;
  etaObjectsPerSecond: number;
  /** The largest ETA error (relative to the time actually left) a target allows. */
  etaMaxError: number;
  etaProgressPoints: readonly number[];
  smallObjectBytes: number;
  largeObjectBytes: number;
  /** How long a job may take to settle its first object. */
  startTimeoutMs: number;
  /** A limit is met when the measured rate is within this fraction of it. */
  rateTolerance: number;
}

export const DEFAULT_LARGE_OBJECT_BYTES = MIB;

export interface Target {
  name: string;
  value: number | null;
  target: string;
  met: boolean;
}

export interface PhaseResult {
  figures: Record<string, unknown>;
  targets: Target[];
}

export const round = (n: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

/** A measured rate within ±tolerance of its limit. */
export function withinLimit(
  name: string,
  value: number | null,
  limit: number,
  tolerance: number,
): Target {
  const low = limit * (1 - tolerance);
  const high = limit * (1 + tolerance);
  return {
    name,
    value: value === null ? null : round(value),
    target: `${round(low)}..${round(high)} (±${tolerance * 100}% of ${limit})`,
    met: value !== null && value >= low && value <= high,
  };
}
