import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UNSAFE_REASONS } from '../../src/api/audit.ts';
import { JOB_EVENT_KINDS } from '../../src/api/console.ts';
import { OBJECT_ERRORS, SKIP_REASONS } from '../../src/manager/store/enums.ts';
import {
  errorCode,
  estimateBasisWords,
  eventDetail,
  eventWords,
  reasonWords,
} from '../../src/ui/reasons.ts';

describe('reason codes in words', () => {
  test('every skip reason, object error and unsafe reason the manager knows has a sentence', () => {
    for (const code of [...SKIP_REASONS, ...OBJECT_ERRORS, ...UNSAFE_REASONS]) {
      const words = reasonWords(code);
      assert.notEqual(words, code, `${code} has no words`);
      assert.match(words, /^[A-Zb].*\.$/, `${code}: a sentence: ${words}`);
    }
  });

  test('an HTTP status reason names the status; an unknown code is shown as it is', () => {
    assert.equal(reasonWords('{http_status_code:404}'), 'The source shark answered HTTP 404.');
    assert.equal(reasonWords('some_new_reason'), 'some_new_reason');
    assert.equal(reasonWords('{http_status_code:abc}'), '{http_status_code:abc}');
  });

  test('an error_breakdown entry maps back to the error code it counts', () => {
    assert.equal(errorCode('moray', 'etag_mismatch'), 'moray_etag_mismatch');
    assert.equal(errorCode('mdapi', 'object_not_found'), 'mdapi_object_not_found');
    assert.equal(errorCode('other', 'bad_manta_object'), 'bad_manta_object');
    assert.notEqual(reasonWords(errorCode('moray', 'update_failed')), 'moray_update_failed');
  });

  test('every event kind has words; a pause says paused', () => {
    for (const kind of JOB_EVENT_KINDS) assert.notEqual(eventWords(kind), kind, kind);
    assert.match(eventWords('paused'), /paused/i);
    assert.equal(eventWords('something_new'), 'something_new');
  });

  test("a limit change lists what changed; other details are 'key: value'", () => {
    const unlimited = {
      objects_per_second: null,
      bytes_per_second: 5,
      metadata_updates_per_second: null,
    };
    assert.equal(
      eventDetail('limits_changed', {
        from: unlimited,
        to: { ...unlimited, objects_per_second: 20 },
      }),
      'objects/s: unlimited → 20',
    );
    assert.equal(
      eventDetail('limits_changed', {
        from: { ...unlimited, objects_per_second: 20 },
        to: unlimited,
      }),
      'objects/s: 20 → unlimited',
    );
    assert.equal(
      eventDetail('unstalled', { objects_done: 12, stalled_seconds: 30 }),
      'objects done: 12, stalled seconds: 30',
    );
    assert.equal(
      eventDetail('created', { limits: { ...unlimited, objects_per_second: 20 }, dry_run: true }),
      'limits: objects/s 20, bytes/s 5, metadata updates/s unlimited, dry run: true',
    );
    assert.equal(eventDetail('convergence_round', { became: { a: 1 } }), 'became: {"a":1}');
    assert.equal(eventDetail('paused', {}), '');
  });

  test("a plan's estimate basis: a limit in words, the manager's own words kept", () => {
    assert.equal(estimateBasisWords('bytes_per_second'), 'the bytes-per-second limit');
    assert.equal(estimateBasisWords('no limit set'), 'no limit set');
  });
});
