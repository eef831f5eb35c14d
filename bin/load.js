// Shared by the executables in bin/: runs a service's bundle from dist/ (see scripts/build.mjs).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export async function runBundle(entry) {
  const url = new URL(`../dist/${entry}.js`, import.meta.url);
  if (!existsSync(fileURLToPath(url))) {
    process.stderr.write(
      `${fileURLToPath(url)} is missing: run \`npm run build\` (\`npm ci\` runs it)\n`,
    );
    process.exit(1);
  }
  await import(url.href);
}
