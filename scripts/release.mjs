#!/usr/bin/env node
// `npm run release [-- --out DIR]`: one self-contained tarball per service (manager, agent) in
// release/, each unpacking to rebalancer/ with bin/, freshly built dist/, the production
// node_modules the bundles need (better-sqlite3's addon as built here: same platform, arch and
// Node ABI on the target), deploy/, a trimmed package.json and VERSION.json. Nothing is
// downloaded: packages are copied from this checkout's node_modules.
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import { buildConsole, buildServices } from './build.mjs';
import { copyModules, copyTree, ReleaseError } from './release-modules.mjs';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

const SERVICES = [
  {
    service: 'manager',
    bins: ['rebalancer-manager', 'rebalancer-adm'],
    entries: ['manager/main', 'adm/main'],
    console: true,
  },
  { service: 'agent', bins: ['rebalancer-agent'], entries: ['agent/main'], console: false },
];

const DEPLOY = ['smf', 'sapi', 'systemd'];

function gitCommit() {
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return /^[0-9a-f]{40}$/.test(out) ? out : undefined;
  } catch {
    // Not a checkout (an unpacked source tarball) or no git: the version has no commit.
    return undefined;
  }
}

/** Fills `tree` (the future rebalancer/) for one service from the bundles in `distDir`. */
async function assemble(spec, distDir, tree, manifest) {
  await mkdir(join(tree, 'bin'), { recursive: true });
  for (const file of ['load.js', ...spec.bins.map((b) => `${b}.js`)]) {
    await copyFile(join(ROOT, 'bin', file), join(tree, 'bin', file));
    await chmod(join(tree, 'bin', file), 0o755);
  }
  for (const entry of spec.entries) {
    await mkdir(dirname(join(tree, 'dist', entry)), { recursive: true });
    for (const ext of ['.js', '.js.map']) {
      await copyFile(join(distDir, entry + ext), join(tree, 'dist', entry + ext));
    }
  }
  if (spec.console) await copyTree(join(distDir, 'ui'), join(tree, 'dist', 'ui'));

  const deps = await copyModules(
    ROOT,
    distDir,
    spec.entries,
    PKG.dependencies,
    join(tree, 'node_modules'),
  );

  for (const sub of DEPLOY) {
    const src = join(ROOT, 'deploy', sub);
    if (existsSync(src)) await copyTree(src, join(tree, 'deploy', sub));
  }
  const trimmed = { name: PKG.name, version: PKG.version, type: 'module', engines: PKG.engines };
  await writeFile(join(tree, 'package.json'), `${JSON.stringify(trimmed, null, 2)}\n`);
  const version = { name: PKG.name, service: spec.service, ...manifest };
  await writeFile(join(tree, 'VERSION.json'), `${JSON.stringify(version, null, 2)}\n`);
  return deps;
}

function isGnuTar() {
  try {
    return execFileSync('tar', ['--version'], { encoding: 'utf8' }).includes('GNU tar');
  } catch {
    return false;
  }
}

/** tar of `parent`/rebalancer, gzipped by zlib (no name or time in its header), to `file`. */
async function tarball(parent, file, mtime) {
  // GNU tar can make the archive independent of the build machine's order, owners and clock.
  const stable = isGnuTar()
    ? ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${mtime}`]
    : [];
  const tar = spawn('tar', ['-C', parent, ...stable, '-cf', '-', 'rebalancer'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  tar.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((res, rej) => {
    tar.once('error', rej);
    tar.once('close', res);
  });
  const partial = `${file}.partial`;
  await pipeline(tar.stdout, createGzip(), createWriteStream(partial));
  const code = await exited;
  if (code !== 0) {
    await rm(partial, { force: true });
    throw new ReleaseError(`tar exited with ${code}: ${stderr.trim()}`);
  }
  await rename(partial, file);
}

function usage() {
  return 'usage: npm run release [-- --out DIR]   (default DIR: release/)\n';
}

async function main() {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(usage());
    return;
  }
  const out = resolve(values.out ?? join(ROOT, 'release'));
  const commit = gitCommit();
  const builtAt = new Date();
  const manifest = {
    version: commit === undefined ? PKG.version : `${PKG.version}-${commit.slice(0, 7)}`,
    commit: commit ?? null,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    built_at: builtAt.toISOString(),
  };
  await mkdir(out, { recursive: true });
  const stage = await mkdtemp(join(tmpdir(), 'rebalancer-release-'));
  try {
    // Built apart from dist/: tests may be running services from it.
    const distDir = join(stage, 'dist');
    await buildServices(distDir);
    await buildConsole(join(distDir, 'ui'));
    for (const spec of SERVICES) {
      const parent = join(stage, spec.service);
      const { roots, packages } = await assemble(
        spec,
        distDir,
        join(parent, 'rebalancer'),
        manifest,
      );
      const file = join(out, `rebalancer-${spec.service}-${manifest.version}.tar.gz`);
      await tarball(parent, file, Math.floor(builtAt.getTime() / 1000));
      const { size } = await stat(file);
      const mb = (size / 1024 / 1024).toFixed(1);
      process.stdout.write(
        `${file}  ${size} bytes (${mb} MiB): ${packages} packages for ${roots.join(', ')}\n`,
      );
    }
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (err) {
  const usageError = String(err?.code).startsWith('ERR_PARSE_ARGS');
  // Our own failures say what to do; anything else keeps its stack for a bug report.
  const known = err instanceof ReleaseError || usageError;
  process.stderr.write(`release failed: ${known ? err.message : (err?.stack ?? err)}\n`);
  if (usageError) process.stderr.write(usage());
  process.exitCode = 1;
}
