/**
 * Generates the checked-in OpenAPI documents from the fastify apps' TypeBox schemas.
 *   node --import tsx scripts/openapi.ts --write   writes openapi/<service>.json
 *   node --import tsx scripts/openapi.ts --check   exits 1 naming each file that differs
 * A service is added with one line in DOCUMENTS.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { agentOpenApiDocument } from '../src/agent/openapi.ts';
import { managerOpenApiDocument } from '../src/manager/http/openapi.ts';

export const DOCUMENTS: Record<string, () => Promise<unknown>> = {
  agent: agentOpenApiDocument,
  manager: managerOpenApiDocument,
};

export function documentPath(service: string): string {
  return fileURLToPath(new URL(`../openapi/${service}.json`, import.meta.url));
}

/** The exact text a document file must hold. */
export async function renderDocument(service: string): Promise<string> {
  const build = DOCUMENTS[service];
  if (!build) throw new Error(`unknown service ${service}`);
  return `${JSON.stringify(await build(), null, 2)}\n`;
}

/** Services whose checked-in document differs from the generated one. */
export async function driftedDocuments(): Promise<string[]> {
  const drifted: string[] = [];
  for (const service of Object.keys(DOCUMENTS)) {
    const expected = await renderDocument(service);
    const actual = await readFile(documentPath(service), 'utf8').catch((err: unknown) => {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    });
    if (actual !== expected) drifted.push(documentPath(service));
  }
  return drifted;
}

async function main(argv: string[]): Promise<number> {
  const mode = argv[0];
  if (mode === '--write') {
    for (const service of Object.keys(DOCUMENTS)) {
      await writeFile(documentPath(service), await renderDocument(service));
      process.stdout.write(`wrote ${documentPath(service)}\n`);
    }
    return 0;
  }
  if (mode === '--check') {
    const drifted = await driftedDocuments();
    for (const file of drifted) {
      process.stderr.write(`${file} is out of date: run npm run openapi\n`);
    }
    return drifted.length === 0 ? 0 : 1;
  }
  process.stderr.write('usage: openapi.ts --write | --check\n');
  return 2;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
