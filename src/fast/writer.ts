import type { Socket } from 'node:net';

/**
 * Writes frames to a socket, batching every frame written in the same tick into one writev
 * (cork, then uncork on the next tick): responses and requests are small and many.
 */
export class FrameWriter {
  private corked = false;
  private drainWait: Promise<void> | undefined;

  constructor(private readonly socket: Socket) {}

  /** Queues a frame; false when the socket's buffer is full (wait for `drained()`). Frames for a
   * socket that is already closed are dropped: the peer is gone and pending work fails anyway. */
  write(frame: Buffer): boolean {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return true;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(this.uncork);
    }
    return socket.write(frame);
  }

  /** Resolves when the socket can take more data, or when it closed. */
  drained(): Promise<void> {
    const socket = this.socket;
    if (!socket.writableNeedDrain || socket.destroyed) return Promise.resolve();
    this.drainWait ??= new Promise<void>((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        this.drainWait = undefined;
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
    return this.drainWait;
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };
}
