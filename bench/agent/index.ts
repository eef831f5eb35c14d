/**
 * Agent benchmark (`npm run bench -- agent`): a real agent process (bin/rebalancer-agent.js)
 * copies objects from a mako stand-in on loopback, beside a baseline that does the same job in
 * plain Node, at the same parallelism, in the same run (baseline-copy.ts: GET from the same
 * mako, stream through MD5 into a temp file, fsync, rename into place; no agent logic).
 * Each side runs twice, alternately (baseline, agent, baseline, agent), on two sets of
 * like objects, the agent's second run in the same process as its first; the faster run of
 * each side is compared, because the disk's pace drifts (writeback, discards of earlier runs)
 * and an agent's first assignment pays its start (directories, database, compiled code).
 * Every run's figure is printed.
 *  1. large objects (16 × 64 MiB): agent MB/s / baseline MB/s. Target ≥ 0.9.
 *  2. small objects (20,000 × 16 KiB): agent objects/s / baseline objects/s. Target ≥ 0.8.
 *     The agent's peak RSS (VmHWM) copying them: target < 150 MB. Printed, not a target: the
 *     agent's CPU per small object, and plain GETs of the same objects (baseline-get.ts), the
 *     source's ceiling for any downloader.
 * The agent gets its work as a manager gives it: assignments of 200 tasks, all posted at once.
 * Options: --parallel N (downloads at once, agent and baselines; default 16);
 * --profile DIR (V8 CPU profiles of the agents into DIR/large and DIR/small).
 * Prints a summary, then one JSON line: {"bench":"agent","figures":{...},"targets":[...]}.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { entryPoint, startService, stopProcess } from '../../src/sandbox/process.ts';
import { loopbackHttpRate } from '../support/calibrate.ts';
import { cpuSeconds, rssMb } from '../support/proc.ts';
import {
  type AgentProcess,
  agentCopies,
  runBaseline,
  type Source,
  type SourceObject,
  startAgent,
} from './processes.ts';

const { values: args } = parseArgs({
  options: { parallel: { type: 'string', default: '16' }, profile: { type: 'string' } },
});
const PARALLEL = Number(args.parallel);
const PROFILE_DIR = args.profile === undefined ? undefined : resolve(args.profile);
const MiB = 1024 * 1024;
const LARGE = { count: 16, size: 64 * MiB };
const SMALL = { count: 20_000, size: 16 * 1024 };
/** Objects spread over this many owners (directories), as in a real object store. */
const OWNERS = 20;
const TARGETS = { large: 0.9, small: 0.8, rssMb: 150 };

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

/** `count` objects of `size` bytes with distinct contents under the mako root. */
async function writeSources(
  root: string,
  owners: string[],
  count: number,
  size: number,
): Promise<SourceObject[]> {
  const data = randomBytes(size);
  const objects: SourceObject[] = [];
  for (let i = 0; i < count; i++) {
    data.writeUInt32BE(i, 0);
    const owner = owners[i % owners.length]!;
    const objectId = randomUUID();
    await writeFile(join(root, owner, objectId), data);
    objects.push({ owner, objectId, md5: createHash('md5').update(data).digest('base64') });
  }
  return objects;
}

/** Writes back dirty pages so that neither side of a comparison pays for the other's. */
function syncDisk(): void {
  execFileSync('sync');
}

const round = (n: number, digits = 1): number => Number(n.toFixed(digits));

/** The baseline copying `objects` into a directory of its own; seconds. */
async function baselineRun(
  dir: string,
  label: string,
  mako: Source,
  objects: SourceObject[],
  run: number,
): Promise<number> {
  log(`${label} objects: baseline ${run}`);
  const out = join(dir, `baseline-${label}-${run}`);
  await mkdir(out);
  const jobs = objects.map((o) => ({ ...o, url: `${mako.url}/${o.owner}/${o.objectId}` }));
  const { seconds } = await runBaseline('./baseline-copy.ts', {
    jobs,
    dir: out,
    concurrency: PARALLEL,
  });
  syncDisk();
  return seconds;
}

/**
 * Baseline and agent alternately, on each set of objects in turn (see the header); each run's
 * seconds. The agent copies into its own object root, so each set is new to it.
 */
async function alternate(
  dir: string,
  label: string,
  mako: Source,
  agent: AgentProcess,
  sets: SourceObject[][],
): Promise<{ baseline: number[]; agent: number[] }> {
  const runs = { baseline: [] as number[], agent: [] as number[] };
  for (const [i, objects] of sets.entries()) {
    runs.baseline.push(await baselineRun(dir, label, mako, objects, i + 1));
    log(`${label} objects: agent ${i + 1}`);
    runs.agent.push(await agentCopies(agent, mako, objects));
    syncDisk();
  }
  return runs;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-bench-'));
  const root = join(dir, 'source');
  await mkdir(root);
  const makoService = await startService({
    name: 'mako',
    entry: entryPoint('sandbox/mako/main'),
    args: ['--root', root, '--port', '0', '--keep-alive', '--no-content-md5'],
    log: join(dir, 'mako.log'),
  });
  const { host, port, url } = makoService.address;
  const mako: Source = { root, url, storageId: `${host}:${port}` };
  const figures: Record<string, number> = {
    parallel: PARALLEL,
    // The machine's pace at what a mako and an agent do most (bench/support/calibrate.ts).
    yardstick_loopback_http_per_s: round(await loopbackHttpRate()),
  };
  const launch = (name: string) => ({
    dir: join(dir, name),
    parallel: PARALLEL,
    profileDir: PROFILE_DIR === undefined ? undefined : join(PROFILE_DIR, name),
  });
  let agent: AgentProcess | undefined;
  try {
    const owners = Array.from({ length: OWNERS }, () => randomUUID());
    for (const owner of owners) await mkdir(join(mako.root, owner), { recursive: true });
    log(`writing 2 × ${LARGE.count} × 64 MiB and 2 × ${SMALL.count} × 16 KiB source objects`);
    const large = [
      await writeSources(mako.root, owners, LARGE.count, LARGE.size),
      await writeSources(mako.root, owners, LARGE.count, LARGE.size),
    ];
    const small = [
      await writeSources(mako.root, owners, SMALL.count, SMALL.size),
      await writeSources(mako.root, owners, SMALL.count, SMALL.size),
    ];
    syncDisk();

    // Nothing is deleted until the end: freeing extents (discard) slows the fsyncs that follow.
    agent = await startAgent(launch('large'));
    const largeMb = (LARGE.count * LARGE.size) / MiB;
    const largeRuns = await alternate(dir, 'large', mako, agent, large);
    largeRuns.baseline.forEach((sec, i) => {
      figures[`large_baseline_run${i + 1}_mb_per_s`] = round(largeMb / sec);
    });
    largeRuns.agent.forEach((sec, i) => {
      figures[`large_agent_run${i + 1}_mb_per_s`] = round(largeMb / sec);
    });
    figures.large_baseline_mb_per_s = round(largeMb / Math.min(...largeRuns.baseline));
    figures.large_agent_mb_per_s = round(largeMb / Math.min(...largeRuns.agent));
    figures.large_ratio = round(figures.large_agent_mb_per_s / figures.large_baseline_mb_per_s, 3);
    figures.agent_large_peak_rss_mb = round(rssMb(agent.pid));
    // A fresh agent for the small objects: its peak RSS is theirs alone.
    await agent.stop();
    agent = await startAgent(launch('small'));

    // Not a target: how fast the source alone serves these objects (no disk, no hashing), the
    // ceiling for any downloader on this machine.
    log('small objects: source GET rate');
    const smallGets = await runBaseline('./baseline-get.ts', {
      urls: small[0]!.map((o) => `${mako.url}/${o.owner}/${o.objectId}`),
      concurrency: PARALLEL,
    });
    figures.small_source_gets_per_s = round(SMALL.count / smallGets.seconds);
    const cpuBefore = cpuSeconds(agent.pid);
    const smallRuns = await alternate(dir, 'small', mako, agent, small);
    // The agent's CPU over both of its runs (the baselines ran in processes of their own).
    figures.small_agent_cpu_us_per_object = round(
      ((cpuSeconds(agent.pid) - cpuBefore) / (2 * SMALL.count)) * 1e6,
      0,
    );
    smallRuns.baseline.forEach((sec, i) => {
      figures[`small_baseline_run${i + 1}_objects_per_s`] = round(SMALL.count / sec);
    });
    smallRuns.agent.forEach((sec, i) => {
      figures[`small_agent_run${i + 1}_objects_per_s`] = round(SMALL.count / sec);
    });
    figures.small_baseline_objects_per_s = round(SMALL.count / Math.min(...smallRuns.baseline));
    figures.small_agent_objects_per_s = round(SMALL.count / Math.min(...smallRuns.agent));
    figures.small_ratio = round(
      figures.small_agent_objects_per_s / figures.small_baseline_objects_per_s,
      3,
    );
    figures.small_agent_vs_source_ratio = round(
      figures.small_agent_objects_per_s / figures.small_source_gets_per_s,
      3,
    );
    figures.agent_small_peak_rss_mb = round(rssMb(agent.pid));
  } finally {
    await agent?.stop();
    await stopProcess(makoService.process.pid);
    await rm(dir, { recursive: true, force: true });
  }

  const targets = [
    {
      name: 'large objects: agent MB/s / baseline (GET + MD5 + temp file + fsync + rename)',
      value: figures.large_ratio!,
      target: TARGETS.large,
      met: figures.large_ratio! >= TARGETS.large,
    },
    {
      name: 'small objects: agent objects/s / baseline (GET + MD5 + temp file + fsync + rename)',
      value: figures.small_ratio!,
      target: TARGETS.small,
      met: figures.small_ratio! >= TARGETS.small,
    },
    {
      name: 'agent peak RSS copying the small objects (MB)',
      value: figures.agent_small_peak_rss_mb!,
      target: TARGETS.rssMb,
      met: figures.agent_small_peak_rss_mb! < TARGETS.rssMb,
    },
  ];
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k.padEnd(34)} ${v}\n`);
  for (const t of targets) {
    process.stdout.write(`${t.met ? 'MET ' : 'MISS'} ${t.name}: ${t.value} (target ${t.target})\n`);
  }
  if (PROFILE_DIR !== undefined) process.stdout.write(`agent CPU profiles in ${PROFILE_DIR}\n`);
  process.stdout.write(`${JSON.stringify({ bench: 'agent', figures, targets })}\n`);
}

await main();
