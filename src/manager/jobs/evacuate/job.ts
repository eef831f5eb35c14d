/** The evacuate job executor: builds a pipeline per job over the environment's collaborators. */
import type { ManagerMetrics } from '../../metrics.ts';
import type { JobRecord } from '../../store/index.ts';
import type { JobExecutor } from '../runner.ts';
import { EvacuatePipeline } from './pipeline.ts';
import type {
  AgentClient,
  DestinationChooser,
  EvacuateSettings,
  MetadataWriter,
  ObjectSource,
} from './types.ts';

export interface EvacuateEnvironment {
  source: ObjectSource;
  agents: AgentClient;
  metadata: MetadataWriter;
  metrics: ManagerMetrics;
  /** A chooser for one job (its own reservations), e.g. over a shared storinfo poller. */
  chooser(job: JobRecord): DestinationChooser;
  settings: Omit<EvacuateSettings, 'maxObjects' | 'metadataThreads'>;
}

export function evacuateExecutor(env: EvacuateEnvironment): JobExecutor {
  return async ({ job, store, signal, log, registerControls, evacuating }) => {
    if (job.action !== 'evacuate') throw new Error(`job action ${job.action} cannot be run`);
    const chooser = env.chooser(job);
    const pipeline = new EvacuatePipeline(
      job.id,
      job.fromShark,
      job.retryOf,
      {
        store,
        source: env.source,
        chooser,
        agents: env.agents,
        metadata: env.metadata,
        metrics: env.metrics,
        log,
        evacuating,
      },
      {
        ...env.settings,
        maxObjects: job.retryOf === undefined ? job.params.max_objects : null,
        metadataThreads: job.metadataThreads,
      },
      signal,
    );
    registerControls({
      setMetadataThreads: (n) => pipeline.setMetadataThreads(n),
      cancel: () => pipeline.drain(),
    });
    try {
      await pipeline.run();
    } finally {
      chooser.releaseAll();
    }
    log.info({ bytes: pipeline.bytesMoved }, 'evacuate job transferred bytes');
  };
}
