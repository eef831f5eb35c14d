/**
 * `rebalancer-adm shark audit <storage_id>`: is it safe to remove the shark? It creates an
 * audit job on the manager, follows it (progress on stderr when that is a terminal) and
 * prints the verdict line first — exactly `safe to remove: yes` or `safe to remove: no` — then
 * the counts and the unsafe objects (the first page; the rest through `GET /sharks/{id}/audit`).
 * Exit status: 0 only for yes, 1 for no, 2 when the audit could not say (a usage error, the
 * manager unreachable, the scan failed or was cancelled).
 */
import { type Command, CommanderError, InvalidArgumentError } from 'commander';
import type { AuditReport } from '../api/audit.ts';
import { RouteContract, routePath } from '../api/http-routes.ts';
import { FINAL_JOB_STATE_NAMES, type JobStateName, type JobStatus } from '../api/manager.ts';
import { managerRoutes } from '../api/manager-routes.ts';
import { sleep } from '../async/index.ts';
import {
  type AdmGlobals,
  AdmRequestError,
  AdmResponseError,
  authHeaders,
  ManagerClient,
  statusError,
} from './client.ts';
import { count } from './units.ts';

/** What a script reads from `--json`. */
interface AuditOutcome {
  safe_to_remove: boolean;
  job_id: string;
  job_state: JobStateName;
  error?: string;
  audit: AuditReport | null;
}

const AUDIT_EXIT = { safe: 0, unsafe: 1, error: 2 } as const;

const createJob = new RouteContract(managerRoutes.createJob);
const POLL_MS = 1000;

/** `POST /jobs {"action": "audit"}`: the new job's id. */
async function createAudit(
  baseUrl: string,
  token: string | undefined,
  shark: string,
  deep: boolean,
): Promise<string> {
  const url = `${baseUrl.replace(/\/+$/, '')}${routePath(managerRoutes.createJob)}`;
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: 'POST',
      body: JSON.stringify({ action: 'audit', params: { shark, ...(deep ? { deep } : {}) } }),
      headers: { ...authHeaders(token), 'content-type': 'application/json' },
      signal: AbortSignal.timeout(60_000),
    });
    text = await res.text();
  } catch (err) {
    throw new AdmRequestError(
      `Request failed: POST ${url}: ${(err as Error).message}`,
      undefined,
      'transport',
      { cause: err },
    );
  }
  if (!res.ok) {
    const answer = createJob.declares(res.status) ? createJob.check(res.status, text) : undefined;
    const body = answer?.ok ? answer.value : undefined;
    const message = typeof body === 'object' ? body.message : text;
    throw statusError(res.status, message);
  }
  const answer = createJob.checkSuccess(res.status, text);
  if (!answer.ok) {
    throw new AdmResponseError(
      createJob.route.operationId,
      answer.mismatch,
      res.status,
      `Server response to ${createJob.name} does not match its schema: ${answer.mismatch.message}`,
    );
  }
  return answer.value.trim();
}

/** Follows the job to its end, drawing its progress on `progress` when it is a terminal. */
async function follow(
  client: ManagerClient,
  id: string,
  progress: NodeJS.WriteStream,
): Promise<JobStatus> {
  for (;;) {
    const status = await client.get(id);
    const final = FINAL_JOB_STATE_NAMES.includes(status.state);
    if (progress.isTTY) {
      const a = status.audit;
      const line = a
        ? `auditing ${a.shark}: ${count(a.scanned.objects)} objects scanned, ${count(a.safe)} safe, ${count(a.unsafe.total)} unsafe`
        : `audit ${id}: ${status.state}`;
      progress.write(`\r\x1b[K${final ? '' : line}`);
    }
    if (final) return status;
    await sleep(POLL_MS);
  }
}

/** The verdict line, then the counts and the unsafe objects of the report's page. */
export function formatAudit(outcome: AuditOutcome): string {
  const a = outcome.audit;
  const lines = [`safe to remove: ${outcome.safe_to_remove ? 'yes' : 'no'}`];
  if (a === null) {
    lines.push(
      `audit ${outcome.job_id}: ${outcome.job_state}${outcome.error ? `: ${outcome.error}` : ''}`,
    );
    return `${lines.join('\n')}\n`;
  }
  lines.push(
    `shark ${a.shark}, audit ${a.job_id} (${a.deep ? 'deep: MD5 of every other copy' : 'HEAD of the other copies'}), ${a.state}${outcome.error ? `: ${outcome.error}` : ''}`,
    `objects scanned: ${count(a.scanned.objects)} (v1 ${count(a.scanned.v1)}, v2 ${count(a.scanned.v2)})`,
    `safe:            ${count(a.safe)}`,
    `unsafe:          ${count(a.unsafe.total)}`,
    ...Object.entries(a.unsafe.by_reason).map(
      ([reason, n]) => `  ${`${reason}:`.padEnd(26)}${count(n)}`,
    ),
  );
  if (a.unsafe_objects.length > 0) {
    const width = Math.max(3, ...a.unsafe_objects.map((o) => o.key.length)) + 2;
    lines.push('', `${'KEY'.padEnd(width)}TIER  SHARD  REASON`);
    for (const o of a.unsafe_objects) {
      lines.push(
        `${o.key.padEnd(width)}${o.tier.padEnd(6)}${String(o.shard).padEnd(7)}${o.reason}`,
      );
    }
    const more = a.unsafe.total - a.unsafe_objects.length;
    if (more > 0) {
      lines.push(
        `and ${count(more)} more (GET /sharks/${a.shark}/audit?job=${a.job_id}&after=<last key>)`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function outcomeOf(id: string, status: JobStatus): AuditOutcome {
  const audit = status.audit ?? null;
  return {
    safe_to_remove: status.state === 'Complete' && audit?.verdict === 'safe',
    job_id: id,
    job_state: status.state,
    ...(status.error === undefined ? {} : { error: status.error }),
    audit,
  };
}

function storageId(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('the storage id must not be empty');
  return value;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function jobId(value: string): string {
  if (!UUID.test(value)) throw new InvalidArgumentError(`not a job UUID: ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

/** Adds `shark audit` to the program; `globals` reads the program's global options. */
export function registerSharkCommands(program: Command, globals: AdmGlobals): void {
  // Usage errors of these commands exit 2: 1 means "not safe" to a script.
  const usage2 = (err: CommanderError) => {
    throw err.exitCode === 0 ? err : new CommanderError(AUDIT_EXIT.error, err.code, err.message);
  };
  const shark = program
    .command('shark')
    .description('Storage node operations')
    .exitOverride(usage2);
  shark.action(() => shark.help({ error: true }));
  shark
    .command('audit')
    .description(
      'Is it safe to remove the shark? Checks that every object naming it has another copy that exists; exits 0 only when safe',
    )
    .argument('<storage_id>', 'storage id or short name of the shark', storageId)
    .option('--deep', 'read every other copy and compare its MD5 (default: HEAD, size only)')
    .option('--no-wait', 'print the audit job id and return without waiting for the verdict')
    .option('--job <uuid>', 'follow the audit job <uuid> instead of starting one', jobId)
    .exitOverride(usage2)
    .action(async (name: string, opts: { deep?: boolean; wait: boolean; job?: string }) => {
      const out = (text: string) => process.stdout.write(text);
      try {
        const id =
          opts.job ?? (await createAudit(globals.url(), globals.token(), name, opts.deep === true));
        if (!opts.wait) {
          out(globals.json() ? `${JSON.stringify({ id })}\n` : `Audit job created: ${id}\n`);
          return;
        }
        const status = await follow(
          new ManagerClient(globals.url(), undefined, globals.token()),
          id,
          process.stderr,
        );
        const outcome = outcomeOf(id, status);
        out(globals.json() ? `${JSON.stringify(outcome, null, 2)}\n` : formatAudit(outcome));
        const decided = status.state === 'Complete' && outcome.audit?.verdict !== null;
        process.exitCode = outcome.safe_to_remove
          ? AUDIT_EXIT.safe
          : decided
            ? AUDIT_EXIT.unsafe
            : AUDIT_EXIT.error;
      } catch (err) {
        if (!(err instanceof AdmRequestError)) throw err;
        process.stderr.write(`Error: ${err.message}\n`);
        process.exitCode = AUDIT_EXIT.error;
      }
    });
}
