/**
 * rebalancer-adm: the operator's command line for the manager (manager.md §7): L's `job`
 * subcommands plus cancel, pause, resume, limits (`job update`), dry runs and their plans, a
 * job's objects, export and deletion (job-data.ts). Human output by default, `--json` for
 * scripts. A bad argument or a failed request prints a message naming it and exits non-zero.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_CONVERGE_ROUNDS, MAX_CONVERGE_ROUNDS } from '../api/convergence.ts';
import { SINGLE_COPIES, type SingleCopies } from '../api/manager.ts';
import { registerSharkCommands } from './audit.ts';
import { type AdmGlobals, AdmRequestError, ManagerClient } from './client.ts';
import { formatDuplicates, formatJobList, formatJobStatus } from './format.ts';
import { registerJobDataCommands } from './job-data.ts';
import { limitOptions, limitsFrom } from './limits.ts';
import { registerOrphansCommand } from './orphans.ts';
import { formatPlan } from './plan-format.ts';
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
  apiToken?: string;
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
  .addOption(
    new Option(
      '--api-token <token>',
      "the manager's api_token, sent as Authorization: Bearer (the variable keeps it out of ps)",
    ).env('REBALANCER_API_TOKEN'),
  )
  .option('--json', 'print JSON instead of tables', false)
  .showHelpAfterError()
  .exitOverride();

const json = (): boolean => program.opts<Globals>().json;
const globals: AdmGlobals = {
  url: () => program.opts<Globals>().url,
  json,
  token: () => program.opts<Globals>().apiToken,
};
const client = (): ManagerClient => new ManagerClient(globals.url(), undefined, globals.token());

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
    ).argParser((value) => {
      // `job get --watch <uuid>` gives the uuid as the interval: say where it goes.
      if (!/^[0-9]+$/.test(value)) {
        throw new InvalidArgumentError(
          `--watch takes seconds, not ${JSON.stringify(value)}: give the job first (job get <uuid> --watch)`,
        );
      }
      return count(1, 3600, 'watch')(value);
    }),
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
const evacuate = create
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
  .option('--dry-run', 'plan only: discovery and placement, nothing moves (see `job plan`)')
  .addOption(
    new Option(
      '--single-copies <mode>',
      'objects whose only copy is on the shark: copy them from it, or skip them (for a dead shark)',
    ).choices([...SINGLE_COPIES]),
  )
  .addOption(
    new Option(
      '--converge-rounds <n>',
      `rounds that retry what a fresh look may cure after the main pass (0: none; default ${DEFAULT_CONVERGE_ROUNDS})`,
    ).argParser(count(0, MAX_CONVERGE_ROUNDS, 'converge-rounds')),
  );
for (const option of limitOptions()) evacuate.addOption(option);
evacuate.action(
  async (
    opts: {
      shark: string;
      max_objects?: number;
      maxObjects?: number;
      dryRun?: boolean;
      singleCopies?: SingleCopies;
      convergeRounds?: number;
    } & Record<string, unknown>,
  ) => {
    if (opts.shark.trim() === '') throw new InvalidArgumentError('--shark must not be empty');
    const maxObjects = opts.max_objects ?? opts.maxObjects;
    const id = await client().createEvacuate(opts.shark, {
      ...(maxObjects === undefined ? {} : { maxObjects }),
      dryRun: opts.dryRun === true,
      ...(opts.singleCopies === undefined ? {} : { singleCopies: opts.singleCopies }),
      ...(opts.convergeRounds === undefined ? {} : { convergeRounds: opts.convergeRounds }),
      limits: limitsFrom(opts),
    });
    if (json()) out(`${JSON.stringify({ id })}\n`);
    else if (opts.dryRun) out(`Dry run created: ${id}\nIts plan: rebalancer-adm job plan ${id}\n`);
    else out(`Evacuate job created: ${id}\n`);
  },
);

job
  .command('plan')
  .description("Show a dry run's plan")
  .argument('<uuid>', 'job UUID', uuid)
  .option('-w, --wait', 'wait for the plan while the dry run is still planning')
  .action(async (id: string, opts: { wait?: boolean }) => {
    for (;;) {
      try {
        const plan = await client().plan(id);
        out(json() ? `${JSON.stringify(plan, null, 2)}\n` : formatPlan(plan));
        return;
      } catch (err) {
        if (!opts.wait || !(err instanceof AdmRequestError) || err.status !== 409) throw err;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  });

job
  .command('pause')
  .description('Pause a running job: nothing new starts, work on agents finishes')
  .argument('<uuid>', 'job UUID', uuid)
  .action(async (id: string) => {
    const status = await client().pause(id);
    out(json() ? `${JSON.stringify(status, null, 2)}\n` : `Job ${id}: ${status.state}\n`);
  });

job
  .command('resume')
  .description('Resume a paused job')
  .argument('<uuid>', 'job UUID', uuid)
  .action(async (id: string) => {
    const status = await client().resume(id);
    out(json() ? `${JSON.stringify(status, null, 2)}\n` : `Job ${id}: ${status.state}\n`);
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

const update = job
  .command('update')
  .description('Tune a running or paused job: metadata threads and limits')
  .argument('<uuid>', 'job UUID', uuid)
  .option(
    '-t, --metadata-threads <n>',
    'metadata update concurrency (1-250)',
    count(1, 250, 'metadata-threads'),
  );
for (const option of limitOptions()) update.addOption(option);
update.action(async (id: string, opts: { metadataThreads?: number } & Record<string, unknown>) => {
  const limits = limitsFrom(opts);
  if (opts.metadataThreads === undefined && Object.keys(limits).length === 0) {
    // Printed by commander, which then exits non-zero.
    update.error(
      'error: job update: give --metadata-threads or a limit (--objects-per-second, --bytes-per-second, --metadata-updates-per-second)',
    );
  }
  const c = client();
  if (opts.metadataThreads !== undefined) await c.setMetadataThreads(id, opts.metadataThreads);
  if (Object.keys(limits).length > 0) await c.setLimits(id, limits);
  const changed = {
    ...(opts.metadataThreads === undefined ? {} : { metadata_threads: opts.metadataThreads }),
    ...limits,
  };
  out(
    json()
      ? `${JSON.stringify({ id, ...changed })}\n`
      : `Job ${id}: ${Object.entries(changed)
          .map(([k, v]) => `${k} ${v ?? 'unlimited'}`)
          .join(', ')}\n`,
  );
});

registerJobDataCommands(job, globals);
registerSharkCommands(program, globals);
registerOrphansCommand(program, globals);

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
    // Its own exit code when a command chose one (shark audit: 2, as 1 means "not safe").
    process.exitCode =
      code === 'commander.helpDisplayed' || code === 'commander.version'
        ? 0
        : ((err as { exitCode?: number }).exitCode ?? 1);
  } else if (err instanceof AdmRequestError || err instanceof InvalidArgumentError) {
    process.stderr.write(`Error: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    throw err;
  }
}
