#!/usr/bin/env node
// `npm run bench -- <name> [args]` runs bench/<name>/index.ts (or bench/<name>.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { buildServices } from './build.mjs';

const [name, ...args] = process.argv.slice(2);
const candidates = name ? [`bench/${name}/index.ts`, `bench/${name}.ts`] : [];
const file = candidates.find((path) => existsSync(path));
if (!file) {
  const known = readdirSync('bench').map((entry) => entry.replace(/\.ts$/, ''));
  console.error(
    name ? `unknown benchmark "${name}"` : 'usage: npm run bench -- <name>',
    `(known: ${known.join(', ')})`,
  );
  process.exit(2);
}
// The services these start run from dist/: never older than the sources.
await buildServices();
const result = spawnSync(process.execPath, ['--import', 'tsx', file, ...args], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
