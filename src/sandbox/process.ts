import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RebalancerError } from '../errors.ts';
import { PACKAGE_ROOT } from '../package-info.ts';
import type { SandboxProcess } from './description.ts';

/**
 * The V8 old-space caps (MiB) the services run with, as their service manifests should set
 * them (`NODE_OPTIONS=--max-old-space-size=N`). Their live memory is bounded by the work in
 * flight, but uncapped V8 lets the heap grow lazily toward gigabytes before it collects: the
 * manager peaked at 409 MB RSS evacuating 100,000 objects uncapped, at 198 MB with 128.
 */
export const SERVICE_HEAP_MB = { manager: 192, agent: 64 } as const;

/** The environment that starts a service with its heap capped at `mb`. */
export function heapLimitEnv(mb: number): NodeJS.ProcessEnv {
  const inherited = process.env.NODE_OPTIONS;
  const flag = `--max-old-space-size=${mb}`;
  return { NODE_OPTIONS: inherited ? `${inherited} ${flag}` : flag };
}

export class ServiceStartError extends RebalancerError {
  override readonly name = 'ServiceStartError';
  readonly code = 'service_start_failed';
}

export interface StartedService {
  process: SandboxProcess;
  /** The `listening` record the service logged: at least `port`. */
  address: { host: string; port: number; url: string };
}

/**
 * The bundle of a service entry point (`agent/main` → dist/agent/main.js, built from
 * src/agent/main.ts by scripts/build.mjs): services run as plain JavaScript, not through tsx.
 */
export function entryPoint(entry: string): string {
  const path = join(PACKAGE_ROOT, 'dist', `${entry}.js`);
  if (!existsSync(path)) {
    throw new ServiceStartError(`${path} is missing: run \`npm run build\``);
  }
  return path;
}

/**
 * Starts a service as a detached child process whose stdout and stderr go to `log`, and waits
 * until it logs its `listening` record (every service logs one with its `port` once its socket
 * is bound, so ports can be 0 = chosen by the kernel, without races). The child outlives this
 * process (`rebalancer-sandbox up` exits; `down` stops it by pid).
 */
export async function startService(options: {
  name: string;
  entry: string;
  args: string[];
  log: string;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}): Promise<StartedService> {
  const fd = openSync(options.log, 'a');
  const child = spawn(
    process.execPath,
    [...profileFlags(options.name), options.entry, ...options.args],
    {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...options.env },
    },
  );
  closeSync(fd);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? `code ${code}`}`;
  });
  child.once('error', (err) => {
    exited = `could not start: ${err.message}`;
  });
  child.unref();

  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  while (Date.now() < deadline) {
    const address = await findListening(options.log, child.pid);
    if (address) {
      return {
        process: { name: options.name, pid: child.pid as number, log: options.log },
        address,
      };
    }
    if (exited) {
      throw new ServiceStartError(`${options.name} ${exited} before listening; see ${options.log}`);
    }
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new ServiceStartError(
    `${options.name} did not start listening in time; see ${options.log}`,
  );
}

/**
 * Where a service's start-up and work go: with SANDBOX_CPU_PROF_DIR set, the services whose
 * name starts with one of SANDBOX_CPU_PROF's comma-separated prefixes (all when unset) run
 * under V8's profiler and write a .cpuprofile there when they exit normally (SIGTERM, as
 * `down` and the demo stop them). Node refuses --cpu-prof in NODE_OPTIONS, hence this.
 */
function profileFlags(name: string): string[] {
  const dir = process.env.SANDBOX_CPU_PROF_DIR;
  if (!dir) return [];
  const prefixes = (process.env.SANDBOX_CPU_PROF ?? '').split(',').filter(Boolean);
  if (prefixes.length > 0 && !prefixes.some((p) => name.startsWith(p))) return [];
  return [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    `--cpu-prof-name=${name.replace(/\W+/g, '-')}.cpuprofile`,
  ];
}

/** `listening`, or `<service> listening`: the record every service logs once bound. */
const LISTENING_MSG = /(^| )listening$/;

async function findListening(
  log: string,
  pid: number | undefined,
): Promise<StartedService['address'] | undefined> {
  const text = await readFile(log, 'utf8');
  for (const line of text.split('\n')) {
    if (!line.includes('listening"')) continue;
    let record: ListeningRecord;
    try {
      record = JSON.parse(line);
    } catch {
      // A line that merely mentions "listening" and is not a log record (a stack trace, say).
      continue;
    }
    const isListening = typeof record.msg === 'string' && LISTENING_MSG.test(record.msg);
    if (isListening && record.pid === pid) return listeningAddress(record);
  }
  return undefined;
}

interface ListeningRecord {
  msg?: unknown;
  pid?: unknown;
  port?: unknown;
  host?: unknown;
  url?: unknown;
  address?: unknown;
}

/** Services log `port` (+ `host`), or a `url` / `address` such as `http://127.0.0.1:4001`. */
function listeningAddress(record: ListeningRecord): StartedService['address'] | undefined {
  if (typeof record.port === 'number') {
    const host = typeof record.host === 'string' ? record.host : '127.0.0.1';
    const url = typeof record.url === 'string' ? record.url : `http://${host}:${record.port}`;
    return { host, port: record.port, url };
  }
  const text = typeof record.url === 'string' ? record.url : record.address;
  if (typeof text !== 'string' || !URL.canParse(text)) return undefined;
  const url = new URL(text);
  return { host: url.hostname, port: Number(url.port), url: url.origin };
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPERM') return true;
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(pid: number, graceMs = 10_000): Promise<void> {
  if (!isRunning(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isRunning(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await sleep(50);
  }
  while (isRunning(pid)) await sleep(20);
}
