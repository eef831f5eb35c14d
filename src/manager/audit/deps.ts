/**
 * The audit's collaborators in a real deployment (src/manager/environment.ts builds them):
 * discovery over the configured shards with no key excluded (a key excluded from evacuations
 * still names the shark), taken from the config current when an audit starts, and one HTTP
 * client of the makos for every audit, reaching `<storage id>:80` through `host_aliases`.
 */
import type { ShardSource } from '../../discovery/index.ts';
import type { Logger } from '../../log/index.ts';
import type { ManagerConfig } from '../config.ts';
import { DiscoveryObjectSource } from '../jobs/evacuate/discovery-source.ts';
import type { AuditDeps } from './audit.ts';
import { MakoCopyChecker } from './copy-check.ts';

/**
 * Copy checks an audit keeps in flight: a HEAD mostly waits on a mako, so this many keep the
 * scan, not the makos, the bound (bench/audit).
 */
const AUDIT_CONCURRENCY = 64;

export function auditDeps(options: {
  shards: () => readonly ShardSource[];
  config: () => ManagerConfig;
  log: Logger;
}): AuditDeps {
  const sources = new WeakMap<ManagerConfig, DiscoveryObjectSource>();
  // `restart` keys (host_aliases) are read once, as the rest of the environment does.
  const copies = new MakoCopyChecker({ aliases: options.config().host_aliases });
  return {
    get source() {
      const c = options.config();
      let source = sources.get(c);
      if (!source) {
        source = new DiscoveryObjectSource(options.shards, {
          chunkSize: c.options.md_read_chunk_size,
          concurrency: c.options.max_md_read_threads,
          log: options.log,
        });
        sources.set(c, source);
      }
      return source;
    },
    copies,
    concurrency: AUDIT_CONCURRENCY,
  };
}
