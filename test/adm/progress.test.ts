/**
 * The one progress renderer: what a frame says of the manager's `progress` (estimate marker,
 * rates, an ETA only when the manager has one, the stall's reason, a paused job), and how
 * frames are written: redrawn in place on a terminal, plain lines otherwise.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProgressView, progressLines } from '../../src/adm/progress.ts';
import type { JobStatus } from '../../src/api/manager.ts';
import type { JobProgress } from '../../src/api/progress.ts';

const MiB = 1024 * 1024;

function status(progress?: Partial<JobProgress>, state: JobStatus['state'] = 'Running'): JobStatus {
  return {
    config: { action: 'Evacuate', from_shark: { manta_storage_id: '1.stor.x', datacenter: 'dc1' } },
    state,
    results: {
      Unprocessed: 600,
      Assigned: 100,
      Skipped: 20,
      Error: 5,
      'Post Processing': 0,
      Complete: 275,
      Duplicates: 0,
      Total: 1000,
    },
    ...(progress === undefined
      ? {}
      : {
          progress: {
            objects_done: 300,
            objects_total: 1000,
            bytes_done: 300 * MiB,
            bytes_total: 1000 * MiB,
            total_is_estimate: false,
            objects_per_second: 12.4,
            bytes_per_second: 12.4 * MiB,
            eta_seconds: 250,
            stalled: null,
            ...progress,
          },
        }),
  };
}

/** A stream that keeps what is written; a terminal when `isTTY`. */
function sink(isTTY: boolean) {
  const written: string[] = [];
  return {
    written,
    out: { write: (text: string) => written.push(text), isTTY, columns: 200, rows: 40 },
  };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape codes are the point
const ESCAPE = /\x1b\[/;

describe('progress renderer', () => {
  test('a frame: bar, counts, bytes, rates and the ETA the manager gave', () => {
    assert.deepEqual(progressLines(status({})), [
      'Running   [#########---------------------]   30%  300/1,000 done (complete 275, ' +
        'skipped 20, error 5)  300 MiB/1000 MiB  12 obj/s  12 MiB/s  ETA 4m 10s',
    ]);
    const [slow] = progressLines(status({ objects_per_second: 0.5, eta_seconds: 2 * 3600 + 300 }));
    assert.match(slow ?? '', / 0\.5 obj\/s .* ETA 2h 05m$/);
  });

  test('an estimated total is marked; no ETA at all when the manager has none', () => {
    const [line] = progressLines(status({ total_is_estimate: true, eta_seconds: null }));
    assert.match(line ?? '', / 300\/~1,000 done /);
    assert.match(line ?? '', / 300 MiB\/~1000 MiB /);
    assert.doesNotMatch(line ?? '', /ETA/);
  });

  test('a stalled job says since when and why, on a line of its own', () => {
    const lines = progressLines(
      status({
        eta_seconds: null,
        objects_per_second: 0,
        stalled: {
          since: '2025-01-02T03:04:05.678Z',
          reason: 'agent 3.stor.x: connect ECONNREFUSED (since 2m)',
        },
      }),
    );
    assert.equal(lines.length, 2);
    assert.equal(
      lines[1],
      '  stalled since 2025-01-02T03:04:05Z: agent 3.stor.x: connect ECONNREFUSED (since 2m)',
    );
  });

  test('a paused job shows Paused, without an ETA', () => {
    const [line] = progressLines(status({ eta_seconds: null, objects_per_second: 0 }, 'Paused'));
    assert.match(line ?? '', /^Paused {4}\[/);
    assert.doesNotMatch(line ?? '', /ETA/);
  });

  test('without a progress (an older manager): the counts, no rate, no ETA', () => {
    const [line] = progressLines(status());
    assert.match(line ?? '', /^Running {3}\[#{9}-{21}\] {3}30% {2}300\/1,000 done \(complete 275/);
    assert.doesNotMatch(line ?? '', /obj\/s|ETA|MiB/);
  });

  test('not a terminal: a plain line per update, at most one per plainEveryMs, the last always', () => {
    const every = sink(false);
    const view = new ProgressView(every.out);
    view.update(status({}));
    view.update(status({ stalled: { since: '2025-01-02T03:04:05Z', reason: 'r' } }));
    view.finish(status({}, 'Complete'));
    assert.equal(every.written.length, 3);
    assert.ok(every.written.every((t) => t.endsWith('\n') && !ESCAPE.test(t) && !t.includes('\r')));
    assert.match(every.written[1] ?? '', /\n {2}stalled since .*: r\n$/);

    const throttled = sink(false);
    const demo = new ProgressView(throttled.out, { plainEveryMs: 60_000 });
    demo.update(status({}));
    demo.update(status({}));
    demo.finish(status({}, 'Complete'));
    assert.equal(throttled.written.length, 2, 'one periodic line, then the final one');
    assert.match(throttled.written[1] ?? '', /^Complete /);
  });

  test('a terminal: redrawn in place, the stall line erased when it goes, the last frame kept', () => {
    const tty = sink(true);
    const view = new ProgressView(tty.out);
    view.update(status({}));
    view.update(status({ stalled: { since: '2025-01-02T03:04:05Z', reason: 'r' } }));
    view.update(status({ objects_done: 400 }));
    view.finish(status({ objects_done: 1000, eta_seconds: null }, 'Complete'));
    const [first, stalled, moving, last] = tty.written;
    assert.match(first ?? '', /Running .* 300\/1,000 done/);
    assert.ok(stalled?.includes('stalled since'));
    // Two lines on screen: the cursor goes up over both, erasing them.
    const ups = (moving ?? '').split('\x1b[1A').length - 1;
    assert.ok(moving?.includes('\x1b[2K') && ups === 2, `erased in place (${ups} lines up)`);
    assert.ok(moving?.includes('400/1,000 done') && !moving.includes('stalled'));
    assert.ok(last?.includes('Complete') && last.includes('1,000/1,000 done'));
    tty.written.length = 0;
    tty.out.write('after\n');
    assert.deepEqual(tty.written, ['after\n'], 'nothing redraws once finished');
  });
});
