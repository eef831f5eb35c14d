import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { checkJsonBounds, JsonBodyError, parseJsonBody } from '../../src/api/json-body.ts';
import { fieldPath, schemaErrorFormatter } from '../../src/api/validation.ts';

const LIMITS = { maxDepth: 4, maxStringBytes: 8, maxContainers: 6 };
const bytes = (text: string) => Buffer.from(text, 'utf8');

function refused(text: string, code: 'BadRequest' | 'PayloadTooLarge', message: RegExp): void {
  assert.throws(
    () => parseJsonBody(bytes(text), LIMITS),
    (e: unknown) => e instanceof JsonBodyError && e.code === code && message.test(e.message),
    text,
  );
}

describe('bounded JSON bodies', () => {
  test('depth, string length and container count are bounded before parsing', () => {
    assert.deepEqual(parseJsonBody(bytes('[[[{"a":"12345678"}]]]'), LIMITS), [
      [[{ a: '12345678' }]],
    ]);
    refused('[[[[[]]]]]', 'BadRequest', /nests deeper than 4 levels \(at byte 4\)/);
    refused('["123456789"]', 'BadRequest', /string longer than 8 bytes \(at byte 1\)/);
    refused('{"123456789":1}', 'BadRequest', /string longer than 8 bytes/);
    refused('[{},{},{},{},{},{}]', 'PayloadTooLarge', /more than 6 objects and arrays/);
    assert.equal(new JsonBodyError('PayloadTooLarge', 'x').status, 413);
  });

  test('structural characters inside strings and escapes do not count', () => {
    const text = '["[[[[[", "{{\\"{{", "\\\\"]';
    assert.deepEqual(parseJsonBody(bytes(text), LIMITS), ['[[[[[', '{{"{{', '\\']);
    // Multi-byte UTF-8 counts in bytes (é is 2): 4 × 2 = 8 fits, 5 × 2 does not.
    assert.deepEqual(parseJsonBody(bytes('["éééé"]'), LIMITS), ['éééé']);
    refused('["ééééé"]', 'BadRequest', /string longer than 8 bytes/);
  });

  test('not JSON is a 400; an empty body is undefined', () => {
    refused('{not json', 'BadRequest', /^is not valid JSON: /);
    refused('"abc', 'BadRequest', /^is not valid JSON: /);
    assert.equal(parseJsonBody(bytes(''), LIMITS), undefined);
    assert.equal(parseJsonBody(bytes(' \n'), LIMITS), undefined);
  });

  test('within generous bounds it parses exactly as JSON.parse (property)', () => {
    const wide = { maxDepth: 64, maxStringBytes: 1 << 20, maxContainers: 1 << 20 };
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
        const text = JSON.stringify(value);
        checkJsonBounds(bytes(text), wide);
        assert.deepEqual(parseJsonBody(bytes(text), wide), JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  test('a pre-scan of 8 MiB is linear and quick', () => {
    const body = bytes(`[${'{"a":"x","b":[1,2]},'.repeat(400_000)}{}]`);
    const start = performance.now();
    checkJsonBounds(body, { maxDepth: 8, maxStringBytes: 64, maxContainers: 1 << 21 });
    assert.ok(performance.now() - start < 1000);
  });
});

describe('schema error messages', () => {
  test('name the unknown key, the missing key and the field', () => {
    assert.equal(fieldPath('body', '/tasks/0/source/x~1y'), 'body.tasks[0].source.x/y');
    const unknown = schemaErrorFormatter(
      [
        { keyword: 'type', instancePath: '/params/a', params: { type: 'integer' } },
        {
          keyword: 'additionalProperties',
          instancePath: '/params',
          params: { additionalProperty: 'zz' },
        },
      ],
      'body',
    );
    assert.equal(unknown.message, 'body.params: unknown key "zz"');
    const anyOf = schemaErrorFormatter(
      [
        { keyword: 'type', instancePath: '/n', params: { type: 'integer' } },
        { keyword: 'type', instancePath: '/n', params: { type: 'null' } },
        { keyword: 'anyOf', instancePath: '/n', params: {} },
      ],
      'body',
    );
    assert.equal(anyOf.message, 'body.n must be integer or null');
    const missing = schemaErrorFormatter(
      [{ keyword: 'required', instancePath: '', params: { missingProperty: 'params' } }],
      'body',
    );
    assert.equal(missing.message, 'body: missing required key "params"');
  });
});
