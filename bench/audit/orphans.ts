/**
 * Orphan listing benchmark (issue 16): a shark's object tree of as many files as this machine
 * creates in about two minutes (at most 1,000,000), laid out as Manta does — v1 files in a few
 * owners' directories of many thousands each, v2 files under owner/bucket/prefix — listed
 *   1. by a plain recursive directory walk (readdir + lstat of every file, synchronous: the
 *      fastest a single Node process walks a tree), and
 *   2. through a real agent process (bin/rebalancer-agent.js, its heap capped as deployed) and
 *      its `GET /files` route, paged as the manager pages it, every page checked against the
 *      route's schema by the manager's own client.
 * Each side runs three times, alternately, on the warm tree (a shared machine's load comes and
 * goes); the fastest run of each is compared.
 * Target: the route lists at least 0.5 of the walk's files per second. Also reported: the
 * agent's peak RSS over the listing, and `find -printf` for reference.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FILES_PAGE_MAX } from '../../src/api/agent-files.ts';
import { AgentFilesClient } from '../../src/manager/orphans/agent-files.ts';
import { objectNameHash } from '../../src/manta/index.ts';
import {
  entryPoint,
  heapLimitEnv,
  SERVICE_HEAP_MB,
  startService,
  stopProcess,
} from '../../src/sandbox/process.ts';
import { rssMb } from '../support/proc.ts';

export interface OrphanBenchOptions {
  /** Files at most (default 1,000,000, the issue's figure). */
  maxFiles?: number;
  /** Seconds of file creation at most (default 120). */
  createSeconds?: number;
  log?: (line: string) => void;
}

const V1_OWNERS = 4;
const V2_BUCKETS = 2;
const TOKEN = 'orphan-bench-token-0123456789';
const PAGE = FILES_PAGE_MAX;
const ROUNDS = 3;

/** Creates the tree; returns how many files it holds. */
function createTree(root: string, maxFiles: number, seconds: number): number {
  const v1 = Array.from({ length: V1_OWNERS }, () => join(root, randomUUID()));
  for (const dir of v1) mkdirSync(dir, { recursive: true });
  const v2Owner = randomUUID();
  const buckets = Array.from({ length: V2_BUCKETS }, () => randomUUID());
  const made = new Set<string>();
  const deadline = performance.now() + seconds * 1000;
  let n = 0;
  while (n < maxFiles && (n % 1000 !== 0 || performance.now() < deadline)) {
    const id = randomUUID();
    let file: string;
    // Seven in ten v1, as on a shark with a buckets tier beside the directory API.
    if (n % 10 < 7) {
      file = join(v1[n % V1_OWNERS] as string, id);
    } else {
      const dir = join(root, 'v2', v2Owner, buckets[n % V2_BUCKETS] as string, id.slice(0, 2));
      if (!made.has(dir)) {
        mkdirSync(dir, { recursive: true });
        made.add(dir);
      }
      file = join(dir, `${id},${objectNameHash(`name-${n}`)}`);
    }
    closeSync(openSync(file, 'w'));
    n++;
  }
  return n;
}

/** The plain walk: every file's size and mtime, as the route gives them. */
function plainWalk(dir: string): number {
  let files = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files += plainWalk(path);
    else if (entry.isFile()) {
      const s = lstatSync(path);
      if (s.size >= 0 && s.mtimeMs > 0) files++;
    }
  }
  return files;
}

function timed<T>(run: () => T): { value: T; seconds: number } {
  const started = performance.now();
  const value = run();
  return { value, seconds: (performance.now() - started) / 1000 };
}

async function timedAsync<T>(run: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await run();
  return { value, seconds: (performance.now() - started) / 1000 };
}

function findRate(root: string, files: number): number | undefined {
  try {
    const { seconds } = timed(() =>
      execFileSync('find', [root, '-type', 'f', '-printf', '%s %T@ %p\n'], {
        maxBuffer: 1024 ** 3,
      }),
    );
    return files / seconds;
  } catch {
    return undefined;
  }
}

export async function measureOrphans(options: OrphanBenchOptions = {}): Promise<{
  figures: Record<string, number | string>;
  targets: { name: string; value: number; target: number; met: boolean }[];
}> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = await mkdtemp(join(tmpdir(), 'bench-orphans-'));
  const root = join(dir, 'manta');
  let agentPid: number | undefined;
  try {
    const created = timed(() =>
      createTree(root, options.maxFiles ?? 1_000_000, options.createSeconds ?? 120),
    );
    const files = created.value;
    log(`orphans: ${files} files created in ${created.seconds.toFixed(1)} s`);
    execFileSync('sync');

    const config = join(dir, 'agent.json');
    await writeFile(
      config,
      JSON.stringify({
        server: {
          host: '127.0.0.1',
          port: 0,
          object_root: root,
          state_dir: join(dir, 'state'),
          auth_token: TOKEN,
        },
        metrics: { enabled: false },
      }),
    );
    const agent = await startService({
      name: 'bench agent',
      entry: entryPoint('agent/main'),
      args: ['--config', config],
      env: {
        ...heapLimitEnv(SERVICE_HEAP_MB.agent),
        UV_THREADPOOL_SIZE: '32',
      },
      log: join(dir, 'agent.log'),
    });
    agentPid = agent.process.pid;
    const client = new AgentFilesClient({
      urlFor: () => agent.address.url,
      authToken: () => TOKEN,
    });
    const viaRoute = async (): Promise<number> => {
      let listed = 0;
      let after: string | undefined;
      do {
        const page = await client.listPage('1.stor.bench', after, PAGE);
        listed += page.files.length;
        after = page.next;
      } while (after !== undefined);
      return listed;
    };

    const walks: number[] = [];
    const routes: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const walk = timed(() => plainWalk(root));
      if (walk.value !== files) throw new Error(`the walk found ${walk.value} of ${files} files`);
      walks.push(files / walk.seconds);
      const route = await timedAsync(viaRoute);
      if (route.value !== files) throw new Error(`the route listed ${route.value} of ${files}`);
      routes.push(files / route.seconds);
      log(
        `orphans round ${round}: walk ${Math.round(walks.at(-1) ?? 0)} files/s, route ${Math.round(routes.at(-1) ?? 0)} files/s`,
      );
    }
    const peakRss = rssMb(agentPid);
    await client.close();
    const walkRate = Math.max(...walks);
    const routeRate = Math.max(...routes);
    const find = findRate(root, files);
    const ratio = routeRate / walkRate;
    return {
      figures: {
        orphan_files: files,
        orphan_tree: `${V1_OWNERS} v1 owner dirs of ~${Math.round((files * 0.7) / V1_OWNERS)} files, v2 in ${V2_BUCKETS} buckets x 256 prefixes`,
        orphan_create_seconds: Math.round(created.seconds * 10) / 10,
        orphan_walk_files_per_second: Math.round(walkRate),
        orphan_route_files_per_second: Math.round(routeRate),
        orphan_route_vs_walk: Math.round(ratio * 100) / 100,
        ...(find === undefined ? {} : { orphan_find_files_per_second: Math.round(find) }),
        orphan_agent_peak_rss_mb: Math.round(peakRss),
        // Runnable processes per core over the last minute: the route needs two processes
        // scheduled in turn, the walk one, so a busy machine costs the route more.
        orphan_load_per_core: Math.round(((loadavg()[0] ?? 0) / cpus().length) * 100) / 100,
      },
      targets: [
        {
          name: 'orphan listing through the agent route vs a plain directory walk',
          value: Math.round(ratio * 100) / 100,
          target: 0.5,
          met: ratio >= 0.5,
        },
      ],
    };
  } finally {
    if (agentPid !== undefined) await stopProcess(agentPid);
    await rm(dir, { recursive: true, force: true });
  }
}
