/**
 * Assignments being built, one open per destination (manager.md §4.6): objects placed on a
 * shark join its open assignment, which is stored and handed to the agents' stage when it is
 * full (`max_tasks_per_assignment`) or old (`max_assignment_age`). Reservations of objects the
 * store did not take into the assignment (already assigned before a restart) are released.
 */
import { randomUUID } from 'node:crypto';
import type { StorageNode, Task } from '../../../api/common.ts';
import type { BoundedQueue } from '../../../async/index.ts';
import type { BuiltAssignment } from './agent-lanes.ts';
import type { EvacuateContext } from './context.ts';

interface OpenAssignment {
  dest: StorageNode;
  tasks: Map<string, Task>;
  bytes: number;
  openedAt: number;
}

export class AssignmentBuilder {
  private readonly open = new Map<string, OpenAssignment>();

  constructor(
    private readonly ctx: EvacuateContext,
    private readonly out: BoundedQueue<BuiltAssignment>,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** Adds a placed object's task; a full assignment is sent on. */
  async add(dest: StorageNode, task: Task, sizeBytes: number): Promise<void> {
    let a = this.open.get(dest.manta_storage_id);
    if (!a) {
      a = { dest, tasks: new Map(), bytes: 0, openedAt: Date.now() };
      this.open.set(dest.manta_storage_id, a);
    }
    a.tasks.set(task.object_id, task);
    a.bytes += sizeBytes;
    if (a.tasks.size >= this.ctx.settings.maxTasksPerAssignment)
      await this.send(dest.manta_storage_id);
  }

  /** Sends the assignments open longer than `max_assignment_age`. */
  async sendOld(): Promise<void> {
    const maxAgeMs = this.ctx.settings.maxAssignmentAgeSec * 1000;
    const now = Date.now();
    for (const [id, a] of [...this.open]) if (now - a.openedAt >= maxAgeMs) await this.send(id);
  }

  async sendAll(): Promise<void> {
    for (const id of [...this.open.keys()]) await this.send(id);
  }

  /** Cancelled: assignments not yet built are not started; their objects stay unprocessed. */
  abandon(): void {
    for (const a of this.open.values()) this.ctx.deps.chooser.release([...a.tasks.keys()]);
    this.open.clear();
  }

  private async send(sharkId: string): Promise<void> {
    const { store, chooser } = this.ctx.deps;
    const a = this.open.get(sharkId);
    if (!a) return;
    this.open.delete(sharkId);
    const created = await store.createAssignment(this.ctx.jobId, {
      id: randomUUID(),
      destShark: a.dest.manta_storage_id,
      destDatacenter: a.dest.datacenter,
      totalBytes: a.bytes,
      objectIds: [...a.tasks.keys()],
    });
    if (!created) {
      chooser.release([...a.tasks.keys()]);
      return;
    }
    const kept = new Set(created.objectIds);
    chooser.release([...a.tasks.keys()].filter((id) => !kept.has(id)));
    this.ctx.inFlight.inTransit++;
    await this.out.push({
      record: created.assignment,
      dest: a.dest,
      tasks: [...a.tasks.values()].filter((t) => kept.has(t.object_id)),
    });
  }
}
