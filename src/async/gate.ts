/** A gate work passes only while it is open (a paused job: nothing new starts). */
export class Gate {
  private closed = false;
  private readonly waiters: (() => void)[] = [];

  constructor(open = true) {
    this.closed = !open;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  open(): void {
    this.closed = false;
    for (const wake of this.waiters.splice(0)) wake();
  }

  close(): void {
    this.closed = true;
  }

  /** Resolves once the gate is open (at once if it is); an abort ends the wait with its reason. */
  async wait(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (!this.closed) return;
    await new Promise<void>((resolve, reject) => {
      const opened = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const at = this.waiters.indexOf(opened);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(opened);
    });
  }
}
