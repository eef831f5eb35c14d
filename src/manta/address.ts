/**
 * Addresses of Manta services. In a deployment every name resolves through DNS (`1.stor.<domain>`
 * port 80 for a mako, port 7878 for its agent, `1.moray.<domain>` port 2020). Where the names do
 * not resolve — the sandbox, tests — explicit aliases map `name:port` to the `host:port` that
 * serves it, like a hosts file that also knows ports.
 */
import { RebalancerError } from '../errors.ts';

export type HostAliases = ReadonlyMap<string, string>;

export const NO_ALIASES: HostAliases = new Map();

export class HostAliasError extends RebalancerError {
  override readonly name = 'HostAliasError';
  readonly code = 'host_alias';
}

const NAME_PORT_RE = /^([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):([0-9]{1,5})$/;

function splitNamePort(text: string): { host: string; port: number } | undefined {
  const m = NAME_PORT_RE.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1] as string, port } : undefined;
}

/** Validates a JSON object of `"name:port": "host:port"` entries. */
export function parseHostAliases(input: unknown, what = 'host_aliases'): HostAliases {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new HostAliasError(`${what} must be an object of "name:port": "host:port" entries`);
  }
  const aliases = new Map<string, string>();
  for (const [from, to] of Object.entries(input)) {
    if (!splitNamePort(from)) {
      throw new HostAliasError(`${what}: key ${JSON.stringify(from)} is not name:port`);
    }
    if (typeof to !== 'string' || !splitNamePort(to)) {
      throw new HostAliasError(`${what}["${from}"]: ${JSON.stringify(to)} is not host:port`);
    }
    aliases.set(from.toLowerCase(), to);
  }
  return aliases;
}

/**
 * Where to connect for service `name` (optionally `name:port`; `defaultPort` otherwise): the
 * alias of `name:port` when there is one, else the name itself.
 */
export function resolveAddress(
  name: string,
  defaultPort: number,
  aliases: HostAliases = NO_ALIASES,
): { host: string; port: number } {
  const target = splitNamePort(name) ?? { host: name, port: defaultPort };
  const alias = aliases.get(`${target.host}:${target.port}`.toLowerCase());
  return alias ? (splitNamePort(alias) as { host: string; port: number }) : target;
}

/** `host:port` of resolveAddress, as a URL authority. */
export function resolveAuthority(name: string, defaultPort: number, aliases?: HostAliases): string {
  const { host, port } = resolveAddress(name, defaultPort, aliases);
  return port === 80 ? host : `${host}:${port}`;
}
