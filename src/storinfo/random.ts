/** A small seedable PRNG (mulberry32) so destination shuffles are reproducible in tests. */
import { randomInt } from 'node:crypto';

export type Random = () => number;

/** Uniform in [0, 1). With no seed, seeded from the OS. */
export function createRandom(seed?: number): Random {
  let state = (seed ?? randomInt(0, 2 ** 32)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates in place. */
export function shuffleInPlace<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = items[i] as T;
    items[i] = items[j] as T;
    items[j] = a;
  }
  return items;
}
