#!/usr/bin/env node
// Runs node's test runner over test/**/*.test.ts (or the files/directories given as arguments).
// Node 20's runner does not expand globs itself, so the files are listed here. When the run
// includes test/interop, its own package (node-fast, node-moray) is installed first if missing.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConsole, buildServices } from './build.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const INTEROP = join(ROOT, 'test', 'interop');

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    // test/interop has its own dependencies: never their files.
    if (path.endsWith('node_modules')) return out;
    for (const entry of readdirSync(path).sort()) collect(join(path, entry), out);
  } else if (path.endsWith('.test.ts')) {
    out.push(path);
  }
  return out;
}

const roots = process.argv.slice(2);
const files = (roots.length > 0 ? roots : ['test']).flatMap((root) => collect(root, []));
if (files.length === 0) {
  console.error(`no test files found under ${roots.join(', ') || 'test'}`);
  process.exit(1);
}

/** test/interop's install is missing, or older than its package.json or lockfile. */
function interopStale() {
  // npm writes node_modules/.package-lock.json last, so a half-done install counts as missing.
  const installed = join(INTEROP, 'node_modules', '.package-lock.json');
  if (!existsSync(installed)) return true;
  const at = statSync(installed).mtimeMs;
  return ['package.json', 'package-lock.json'].some((f) => statSync(join(INTEROP, f)).mtimeMs > at);
}

const env = { ...process.env };
if (files.some((file) => resolve(file).startsWith(INTEROP + sep))) {
  if (interopStale()) {
    const args = ['ci', '--prefix', relative(ROOT, INTEROP), '--no-audit', '--no-fund'];
    console.error(`test/interop: installing node-fast and node-moray (npm ${args.join(' ')})`);
    // Under `npm test`, npm_execpath is npm's own script: the same npm, wherever it lives.
    const npm = process.env.npm_execpath;
    const install =
      npm && /npm-cli\.c?js$/.test(npm)
        ? spawnSync(process.execPath, [npm, ...args], { cwd: ROOT, stdio: 'inherit' })
        : spawnSync('npm', args, { cwd: ROOT, stdio: 'inherit' });
    if (install.status !== 0) {
      console.error('test/interop: npm ci failed; the interoperability tests cannot run');
      process.exit(1);
    }
  }
  // Installed now: an interop test that still finds nothing fails instead of skipping.
  env.REBALANCER_REQUIRE_INTEROP = '1';
}

const concurrency = process.env.TEST_CONCURRENCY ?? '2';
// The services these start, and the console the browser tests load, run from dist/: never
// older than the sources.
await Promise.all([buildServices(), buildConsole()]);
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-timeout=300000',
    '--test-reporter=spec',
    ...files,
  ],
  { stdio: 'inherit', env },
);
process.exit(result.status ?? 1);
