/**
 * One search for a shark's orphans, in the order that makes it safe:
 *   1. t0 = now; the shark's agent lists every object file (spooled to disk);
 *   2. then the live metadata is scanned (every Moray shard and buckets shard, no exclusions)
 *      for the records naming the shark: the files it must keep;
 *   3. orphans = listed − kept, and only files modified before t0 − grace.
 * Every record that exists when its file is listed is read after it, so a listed file is never
 * taken for an orphan while a live record names it; an upload whose record is not written yet
 * is younger than the grace time. What is left is a record created after its file was listed
 * and behind the scan's cursor — a file that is itself old: a snaplink made during the scan
 * (its source record, read by the scan, keeps the file), or a copy an evacuation installs on
 * this shark, which is why deleting refuses while an evacuation runs.
 */
import { FILES_PAGE_MAX, type FilesPage, type ObjectFile } from '../../api/agent-files.ts';
import type { OrphanSummary } from '../../api/orphans.ts';
import type { DiscoveryEvent } from '../../discovery/index.ts';
import { parseObjectPath } from '../../manta/index.ts';
import { AgentFilesError, type ShardFiles } from './agent-files.ts';
import { type KeptFiles, keptFiles } from './kept.ts';
import { ListingSpool } from './spool.ts';

export interface SearchDeps {
  readonly files: ShardFiles;
  /** Every record naming the shark, from every metadata shard configured, none excluded. */
  discover(shark: string, signal: AbortSignal): AsyncIterable<DiscoveryEvent>;
  readonly now?: () => number;
  /** Files per listing page (default the most the agent gives: fewer round trips). */
  readonly pageSize?: number;
}

export type SearchPhase = 'listing' | 'scanning' | 'deleting';

const DEFAULT_PAGE = FILES_PAGE_MAX;

/** The agent's order: component by component, names compared as strings. */
function comparePaths(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

export class OrphanSearch {
  phase: SearchPhase = 'listing';
  /** Files deleted so far, when the search feeds a deletion. */
  deleted = 0;
  readonly progress = { records: 0 };
  private readonly abort = new AbortController();
  private readonly listedAt: number;
  private readonly cutoff: number;
  private spool: ListingSpool | undefined;
  private firstPage: FilesPage | undefined;
  private kept: KeptFiles | undefined;
  private readonly counts = {
    listedFiles: 0,
    listedBytes: 0,
    skipped: 0,
    kept: 0,
    tooRecent: 0,
    files: 0,
    bytes: 0,
  };

  constructor(
    private readonly deps: SearchDeps,
    readonly shark: string,
    readonly graceSeconds: number,
  ) {
    this.listedAt = (deps.now ?? Date.now)();
    this.cutoff = this.listedAt - graceSeconds * 1000;
  }

  get listedFiles(): number {
    return this.counts.listedFiles;
  }

  /** Asks for the first page: an agent that cannot list fails here, before any answer. */
  async start(): Promise<void> {
    this.spool = await ListingSpool.create();
    try {
      this.firstPage = await this.page(undefined);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Lists the rest of the shark, then scans the metadata. */
  async complete(): Promise<void> {
    const spool = this.spool;
    if (spool === undefined || this.firstPage === undefined) throw new Error('search not started');
    let page: FilesPage = this.firstPage;
    for (;;) {
      const after: string | undefined = page.next;
      if (after === undefined) {
        await spool.append(page.files);
        break;
      }
      // The next page is asked for while this one is written down.
      const next: Promise<FilesPage> = this.page(after);
      next.catch(() => undefined);
      await spool.append(page.files);
      page = await next;
      if (page.next !== undefined && comparePaths(page.next, after) <= 0) {
        throw new AgentFilesError(
          this.shark,
          `listing cursor went back (${page.next} after ${after})`,
        );
      }
    }
    await spool.seal();
    this.phase = 'scanning';
    this.kept = await keptFiles(
      this.shark,
      this.deps.discover(this.shark, this.abort.signal),
      this.progress,
    );
  }

  /** Records that could not be read, once the scan is complete. */
  get unreadableRecords(): number {
    return this.kept?.unreadable ?? 0;
  }

  /** The orphans, in listing order; complete() first. */
  async *orphans(): AsyncGenerator<ObjectFile> {
    const { spool, kept } = this;
    if (spool === undefined || kept === undefined) throw new Error('search not complete');
    for await (const file of spool.files()) {
      if (kept.paths.has(file.path)) {
        this.counts.kept++;
      } else if (file.mtime >= this.cutoff) {
        this.counts.tooRecent++;
      } else {
        this.counts.files++;
        this.counts.bytes += file.size;
        yield file;
      }
    }
  }

  /** The counts so far (whole once orphans() has ended). */
  summary(): OrphanSummary {
    const c = this.counts;
    return {
      files: c.files,
      bytes: c.bytes,
      listed_files: c.listedFiles,
      listed_bytes: c.listedBytes,
      kept: c.kept,
      too_recent: c.tooRecent,
      skipped_entries: c.skipped,
      live_records: this.progress.records,
      unreadable_records: this.unreadableRecords,
      grace_seconds: this.graceSeconds,
      listed_at: new Date(this.listedAt).toISOString(),
    };
  }

  /** Stops a scan in progress and removes the spool. */
  async close(): Promise<void> {
    this.abort.abort(new Error('orphan search ended'));
    await this.spool?.remove();
  }

  private async page(after: string | undefined): Promise<FilesPage> {
    const page = await this.deps.files.listPage(
      this.shark,
      after,
      this.deps.pageSize ?? DEFAULT_PAGE,
    );
    for (const f of page.files) {
      // The agent lists only object paths; anything else would be deleted on its word alone.
      if (parseObjectPath(f.path) === undefined) {
        throw new AgentFilesError(
          this.shark,
          `listed ${JSON.stringify(f.path)}, not an object path`,
        );
      }
      this.counts.listedFiles++;
      this.counts.listedBytes += f.size;
    }
    this.counts.skipped += page.skipped;
    return page;
  }
}
