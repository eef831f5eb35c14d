/**
 * What holds a job up right now (issue 15, stalls): an agent that refuses connections or stays
 * busy, a metadata shard whose updates fail and are retried, placement finding no usable
 * destination. Each part of the pipeline reports its own trouble and clears it when the thing
 * answers again; the progress tracker names the newest when nothing has moved for a while.
 * A blocker's `source` names the agent (`agent <storage id>`), the shard (`moray shard 2`) or
 * `placement`; its `problem` says what it answers, or what is missing.
 */
import type { Blocker } from '../runner.ts';

export type { Blocker };

export class Blockers {
  private readonly current = new Map<string, Blocker>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * `source` holds the job up with `problem`. A `topic` keeps apart troubles of one source
   * that clear on different answers (an agent's connection, its busy streak); a trouble
   * already reported keeps its first `since` and takes the new wording.
   */
  report(source: string, problem: string, topic = ''): void {
    const key = keyOf(source, topic);
    const was = this.current.get(key);
    this.current.set(key, { source, problem, since: was?.since ?? this.now() });
  }

  /** `source` answered: the trouble of `topic` is over. */
  clear(source: string, topic = ''): void {
    this.current.delete(keyOf(source, topic));
  }

  /** What holds the job up now, newest first. */
  list(): Blocker[] {
    return [...this.current.values()].sort((a, b) => b.since - a.since);
  }
}

function keyOf(source: string, topic: string): string {
  return `${source}\u0000${topic}`;
}
