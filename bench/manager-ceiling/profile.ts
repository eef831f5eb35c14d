/**
 * `--cpu-prof <dir>`: the manager runs with V8's sampling profiler (preloaded by
 * cpu-profiler.mjs), which writes a .cpuprofile into <dir> when the manager exits (the fixture
 * stops it gracefully).
 * summarizeProfile reads it and lists where the manager's CPU went: self time by function and
 * by source file, so a run says which code to make cheaper per object.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const PRELOAD = fileURLToPath(new URL('./cpu-profiler.mjs', import.meta.url));

/** The environment that makes a Node process write its CPU profile into `dir` at exit. */
export function cpuProfileEnv(dir: string): { nodeOptions: string; env: NodeJS.ProcessEnv } {
  return { nodeOptions: `--import ${PRELOAD}`, env: { MANAGER_CPU_PROF_DIR: dir } };
}

/** The newest .cpuprofile in `dir`, or undefined. */
export async function findProfile(dir: string): Promise<string | undefined> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
  const last = files[files.length - 1];
  return last === undefined ? undefined : join(dir, last);
}

const short = (url: string): string => {
  const path = url.replace(/^file:\/\//, '');
  if (path === '') return '(native)';
  const nm = path.lastIndexOf('node_modules/');
  return nm >= 0 ? path.slice(nm + 'node_modules/'.length) : relative(process.cwd(), path);
};

/** Human-readable lines: the top functions and files by self time, in % of all samples. */
export async function summarizeProfile(path: string, top = 25): Promise<string[]> {
  const profile = JSON.parse(await readFile(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const file = short(frame.url);
    const fn = `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
    files.set(file, (files.get(file) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => `${((100 * us) / Math.max(1, busy)).toFixed(1)}%`;
  const ranked = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    `manager CPU profile ${path}: ${(busy / 1e6).toFixed(1)} s on the JS thread sampled (idle ${(idle / 1e6).toFixed(1)} s); self time, % of busy:`,
    ...ranked(functions).map(([fn, us]) => `    ${pct(us).padStart(6)}  ${fn}`),
    '  by file:',
    ...ranked(files).map(([file, us]) => `    ${pct(us).padStart(6)}  ${file}`),
  ];
}
