/**
 * `rebalancer-adm shark orphans <storage_id>`: the files left on a shark's mako that no live
 * metadata names any more (the copies an evacuation moved away), counted with their bytes and
 * listed to a file; with `--delete`, deleted — which the manager refuses unless the shark's
 * latest audit says safe. The manager streams NDJSON (src/api/orphans.ts); every line is
 * checked against its schema, and the list file is renamed into place only once the final
 * summary arrived, so a file that exists is a whole listing.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { RouteContract, type RouteDecl, routePath } from '../api/http-routes.ts';
import { managerRoutes } from '../api/manager-routes.ts';
import {
  DEFAULT_GRACE_SECONDS,
  type DeleteSummary,
  MAX_GRACE_SECONDS,
  OrphanDeleteLine,
  OrphanListLine,
  type OrphanSummary,
} from '../api/orphans.ts';
import { type AdmGlobals, AdmRequestError, authHeaders, statusError } from './client.ts';
import { count, humanBytes } from './units.ts';

type Format = 'paths' | 'ndjson';

interface Options {
  output?: string;
  graceSeconds: number;
  delete?: boolean;
  format: Format;
}

function grace(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n > MAX_GRACE_SECONDS) {
    throw new InvalidArgumentError(`an integer in 0..${MAX_GRACE_SECONDS}`);
  }
  return n;
}

type Line = Record<string, unknown>;

/** The body's lines, each checked against `schema`, as they arrive. */
async function* lines(body: ReadableStream<Uint8Array>, schema: TSchema): AsyncGenerator<Line> {
  const check = Compile(schema);
  let rest = '';
  const decoder = new TextDecoder();
  const parse = (text: string): Line => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new AdmRequestError(`the manager sent a line that is not JSON: ${text.slice(0, 200)}`);
    }
    if (!check.Check(value)) {
      throw new AdmRequestError(`the manager sent an unexpected line: ${text.slice(0, 200)}`);
    }
    return value as Line;
  };
  for await (const chunk of body) {
    rest += decoder.decode(chunk, { stream: true });
    let nl = rest.indexOf('\n');
    while (nl >= 0) {
      const text = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (text !== '') yield parse(text);
      nl = rest.indexOf('\n');
    }
  }
  if (rest.trim() !== '') yield parse(rest);
}

/** The request; an error status is an AdmRequestError with the manager's message. */
async function open(url: string, route: RouteDecl, init: RequestInit): Promise<ReadableStream> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new AdmRequestError(`Request failed: ${route.method} ${url}: ${(err as Error).message}`);
  }
  if (!res.ok || res.body === null) {
    const text = await res.text().catch(() => '');
    const contract = new RouteContract(route);
    const answer = contract.declares(res.status) ? contract.check(res.status, text) : undefined;
    const body = answer?.ok ? (answer.value as { message?: unknown }) : undefined;
    const message = typeof body?.message === 'string' ? body.message : text;
    throw statusError(res.status, message);
  }
  return res.body;
}

/** A list file written under a temporary name, renamed into place by `commit`. */
class ListFile {
  private readonly temp: string;
  private readonly stream: WriteStream;

  constructor(readonly path: string) {
    this.temp = `${path}.${process.pid}.partial`;
    this.stream = createWriteStream(this.temp);
  }

  async write(text: string): Promise<void> {
    if (!this.stream.write(text)) {
      await new Promise<void>((resolve) => this.stream.once('drain', () => resolve()));
    }
  }

  private async end(): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }

  async commit(): Promise<void> {
    await this.end();
    await rename(this.temp, this.path);
  }

  async discard(): Promise<void> {
    await this.end().catch(() => undefined);
    await rm(this.temp, { force: true });
  }
}

function progressLine(p: Line, json: boolean): string {
  const { phase, listed_files, live_records, deleted } = p as Record<string, number | string>;
  if (json) return `${JSON.stringify({ progress: p })}\n`;
  return `${phase}: ${count(Number(listed_files))} files listed, ${count(Number(live_records))} live records read${phase === 'deleting' ? `, ${count(Number(deleted))} deleted` : ''}\n`;
}

function formatSummary(shark: string, s: OrphanSummary | DeleteSummary, file: string): string {
  const out = [
    `orphans on ${shark}: ${count(s.files)} files, ${humanBytes(s.bytes)}`,
    `  listed:        ${count(s.listed_files)} files, ${humanBytes(s.listed_bytes)} (at ${s.listed_at})`,
    `  kept:          ${count(s.kept)} (named by ${count(s.live_records)} live records)`,
    `  too recent:    ${count(s.too_recent)} (modified within ${s.grace_seconds} s of the listing)`,
    `  not objects:   ${count(s.skipped_entries)} entries skipped`,
  ];
  if (s.unreadable_records > 0) out.push(`  unreadable:    ${count(s.unreadable_records)} records`);
  if ('deleted' in s) {
    out.push(
      `deleted: ${count(s.deleted)} files, ${humanBytes(s.deleted_bytes)}; already gone ${count(s.absent)}, changed since listed ${count(s.changed)}, failed ${count(s.failed)}`,
    );
  }
  out.push(`list: ${file}`);
  return `${out.join('\n')}\n`;
}

async function run(shark: string, opts: Options, globals: AdmGlobals): Promise<void> {
  const base = globals.url().replace(/\/+$/, '');
  const route = opts.delete ? managerRoutes.deleteOrphans : managerRoutes.listOrphans;
  const url = `${base}${routePath(route, { id: shark })}`;
  const body = await (opts.delete
    ? open(url, route, {
        method: 'POST',
        headers: { ...authHeaders(globals.token()), 'content-type': 'application/json' },
        body: JSON.stringify({ grace_seconds: opts.graceSeconds }),
      })
    : open(`${url}?grace_seconds=${opts.graceSeconds}`, route, {
        method: 'GET',
        headers: authHeaders(globals.token()),
      }));
  const file = new ListFile(opts.output ?? `orphans-${shark}.txt`);
  const progress = process.stderr;
  try {
    let summary: OrphanSummary | DeleteSummary | undefined;
    for await (const line of lines(body, opts.delete ? OrphanDeleteLine : OrphanListLine)) {
      if ('error' in line) {
        const { code, message } = line.error as { code: string; message: string };
        throw new AdmRequestError(`${code}: ${message}`);
      }
      if ('progress' in line) progress.write(progressLine(line.progress as Line, globals.json()));
      else if ('summary' in line) summary = line.summary as OrphanSummary | DeleteSummary;
      else if (opts.format === 'ndjson') await file.write(`${JSON.stringify(line)}\n`);
      // A deletion's list is what was deleted.
      else if (!opts.delete || line.outcome === 'deleted')
        await file.write(`${String(line.path)}\n`);
    }
    if (summary === undefined) throw new AdmRequestError('the answer ended before its summary');
    await file.commit();
    process.stdout.write(
      globals.json()
        ? `${JSON.stringify({ shark, list: file.path, ...summary }, null, 2)}\n`
        : formatSummary(shark, summary, file.path),
    );
    if ('failed' in summary && summary.failed > 0) process.exitCode = 1;
  } catch (err) {
    await file.discard();
    throw err;
  }
}

/** Adds `orphans` to the `shark` command group (made here when it does not exist yet). */
export function registerOrphansCommand(program: Command, globals: AdmGlobals): void {
  const shark =
    program.commands.find((c) => c.name() === 'shark') ??
    program.command('shark').description('Storage node operations');
  shark
    .command('orphans')
    .description(
      "List the files on a shark's mako that no live metadata names (the evacuated copies); --delete deletes them once the shark's latest audit says safe",
    )
    .argument('<storage_id>', 'storage id of the shark (N.stor.<domain>)')
    .option(
      '-o, --output <file>',
      'where the list goes (default orphans-<storage_id>.txt); written whole or not at all',
    )
    .addOption(
      new Option(
        '--grace-seconds <n>',
        'only files modified at least this long before the listing (uploads in flight are younger)',
      )
        .argParser(grace)
        .default(DEFAULT_GRACE_SECONDS),
    )
    .addOption(
      new Option(
        '--format <format>',
        'paths: one path per line; ndjson: one {"path","size","mtime"} per line (with --delete also "outcome")',
      )
        .choices(['paths', 'ndjson'])
        .default('paths'),
    )
    .option(
      '--delete',
      'delete the orphans (found afresh); refused unless the latest audit says safe; the list holds what was deleted',
    )
    .exitOverride()
    .action(async (id: string, opts: Options) => run(id, opts, globals));
}
