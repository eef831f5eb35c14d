/**
 * The benchmark's load-generator agents (load-agent.ts) in their own child process, so that
 * their CPU is neither the manager's nor the bench's: started, asked for their counters, and
 * stopped by the pid this module started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type LoadAgentStats, TOKEN_ENV } from './load-agent.ts';

const ENTRY = fileURLToPath(new URL('./load-agent.ts', import.meta.url));
const READY_TIMEOUT_MS = 60_000;

export class LoadAgentsProcess {
  private readonly waiting: ((line: string) => void)[] = [];

  private constructor(
    private readonly child: ChildProcess,
    private readonly lines: Interface,
    /** Storage id → the port its load agent listens on (127.0.0.1). */
    readonly ports: Record<string, number>,
  ) {
    lines.on('line', (line) => this.waiting.shift()?.(line));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  static async start(sharks: readonly string[], token: string): Promise<LoadAgentsProcess> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', ENTRY, '--sharks', sharks.join(',')],
      // In the environment, not the command line: not shown by ps, and never taken for an option.
      { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, [TOKEN_ENV]: token } },
    );
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(() => child.kill('SIGKILL'), READY_TIMEOUT_MS);
    try {
      const [line] = (await Promise.race([
        once(lines, 'line'),
        once(child, 'exit').then(([code, signal]) => {
          throw new Error(`the load agents exited (${signal ?? code}) before listening`);
        }),
      ])) as [string];
      const { listening } = JSON.parse(line) as { listening: Record<string, number> };
      return new LoadAgentsProcess(child, lines, listening);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Their counters so far (posts, tasks, polls, refusals). */
  async stats(): Promise<LoadAgentStats> {
    const answer = new Promise<string>((resolve) => this.waiting.push(resolve));
    this.child.stdin?.write('stats\n');
    const { stats } = JSON.parse(await answer) as { stats: LoadAgentStats };
    return stats;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    this.lines.close();
  }
}
