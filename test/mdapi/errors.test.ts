/**
 * Reading buckets-mdapi's errors: both wrapped forms, the name -> typed error table, and the
 * Fast layer's failures as unsupported, transient or protocol errors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  FastConnectionError,
  FastProtocolError,
  FastServerError,
  FastTimeoutError,
} from '../../src/fast/index.ts';
import {
  isRetryableMdapiError,
  MdapiEtagMismatchError,
  MdapiObjectNotFoundError,
  MdapiOverloadedError,
  MdapiProtocolError,
  MdapiServerError,
  MdapiTransientError,
  MdapiUnsupportedError,
  serverError,
  toMdapiError,
  wrappedError,
} from '../../src/mdapi/index.ts';

const at = { method: 'updateobject', shard: 'h:2030' };

describe('wrappedError', () => {
  test('reads {"error": {name, message}} and the bare limit variant, nothing else', () => {
    assert.deepEqual(wrappedError({ error: { name: 'ObjectNotFound', message: 'm' } }), {
      name: 'ObjectNotFound',
      message: 'm',
    });
    assert.deepEqual(wrappedError({ LimitConstraintError: 'too many' }), {
      name: 'LimitConstraintError',
      message: 'too many',
    });
    for (const value of [
      null,
      'error',
      [],
      { error: 'x' },
      { error: { name: 'x' } },
      { LimitConstraintError: 'x', other: 1 },
      { id: 'x', name: 'obj' },
      { failed_vnodes: [] },
    ]) {
      assert.equal(wrappedError(value), undefined, JSON.stringify(value));
    }
  });
});

describe('serverError', () => {
  test('each name its class and stable code; the rest generic, name and message kept', () => {
    const cases: [string, new (...a: never[]) => MdapiServerError, string][] = [
      ['PreconditionFailedError', MdapiEtagMismatchError, 'mdapi_etag_mismatch'],
      ['ObjectNotFound', MdapiObjectNotFoundError, 'mdapi_object_not_found'],
      ['OverloadedError', MdapiOverloadedError, 'mdapi_overloaded'],
      ['PostgresError', MdapiServerError, 'mdapi_server_error'],
      ['BucketNotFound', MdapiServerError, 'mdapi_server_error'],
      ['LimitConstraintError', MdapiServerError, 'mdapi_server_error'],
    ];
    for (const [name, type, code] of cases) {
      const err = serverError(name, `text of ${name}`, at);
      assert.ok(err instanceof type, name);
      assert.deepEqual(
        [err.code, err.serverName, err.serverMessage],
        [code, name, `text of ${name}`],
      );
      assert.equal(err.message, `updateobject on h:2030: ${name}: text of ${name}`);
    }
    assert.equal(isRetryableMdapiError(serverError('OverloadedError', 'x', at)), true);
    assert.equal(isRetryableMdapiError(serverError('PreconditionFailedError', 'x', at)), false);
    assert.equal(isRetryableMdapiError(serverError('PostgresError', 'x', at)), false);
  });

  test('missingVnodeSchema: only a PostgresError naming a vnode relation', () => {
    const missing = 'db error: ERROR: relation "manta_bucket_7.manta_bucket_object" does not exist';
    assert.equal(serverError('PostgresError', missing, at).missingVnodeSchema, true);
    assert.equal(
      serverError('PostgresError', 'db error: ERROR: deadlock', at).missingVnodeSchema,
      false,
    );
    assert.equal(serverError('BucketNotFound', missing, at).missingVnodeSchema, false);
  });
});

describe('toMdapiError', () => {
  test('Fast ERRORs: "Unsupported"/"not implemented" are unsupported, others server errors', () => {
    const fast = (message: string) =>
      new FastServerError('listvnodes', { name: 'FastError', message });
    for (const message of [
      'Unsupported functon: listvnodes',
      'unsupported RPC method: "x"',
      'listvnodes not implemented',
    ]) {
      assert.ok(
        toMdapiError(fast(message), 'listvnodes', 'h') instanceof MdapiUnsupportedError,
        message,
      );
    }
    const other = toMdapiError(fast('missing field `vnode`'), 'getobject', 'h');
    assert.ok(other instanceof MdapiServerError);
    assert.equal(other.serverName, 'FastError');
  });

  test('connection loss, timeout and a bad frame are transient; an oversized request is not', () => {
    const transient = [
      new FastConnectionError('h:1', 'connection lost'),
      new FastTimeoutError('getobject', 50),
      new FastProtocolError('bad_crc', 'bad crc'),
    ];
    for (const err of transient) {
      const mapped = toMdapiError(err, 'getobject', 'h:1');
      assert.ok(mapped instanceof MdapiTransientError, err.name);
      assert.equal(mapped.cause, err);
      assert.equal(isRetryableMdapiError(mapped), true);
    }
    const tooLarge = toMdapiError(new FastProtocolError('message_too_large', 'big'), 'x', 'h');
    assert.ok(tooLarge instanceof MdapiProtocolError);
    assert.equal(isRetryableMdapiError(tooLarge), false);
    const plain = new Error('not ours');
    assert.equal(toMdapiError(plain, 'x', 'h'), plain);
  });
});
