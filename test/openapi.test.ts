import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { DOCUMENTS, documentPath, renderDocument } from '../scripts/openapi.ts';

describe('checked-in OpenAPI documents', () => {
  for (const service of Object.keys(DOCUMENTS)) {
    test(`openapi/${service}.json matches the schemas (run npm run openapi to refresh)`, async () => {
      const expected = await renderDocument(service);
      const actual = await readFile(documentPath(service), 'utf8');
      assert.equal(actual, expected, `${documentPath(service)} has drifted`);
    });
  }

  test('the agent document describes the three L routes and the file routes (issue 16)', async () => {
    const doc = JSON.parse(await renderDocument('agent')) as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([m, op]) => `${m.toUpperCase()} ${path} ${op.operationId}`),
    );
    assert.deepEqual(ops.sort(), [
      'DELETE /assignments/{uuid} delete_assignment',
      'GET /assignments/{uuid} get_assignment',
      'GET /files list_files',
      'POST /assignments create_assignment',
      'POST /files/delete delete_files',
    ]);
  });
});
