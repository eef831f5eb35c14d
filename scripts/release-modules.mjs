// What a release's node_modules/ holds (scripts/release.mjs): the packages the bundles import
// (esbuild left every package external), read back from the bundles, and everything those load,
// found as node would resolve it in this checkout; of each package, only what running it reads.
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { build } from 'esbuild';

/** A failure with a message that says what to do: printed without a stack. */
export class ReleaseError extends Error {}

// Needed only at install time (better-sqlite3 fetches a prebuilt addon with it); never loaded.
const INSTALL_ONLY = new Set(['prebuild-install']);

// Native packages: only what loading them reads. better-sqlite3's sources, the SQLite
// amalgamation and the object files are for compiling; its lib/ loads build/Release/*.node
// through `bindings`.
const NATIVE = { 'better-sqlite3': { files: ['package.json', 'LICENSE', 'lib'] } };

// A package's top-level directories that never ship: its own node_modules/ (those packages are
// copied on their own, when needed), tests, benchmarks, docs and examples.
const PRUNED_DIRS = new Set([
  'node_modules',
  'test',
  'tests',
  'benchmark',
  'benchmarks',
  'docs',
  'example',
  'examples',
  '.github',
]);
// Type declarations and prose: never loaded.
const PRUNED_FILES = /\.(d\.[cm]?ts|md|markdown)$/i;

/** The package a bare specifier names: `typebox/compile` → typebox, `@a/b/c` → @a/b. */
function packageOf(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The packages the bundles import (esbuild left them external): read back from the bundles. */
async function importedPackages(distDir, entries, dependencies) {
  const result = await build({
    entryPoints: entries.map((e) => join(distDir, `${e}.js`)),
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    write: false,
    metafile: true,
    logLevel: 'silent',
    outdir: join(distDir, '.probe'),
  });
  const names = new Set();
  for (const input of Object.values(result.metafile.inputs)) {
    for (const imp of input.imports) {
      if (imp.external && !isBuiltin(imp.path)) names.add(packageOf(imp.path));
    }
  }
  for (const name of names) {
    if (!dependencies?.[name]) {
      throw new ReleaseError(`a bundle imports ${name}, which is not in package.json dependencies`);
    }
  }
  return [...names].sort();
}

/** Node's lookup: the nearest node_modules/<name> from the requiring package up to `root`. */
function locate(root, name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || dir === dirname(dir)) return undefined;
  }
}

/**
 * Every installed package directory the roots load, following dependencies, installed
 * optionalDependencies and required peerDependencies, as node would resolve them here.
 */
function dependencyClosure(root, roots) {
  const found = new Map();
  const visit = (name, fromDir, optional, via) => {
    if (INSTALL_ONLY.has(name)) return;
    const dir = locate(root, name, fromDir);
    if (dir === undefined) {
      if (optional) return;
      throw new ReleaseError(`${name} (needed by ${via}) is not installed: run npm ci`);
    }
    if (found.has(dir)) return;
    found.set(dir, name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const optionals = new Set(Object.keys(pkg.optionalDependencies ?? {}));
    const peerMeta = pkg.peerDependenciesMeta ?? {};
    for (const dep of new Set([...Object.keys(pkg.dependencies ?? {}), ...optionals])) {
      visit(dep, dir, optionals.has(dep), pkg.name);
    }
    for (const dep of Object.keys(pkg.peerDependencies ?? {})) {
      if (!peerMeta[dep]?.optional) visit(dep, dir, false, pkg.name);
    }
  };
  for (const name of roots) visit(name, root, false, 'the bundles');
  return found;
}

/** Copies `src` into `dest`, where `keep(path relative to src, isDir)` says so. */
export async function copyTree(src, dest, keep = () => true, rel = '') {
  await mkdir(dest, { recursive: true });
  const entries = await readdir(src, { withFileTypes: true });
  await Promise.all(
    entries.map(async (entry) => {
      const from = join(src, entry.name);
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      // Links are followed: the tarball must not point back into this checkout.
      const isDir =
        entry.isDirectory() || (entry.isSymbolicLink() && (await stat(from)).isDirectory());
      if (!keep(path, isDir)) return;
      if (isDir) await copyTree(from, join(dest, entry.name), keep, path);
      else await copyFile(from, join(dest, entry.name));
    }),
  );
}

/** Which of a package's files ship: what loading it can read, not its tests, docs or types. */
function shipped(name) {
  const native = NATIVE[name];
  if (native !== undefined) {
    return (path) => {
      const [top, sub, file, more] = path.split('/');
      if (top !== 'build') return native.files.includes(top);
      return (
        sub === undefined ||
        (sub === 'Release' &&
          (file === undefined || (more === undefined && file.endsWith('.node'))))
      );
    };
  }
  return (path, isDir) =>
    isDir ? path.includes('/') || !PRUNED_DIRS.has(path) : !PRUNED_FILES.test(path);
}

async function copyPackage(src, dest, name) {
  await copyTree(src, dest, shipped(name));
  if (NATIVE[name] !== undefined) {
    const addons = await readdir(join(dest, 'build/Release')).catch(() => []);
    if (!addons.some((f) => f.endsWith('.node'))) {
      throw new ReleaseError(`${name} has no compiled addon in ${src}/build/Release: run npm ci`);
    }
  }
}

/** Copies into `dest` (a node_modules/) what the bundles under `distDir` load from `root`'s. */
export async function copyModules(root, distDir, entries, dependencies, dest) {
  const roots = await importedPackages(distDir, entries, dependencies);
  const packages = dependencyClosure(root, roots);
  const modulesRoot = join(root, 'node_modules');
  for (const [dir, name] of packages) {
    await copyPackage(dir, join(dest, relative(modulesRoot, dir)), name);
  }
  return { roots, packages: packages.size };
}
