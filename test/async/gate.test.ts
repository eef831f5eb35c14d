import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Gate } from '../../src/async/index.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Gate', () => {
  test('an open gate lets through at once; a closed one holds until opened', async () => {
    const gate = new Gate();
    await gate.wait();
    gate.close();
    assert.equal(gate.isOpen, false);
    let passed = false;
    const waiting = gate.wait().then(() => {
      passed = true;
    });
    await tick();
    assert.equal(passed, false);
    gate.open();
    await waiting;
    assert.equal(passed, true);
  });

  test('an abort ends a wait with its reason', async () => {
    const gate = new Gate(false);
    const abort = new AbortController();
    const waiting = gate.wait(abort.signal);
    abort.abort(new Error('stopped'));
    await assert.rejects(waiting, /stopped/);
  });
});
