#!/usr/bin/env node
// Bundles each service entry point with esbuild into dist/ (same paths as under src/, .js).
// Services run from these bundles: loading one file of plain JavaScript costs a fraction of the
// memory and start-up time of compiling TypeScript at run time. Dependencies stay external
// (node_modules). `npm ci` runs this (prepare); `npm test`, `npm run bench` and `npm run demo`
// run it first so that the services they start are never older than the sources.
import { build } from 'esbuild';

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

export async function buildServices() {
  await build({
    entryPoints: ENTRY_POINTS.map((entry) => `src/${entry}.ts`),
    outbase: 'src',
    outdir: 'dist',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    // Stack traces map back to src/ when run with --enable-source-maps.
    sourcemap: 'linked',
    logLevel: 'warning',
    absWorkingDir: new URL('..', import.meta.url).pathname,
  });
}

if (import.meta.url === new URL(process.argv[1] ?? '', 'file://').href) {
  await buildServices();
}
