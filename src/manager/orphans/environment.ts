/**
 * The orphan search's collaborators in a real deployment (src/manager/environment.ts builds
 * them): each shark's agent at `<storage id>:<agent_port>` (through `host_aliases`) with the
 * current `agent_auth_token`, and discovery over every configured shard, Moray and buckets,
 * with no key excluded (a key excluded from evacuations still names the shark's files).
 */
import { type DiscoveryEvent, discoverObjects, type ShardSource } from '../../discovery/index.ts';
import type { Logger } from '../../log/index.ts';
import { resolveAuthority } from '../../manta/index.ts';
import type { ManagerConfig } from '../config.ts';
import { AgentFilesClient } from './agent-files.ts';
import type { OrphanEnvironment } from './service.ts';

export interface RealOrphanEnvironment extends OrphanEnvironment {
  close(): Promise<void>;
}

export function orphanEnvironment(options: {
  shards: () => ShardSource[];
  config: () => ManagerConfig;
  log: Logger;
}): RealOrphanEnvironment {
  // `restart` keys (agent_port, host_aliases) are read once, as the rest of the environment does.
  const { agent_port: port, host_aliases: aliases } = options.config();
  const files = new AgentFilesClient({
    urlFor: (shark) => `http://${resolveAuthority(shark, port, aliases)}`,
    authToken: () => options.config().agent_auth_token,
  });
  return {
    files,
    discover(shark: string, signal: AbortSignal): AsyncIterable<DiscoveryEvent> {
      const c = options.config();
      return discoverObjects({
        shark,
        shards: options.shards(),
        chunkSize: c.options.md_read_chunk_size,
        concurrency: c.options.max_md_read_threads,
        signal,
        log: options.log,
      });
    },
    close: () => files.close(),
  };
}
