/** The limit options as commander parses them: values, units, `unlimited`, and bad values. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { limitOptions, limitsFrom } from '../../src/adm/limits.ts';

function parse(args: string[]): Record<string, unknown> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined });
  for (const option of limitOptions()) program.addOption(option);
  program.parse(args, { from: 'user' });
  return program.opts();
}

test('unlimited is sent as null, beside numbers and byte rates', () => {
  assert.deepEqual(
    limitsFrom(
      parse([
        '--objects-per-second',
        'unlimited',
        '--bytes-per-second',
        '20MiB',
        '--metadata-updates-per-second',
        '100',
      ]),
    ),
    {
      objects_per_second: null,
      bytes_per_second: 20 * 1024 * 1024,
      metadata_updates_per_second: 100,
    },
  );
  assert.deepEqual(limitsFrom(parse(['--bytes-per-second', 'none'])), { bytes_per_second: null });
  assert.deepEqual(limitsFrom(parse([])), {});
});

test('a bad value names its option', () => {
  assert.throws(() => parse(['--objects-per-second', '0']), /--objects-per-second: "0"/);
  assert.throws(() => parse(['--objects-per-second', '5k']), /is not a positive integer/);
});
