/**
 * A job's data without SQL (issue 19): `job objects` (the runbook's psql queries: a job's
 * errors, its skips by reason, under a key prefix), `job export` (every object as JSON lines,
 * the runbook's pg_dump before clean-up) and `job delete`. Each follows `GET
 * /jobs/{uuid}/objects` page by page, so memory stays bounded whatever the job's size.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  JOB_OBJECT_STATUSES,
  JOB_OBJECTS_MAX_PAGE,
  type JobObjectEntry,
} from '../api/job-objects.ts';
import { type AdmGlobals, AdmRequestError, ManagerClient } from './client.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuid(value: string): string {
  if (!UUID.test(value)) throw new InvalidArgumentError(`not a job UUID: ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

function positive(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < 1 || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError('a whole number of objects, at least 1');
  }
  return n;
}

interface Filters {
  status?: string;
  reason?: string;
  keyPrefix?: string;
}

/** The job's objects page by page (at most `limit` in all), in id order. */
async function* pages(
  client: ManagerClient,
  id: string,
  filters: Filters,
  limit = Number.POSITIVE_INFINITY,
): AsyncGenerator<JobObjectEntry[]> {
  const query: Record<string, string> = {
    ...(filters.status === undefined ? {} : { status: filters.status }),
    ...(filters.reason === undefined ? {} : { reason: filters.reason }),
    ...(filters.keyPrefix === undefined ? {} : { key_prefix: filters.keyPrefix }),
  };
  let left = limit;
  let after: string | null = null;
  do {
    const size = Math.min(left, JOB_OBJECTS_MAX_PAGE);
    const page = await client.objects(id, {
      ...query,
      ...(after === null ? {} : { after }),
      limit: String(size),
    });
    left -= page.objects.length;
    yield page.objects;
    after = page.next;
  } while (after !== null && left > 0);
}

/** Every object of the job as JSON lines to `out`; stops at the first `failed()` error. */
async function exportTo(
  out: Writable,
  client: ManagerClient,
  id: string,
  failed: () => Error | undefined = () => undefined,
): Promise<number> {
  let n = 0;
  for await (const page of pages(client, id, {})) {
    const err = failed();
    if (err !== undefined) throw err;
    n += page.length;
    await write(out, page.map((o) => `${JSON.stringify(o)}\n`).join(''));
  }
  return n;
}

/** Writes with backpressure: a huge export never piles up in memory. */
async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

const HEADER = `${'ID'.padEnd(38)}${'STATUS'.padEnd(17)}${'REASON'.padEnd(32)}${'SHARD'.padEnd(8)}KEY`;

function row(o: JobObjectEntry): string {
  const detail = o.detail === null ? '' : ` (${o.detail})`;
  const shard = `${o.tier}/${o.shard}`;
  return `${o.id.padEnd(38)}${o.status.padEnd(17)}${(o.reason ?? '').padEnd(32)}${shard.padEnd(8)}${o.key}${detail}\n`;
}

/** `job objects`, `job export`, `job delete`, under `job`. */
export function registerJobDataCommands(job: Command, globals: AdmGlobals): void {
  const client = () => new ManagerClient(globals.url(), undefined, globals.token());

  job
    .command('objects')
    .description("List a job's objects, by id: its errors, its skips by reason, under a key prefix")
    .argument('<uuid>', 'job UUID', uuid)
    .addOption(
      new Option('--status <status>', 'only objects in this status').choices(JOB_OBJECT_STATUSES),
    )
    .option('--reason <reason>', 'only objects skipped with this reason, or errored with this code')
    .option('--key-prefix <prefix>', 'only objects whose key starts with this')
    .addOption(
      new Option('--limit <n>', 'at most this many objects (default: all)').argParser(positive),
    )
    .action(async (id: string, opts: Filters & { limit?: number }) => {
      const json = globals.json();
      let n = 0;
      for await (const page of pages(client(), id, opts, opts.limit)) {
        if (!json && n === 0 && page.length > 0) await write(process.stdout, `${HEADER}\n`);
        n += page.length;
        const text = page.map((o) => (json ? `${JSON.stringify(o)}\n` : row(o))).join('');
        await write(process.stdout, text);
      }
      if (!json) await write(process.stdout, n === 0 ? 'No objects.\n' : `${n} objects\n`);
    });

  job
    .command('export')
    .description('Write every object of a job as JSON lines (to keep before `job delete`)')
    .argument('<uuid>', 'job UUID', uuid)
    .option('-o, --output <file>', 'write to this file (whole or not at all) instead of stdout')
    .action(async (id: string, opts: { output?: string }) => {
      const target = opts.output;
      const report = (n: number, to: string) =>
        process.stderr.write(`Exported ${n} objects of job ${id} to ${to}\n`);
      if (target === undefined) {
        report(await exportTo(process.stdout, client(), id), 'stdout');
        return;
      }
      // Written aside and renamed into place: a file that exists holds the whole job.
      const partial = `${target}.partial-${process.pid}`;
      const file = createWriteStream(partial);
      let failure: Error | undefined;
      file.on('error', (err) => {
        failure ??= err;
      });
      try {
        const n = await exportTo(file, client(), id, () => failure);
        file.end();
        await finished(file);
        await rename(partial, target);
        report(n, target);
      } catch (err) {
        file.destroy();
        await rm(partial, { force: true });
        if (err instanceof AdmRequestError) throw err;
        process.stderr.write(
          `Error: cannot write ${target}: ${(failure ?? (err as Error)).message}\n`,
        );
        process.exitCode = 1;
      }
    });

  job
    .command('delete')
    .description('Delete a finished job and all its data from the manager (export it first)')
    .argument('<uuid>', 'job UUID', uuid)
    .action(async (id: string) => {
      const deleted = await client().deleteJob(id);
      process.stdout.write(
        globals.json()
          ? `${JSON.stringify(deleted)}\n`
          : `Job ${deleted.deleted} deleted with its ${deleted.objects} objects\n`,
      );
    });
}
