/**
 * Operator CLI: list the objects that have a copy on a shark, as JSON lines on stdout
 * (one `{shard, key, etag, id, shark, value}` per object), like the sharkspotter tool.
 * Excluded and malformed records go to the log (stderr) and the final summary.
 *
 *   discovery --shark 3.stor.east.joyent.us --shard 1=tcp://1.moray.east.joyent.us:2020 \
 *             --shard 2=postgres://postgres@2.rebalancer-postgres.east.joyent.us:5432/moray
 *   discovery --shark 3.stor --domain east.joyent.us --min-shard 1 --max-shard 4 [--direct-db]
 *
 * Exit status: 0 complete, 1 discovery failed (stdout then holds a partial list), 2 usage.
 */
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { type Database, openDatabase } from '../db/index.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { MorayClient } from '../moray/index.ts';
import { discoverObjects } from './discover.ts';
import { DEFAULT_EXCLUDE_KEY_PREFIXES, type ExcludeMatch } from './exclude.ts';
import type { ShardSource } from './types.ts';

interface ShardSpec {
  readonly shard: number;
  readonly url: URL;
}

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

function positiveInt(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function nonNegativeInt(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('must be an integer >= 0');
  return n;
}

function shardSpec(text: string, previous: ShardSpec[] = []): ShardSpec[] {
  const m = /^([0-9]+)=(.+)$/.exec(text);
  if (!m) throw new InvalidArgumentError('expected N=tcp://host:port or N=postgres://...');
  let url: URL;
  try {
    url = new URL(m[2] as string);
  } catch {
    throw new InvalidArgumentError(`not a URL: ${m[2]}`);
  }
  if (!['tcp:', 'postgres:', 'postgresql:'].includes(url.protocol)) {
    throw new InvalidArgumentError('shard URL must be tcp:// (moray) or postgres:// (direct-db)');
  }
  return [...previous, { shard: Number(m[1]), url }];
}

function collectList(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Shards from `--domain`: `N.moray.<domain>:2020`, or the pgclone `N.rebalancer-postgres.<domain>`. */
function domainShards(domain: string, min: number, max: number, directDb: boolean): ShardSpec[] {
  const out: ShardSpec[] = [];
  for (let n = min; n <= max; n++) {
    out.push({
      shard: n,
      url: new URL(
        directDb
          ? `postgres://postgres@${n}.rebalancer-postgres.${domain}:5432/moray`
          : `tcp://${n}.moray.${domain}:2020`,
      ),
    });
  }
  return out;
}

async function write(out: NodeJS.WritableStream, line: string): Promise<void> {
  if (!out.write(line)) await once(out, 'drain');
}

export async function main(argv: readonly string[], io: Io = process): Promise<number> {
  const program = new Command('discovery')
    .description('List the objects that have a copy on a storage node, as JSON lines')
    .requiredOption('--shark <storage-id>', 'manta_storage_id to look for')
    .option(
      '--shard <N=url>',
      'a shard: N=tcp://host:port (moray) or N=postgres://… (direct-db); repeatable',
      shardSpec,
    )
    .option('--domain <domain>', 'build shard addresses from the Manta domain')
    .option('--min-shard <n>', 'first shard with --domain', nonNegativeInt, 1)
    .option('--max-shard <n>', 'last shard with --domain', nonNegativeInt, 1)
    .option('--direct-db', 'with --domain: read the pgclone databases instead of moray', false)
    .option('--chunk-size <n>', 'moray mode window size', positiveInt, 10_000)
    .option('--concurrency <n>', 'shards scanned at once', positiveInt, 10)
    .option(
      '--exclude <text>',
      'exclude keys matching (repeatable; "none" disables; default none)',
      collectList,
    )
    .option(
      '--exclude-defaults',
      `exclude the rebalancer defaults (${DEFAULT_EXCLUDE_KEY_PREFIXES.join(', ')})`,
      false,
    )
    .option('--exclude-match <mode>', 'substring (as L) or owner-prefix', 'substring')
    .option('--object-id-only', 'print only object ids', false)
    .option('--log-level <level>', 'log level (stderr)', 'info')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  try {
    program.parse([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  const opts = program.opts<{
    shark: string;
    shard?: ShardSpec[];
    domain?: string;
    minShard: number;
    maxShard: number;
    directDb: boolean;
    chunkSize: number;
    concurrency: number;
    exclude?: string[];
    excludeDefaults: boolean;
    excludeMatch: string;
    objectIdOnly: boolean;
    logLevel: string;
  }>();
  const usage = (msg: string) => {
    io.stderr.write(`discovery: ${msg}\n`);
    return 2;
  };
  if (opts.excludeMatch !== 'substring' && opts.excludeMatch !== 'owner-prefix') {
    return usage('--exclude-match must be substring or owner-prefix');
  }
  let specs = opts.shard ?? [];
  if (opts.domain !== undefined) {
    if (opts.maxShard < opts.minShard) return usage('--max-shard is below --min-shard');
    let shark = opts.shark;
    // As L: a shark given without the domain gets it appended.
    if (!shark.includes(opts.domain)) shark = `${shark}.${opts.domain}`;
    opts.shark = shark;
    specs = [...specs, ...domainShards(opts.domain, opts.minShard, opts.maxShard, opts.directDb)];
  }
  if (specs.length === 0) return usage('give --shard N=url or --domain');

  const log = createLogger({ name: 'discovery', level: opts.logLevel, destination: io.stderr });
  const opened: { close(): Promise<void> }[] = [];
  try {
    const sources = await openSources(specs, log, opened);
    const excludeKeyPrefixes = [
      ...(opts.excludeDefaults ? DEFAULT_EXCLUDE_KEY_PREFIXES : []),
      ...(opts.exclude ?? []),
    ];
    const discovery = discoverObjects({
      shark: opts.shark,
      shards: sources,
      chunkSize: opts.chunkSize,
      concurrency: opts.concurrency,
      excludeKeyPrefixes,
      excludeMatch: opts.excludeMatch as ExcludeMatch,
      log,
    });
    let objects = 0;
    try {
      for await (const event of discovery) {
        if (event.kind !== 'object') continue;
        objects++;
        const { kind: _kind, ...item } = event;
        await write(io.stdout, opts.objectIdOnly ? `${event.id}\n` : `${JSON.stringify(item)}\n`);
      }
    } catch (err) {
      log.error({ err }, 'discovery failed; the list above is incomplete');
      return 1;
    } finally {
      const shards = Object.fromEntries(discovery.stats());
      log.info({ shark: opts.shark, objects, shards }, 'discovery summary');
    }
    return 0;
  } finally {
    await Promise.allSettled(opened.map((c) => c.close()));
  }
}

async function openSources(
  specs: readonly ShardSpec[],
  log: Logger,
  opened: { close(): Promise<void> }[],
): Promise<ShardSource[]> {
  const sources: ShardSource[] = [];
  for (const { shard, url } of specs) {
    if (url.protocol === 'tcp:') {
      const client = new MorayClient({
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: Number(url.port || 2020),
        log,
      });
      opened.push(client);
      sources.push({ shard, mode: 'moray', client });
    } else {
      const db: Database = await openDatabase({ url: url.toString(), poolSize: 1, log });
      opened.push(db);
      sources.push({ shard, mode: 'direct-db', db });
    }
  }
  return sources;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`discovery: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
