/**
 * Serialises work per key: `run(key, fn)` starts `fn` once every earlier `run` on the same key
 * has settled; different keys run at once. A key's entry is dropped when its last run ends.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous ? previous.then(() => mine) : mine;
    this.tails.set(key, tail);
    try {
      if (previous) await previous;
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with a run in progress or waiting. */
  get size(): number {
    return this.tails.size;
  }
}
