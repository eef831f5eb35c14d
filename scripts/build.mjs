#!/usr/bin/env node
// Bundles each service entry point with esbuild into dist/ (same paths as under src/, .js).
// Services run from these bundles: loading one file of plain JavaScript costs a fraction of the
// memory and start-up time of compiling TypeScript at run time. Dependencies stay external
// (node_modules). `npm ci` runs this (prepare); `npm test`, `npm run bench` and `npm run demo`
// run it first so that the services they start are never older than the sources.
// The web console (src/ui) is bundled for the browser into dist/ui, which the manager serves.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { build } from 'esbuild';

const ROOT = new URL('..', import.meta.url).pathname;

/** The programs that run as processes: bin/ executables and the sandbox's stand-ins. */
export const ENTRY_POINTS = [
  'agent/main',
  'manager/main',
  'adm/main',
  'sandbox/main',
  'sandbox/moray/main',
  'sandbox/mdapi/main',
  'sandbox/mako/main',
  'sandbox/storinfo/main',
];

/** `outdir` (default dist/) lets `npm run release` build apart from a dist/ running tests use. */
export async function buildServices(outdir = 'dist') {
  await build({
    entryPoints: ENTRY_POINTS.map((entry) => `src/${entry}.ts`),
    outbase: 'src',
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    // Stack traces map back to src/ when run with --enable-source-maps.
    sourcemap: 'linked',
    logLevel: 'warning',
    absWorkingDir: ROOT,
  });
}

/**
 * The console: its script (Preact, uPlot and the src/api schemas in one file, no CDN: admin
 * networks are often isolated), its stylesheet (uPlot's included) and its page. dist/ui is
 * emptied first so that a file removed from src/ui is not served on.
 */
export async function buildConsole(out = `${ROOT}dist/ui`) {
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: [
      { in: 'src/ui/main.tsx', out: 'app' },
      { in: 'src/ui/app.css', out: 'app' },
    ],
    outdir: out,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: 'linked',
    logLevel: 'warning',
    absWorkingDir: ROOT,
  });
  await copyFile(`${ROOT}src/ui/index.html`, `${out}/index.html`);
}

if (import.meta.url === new URL(process.argv[1] ?? '', 'file://').href) {
  await Promise.all([buildServices(), buildConsole()]);
}
