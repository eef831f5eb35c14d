/**
 * Configuration reload (SIGHUP): the configuration is read again from the sources of the start
 * and its reloadable options are applied to the running agent. An invalid configuration is
 * logged and the running one kept: a typo in the file never stops an agent mid-evacuation.
 * Other options that changed are named in the log as waiting for a restart.
 */
import type { Logger } from '../log/index.ts';
import type { ReloadableConfig, RunningAgent } from './agent.ts';
import type { AgentConfig } from './config.ts';

const RELOADABLE: Readonly<Record<keyof ReloadableConfig, string>> = {
  maxBytesPerSecond: 'server.max_bytes_per_second',
  logLevel: 'server.log_level',
};

/** Reads the configuration with `load` and applies it; false when it is invalid (kept as is). */
export function reloadConfig(agent: RunningAgent, load: () => AgentConfig, log: Logger): boolean {
  let next: AgentConfig;
  try {
    next = load();
  } catch (err) {
    log.error({ err }, 'configuration reload failed: keeping the running configuration');
    return false;
  }
  const old = agent.config;
  const changed: Record<string, { from: unknown; to: unknown }> = {};
  for (const [key, option] of Object.entries(RELOADABLE) as [keyof ReloadableConfig, string][]) {
    if (old[key] !== next[key]) changed[option] = { from: old[key], to: next[key] };
  }
  const summary = Object.entries(changed).map(([o, c]) => `${o} ${c.from} -> ${c.to}`);
  // Logged before applying, so that raising the log level does not hide its own record.
  log.info(
    { changed },
    summary.length > 0
      ? `configuration reloaded: ${summary.join(', ')}`
      : 'configuration reloaded: no reloadable option changed',
  );
  const waiting = restartOnlyChanges(old, next);
  if (waiting.length > 0) {
    log.warn({ options: waiting }, 'changed options take effect only after a restart');
  }
  agent.reconfigure(next);
  return true;
}

/** Names of the non-reloadable options whose values differ. */
function restartOnlyChanges(old: AgentConfig, next: AgentConfig): string[] {
  const names: string[] = [];
  for (const key of Object.keys(old) as (keyof AgentConfig)[]) {
    if (key in RELOADABLE) continue;
    if (key === 'metrics') {
      for (const k of Object.keys(old.metrics) as (keyof AgentConfig['metrics'])[]) {
        if (old.metrics[k] !== next.metrics[k]) names.push(`metrics.${k}`);
      }
    } else if (comparable(old[key]) !== comparable(next[key])) {
      names.push(`server.${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`);
    }
  }
  return names;
}

function comparable(value: unknown): string | undefined {
  return JSON.stringify(value instanceof Map ? [...value] : value);
}
