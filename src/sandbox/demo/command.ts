/** `rebalancer-sandbox demo`: runs the demo, prints its report, cleans up on every path. */
import { DemoRun } from './run.ts';
import { formatSummary } from './summary.ts';

export interface DemoCommandOptions {
  dir?: string;
  databaseUrl?: string;
  objects: number;
  bucketsObjects: number;
  seed: number;
  shark?: string;
  minSize: number;
  maxSize: number;
  keep: boolean;
  json: boolean;
}

/** Runs the demo; resolves to the exit code (0 only when verification passed, nothing lost). */
export async function demoCommand(options: DemoCommandOptions): Promise<number> {
  // With --json, stdout carries only the JSON document: the story goes to stderr.
  const out = options.json ? process.stderr : process.stdout;
  const run = new DemoRun({
    dir: options.dir,
    databaseUrl: options.databaseUrl,
    objects: options.objects,
    bucketsObjects: options.bucketsObjects,
    seed: options.seed,
    shark: options.shark,
    minSize: options.minSize,
    maxSize: options.maxSize,
    keep: options.keep,
    out,
  });
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      out.write(`\n${signal}: already stopping the sandbox, please wait\n`);
      return;
    }
    stopping = true;
    out.write(`\n${signal}: stopping the sandbox and cleaning up\n`);
    run.cleanup().then(
      () => process.exit(signal === 'SIGINT' ? 130 : 143),
      (err: Error) => {
        process.stderr.write(`rebalancer-sandbox demo: ${err.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await run.run();
    if (!options.keep) await run.cleanup();
    out.write(formatSummary(result, { kept: options.keep, removed: run.removesDir }));
    if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    return result.passed && result.lost === 0 ? 0 : 1;
  } catch (err) {
    const message = (err as Error).message;
    if (options.keep && run.dir) {
      out.write(`the sandbox is left running for inspection in ${run.dir}\n`);
    } else {
      await run
        .cleanup()
        .catch((cleanupErr: Error) =>
          process.stderr.write(`rebalancer-sandbox demo: ${cleanupErr.message}\n`),
        );
    }
    if (options.json) process.stdout.write(`${JSON.stringify({ error: message })}\n`);
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
