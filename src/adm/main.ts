/**
 * rebalancer-adm: the operator's command line for the manager (manager.md §7): L's `job`
 * subcommands plus `job cancel` and `job update`. Human output by default, `--json` for
 * scripts. A bad argument or a failed request prints a message naming it and exits non-zero.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { AdmRequestError, ManagerClient } from './client.ts';
import { formatDuplicates, formatJobList, formatJobStatus } from './format.ts';
import { watchJob } from './watch.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuid(value: string): string {
  if (!UUID.test(value)) throw new InvalidArgumentError(`not a job UUID: ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

function count(min: number, max: number, name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^[0-9]+$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(
        `Numeric value required for ${name}: an integer in ${min}..${max}`,
      );
    }
    return n;
  };
}

interface Globals {
  url: string;
  json: boolean;
}

function out(text: string): void {
  process.stdout.write(text);
}

const program = new Command('rebalancer-adm')
  .description('Rebalancer client utility')
  .version('0.1.0')
  .addOption(
    new Option('-u, --url <url>', 'manager URL').env('REBALANCER_URL').default('http://localhost'),
  )
  .option('--json', 'print JSON instead of tables', false)
  .showHelpAfterError()
  .exitOverride();

const client = (): ManagerClient => new ManagerClient(program.opts<Globals>().url);
const json = (): boolean => program.opts<Globals>().json;

const job = program.command('job').description('Job operations').exitOverride();

job
  .command('list')
  .description('List all known rebalancer jobs')
  .action(async () => {
    const jobs = await client().list();
    out(json() ? `${JSON.stringify(jobs, null, 2)}\n` : formatJobList(jobs));
  });

job
  .command('get')
  .description('Get information on a specific job')
  .argument('<uuid>', 'job UUID', uuid)
  .addOption(
    new Option(
      '-w, --watch [seconds]',
      'follow the job with a progress bar until it ends, polling every N s (default 2); --json: a status per line; exits 3 unless the job completes',
    ).argParser(count(1, 3600, 'watch')),
  )
  .action(async (id: string, opts: { watch?: number | true }) => {
    if (opts.watch !== undefined) {
      const intervalMs = (opts.watch === true ? 2 : opts.watch) * 1000;
      const status = await watchJob(client(), id, {
        intervalMs,
        json: json(),
        out: process.stdout,
      });
      // A job that did not complete is worth a non-zero status to a script waiting on it.
      if (status.state !== 'Complete') process.exitCode = 3;
      return;
    }
    const status = await client().get(id);
    out(json() ? `${JSON.stringify(status, null, 2)}\n` : formatJobStatus(id, status));
  });

const create = job.command('create').description('Create a rebalancer job').exitOverride();
create
  .command('evacuate')
  .description('Create an evacuate job')
  .requiredOption('-s, --shark <id>', 'Specifies a shark on which to run a job')
  .addOption(
    new Option('-m, --max_objects <n>', 'Maximum number of objects allowed in the job').argParser(
      count(0, 4294967295, 'max_objects'),
    ),
  )
  .addOption(
    new Option('--max-objects <n>').hideHelp().argParser(count(0, 4294967295, 'max_objects')),
  )
  .action(async (opts: { shark: string; max_objects?: number; maxObjects?: number }) => {
    if (opts.shark.trim() === '') throw new InvalidArgumentError('--shark must not be empty');
    const id = await client().createEvacuate(opts.shark, opts.max_objects ?? opts.maxObjects);
    out(json() ? `${JSON.stringify({ id })}\n` : `Evacuate job created: ${id}\n`);
  });

job
  .command('retry')
  .description('retry a previously run and completed job')
  .argument('<uuid>', 'job UUID', uuid)
  .action(async (id: string) => {
    const created = await client().retry(id);
    out(json() ? `${JSON.stringify({ id: created })}\n` : `Retry job created: ${created}\n`);
  });

job
  .command('cancel')
  .description('Cancel a job that has not finished')
  .argument('<uuid>', 'job UUID', uuid)
  .action(async (id: string) => {
    const status = await client().cancel(id);
    out(json() ? `${JSON.stringify(status, null, 2)}\n` : `Job ${id} cancelled: ${status.state}\n`);
  });

job
  .command('duplicates')
  .description('List the records sharing an objectId with moved objects (snaplinks)')
  .argument('<uuid>', 'job UUID', uuid)
  .action(async (id: string) => {
    const duplicates = await client().duplicates(id);
    out(json() ? `${JSON.stringify(duplicates, null, 2)}\n` : formatDuplicates(duplicates));
  });

job
  .command('update')
  .description('Tune a running job')
  .argument('<uuid>', 'job UUID', uuid)
  .requiredOption(
    '-t, --metadata-threads <n>',
    'metadata update concurrency (1-250)',
    count(1, 250, 'metadata-threads'),
  )
  .action(async (id: string, opts: { metadataThreads: number }) => {
    await client().setMetadataThreads(id, opts.metadataThreads);
    out(
      json()
        ? `${JSON.stringify({ id, metadata_threads: opts.metadataThreads })}\n`
        : `Job ${id}: metadata update threads set to ${opts.metadataThreads}\n`,
    );
  });

for (const cmd of [program, job, create]) {
  cmd.action(() => {
    cmd.help({ error: true });
  });
}

try {
  await program.parseAsync();
} catch (err) {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('commander.')) {
    // commander already printed its message (and help for a missing subcommand)
    process.exitCode = code === 'commander.helpDisplayed' || code === 'commander.version' ? 0 : 1;
  } else if (err instanceof AdmRequestError || err instanceof InvalidArgumentError) {
    process.stderr.write(`Error: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    throw err;
  }
}
