/**
 * No dead code behind an `export`: every export of src/ is imported by some other file (src/,
 * scripts/, bench/, test/support/ or a test of another module), or used by its own file. What
 * is exported only to be tested by its own module's tests, and used nowhere, is dead.
 * `node --import tsx test/support/dead-exports.ts` lists every export nothing imports (also
 * the ones used only inside their own file, which this test allows).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findUnusedExports, readSources, type SourceFile } from './support/dead-exports.ts';
import { parseModule } from './support/source-imports.ts';

/** Exports kept although only their own tests use them: "file name" -> why. */
const KEPT: Readonly<Record<string, string>> = {
  'src/fast/crc.ts crc16Xmodem': "the plain CRC-16/XMODEM the v1 CRC's tests compare against",
  'src/manager/sharks.ts StaticSharkDirectory': 'the shark directory the manager tests run with',
  'src/manta/paths.ts parseObjectPath': "the inverse the path builders' round-trip property checks",
  // DESIGN.md: the Moray client has filter helpers; the full RFC 4515 set, tested, for callers.
  'src/moray/filter.ts ge': 'filter helper',
  'src/moray/filter.ts le': 'filter helper',
  'src/moray/filter.ts present': 'filter helper',
  'src/moray/filter.ts substring': 'filter helper',
  'src/moray/filter.ts and': 'filter helper',
  'src/moray/filter.ts or': 'filter helper',
  'src/moray/filter.ts not': 'filter helper',
};

/** Exports that exist only as exports: nothing imports them and their own file never uses them. */
function deadCode(files: readonly SourceFile[]) {
  return findUnusedExports(files).filter((u) => !u.reexport && u.localUses === 0);
}

describe('dead exports in src/', () => {
  const sources = readSources();

  test('every export is imported or used by its own file (or kept, with a reason)', () => {
    const dead = deadCode(sources)
      .filter((u) => KEPT[`${u.file} ${u.name}`] === undefined)
      .map((u) => `${u.file}:${u.line} ${u.name} (${u.status})`);
    assert.deepEqual(
      dead,
      [],
      `remove these, or add them to KEPT with a reason:\n  ${dead.join('\n  ')}`,
    );
  });

  test('every kept export still exists', () => {
    const exported = new Set(
      sources.flatMap((f) => parseModule(f.text).exports.map((e) => `${f.path} ${e.name}`)),
    );
    for (const key of Object.keys(KEPT))
      assert.ok(exported.has(key), `KEPT names ${key}, which is gone`);
  });
});

describe('findUnusedExports on synthetic trees', () => {
  const file = (path: string, text: string): SourceFile => ({ path, text });
  const report = (files: SourceFile[]) =>
    findUnusedExports(files).map((u) => `${u.file} ${u.name} ${u.status} local=${u.localUses}`);

  test('a use from another file, through a barrel, counts; own-file use and own tests do not', () => {
    const files = [
      file(
        'src/m/a.ts',
        'export function used() {}\nexport function local() {}\nlocal();\nexport const tested = 1;\nexport interface Gone {}\n',
      ),
      file(
        'src/m/index.ts',
        "export { used, tested as alias } from './a.ts';\nexport * from './b.ts';\n",
      ),
      file('src/m/b.ts', 'export type Viaall = string;\nexport const unseen = 2;\n'),
      file('src/n/user.ts', "import { used, type Viaall } from '../m/index.ts';\n"),
      file('test/m/a.test.ts', "import { tested } from '../../src/m/a.ts';\n"),
    ];
    assert.deepEqual(report(files), [
      'src/m/a.ts local dead local=1',
      'src/m/a.ts tested test-only local=0',
      'src/m/a.ts Gone dead local=0',
      // The barrel's alias is what nobody imports; `tested` itself is imported by its test.
      'src/m/index.ts alias dead local=0',
      'src/m/b.ts unseen dead local=0',
    ]);
  });

  test('tests of the same module only test; tests of other modules, support and scripts use', () => {
    const files = [
      file(
        'src/m/a.ts',
        'export const onlyTested = 1;\nexport const helper = 2;\nexport const tool = 3;\n',
      ),
      file('src/m/b.ts', 'export class Fixture {}\nexport default function run() {}\n'),
      file('test/m/a.test.ts', "import { onlyTested } from '../../src/m/a.ts';\n"),
      file('test/support/h.ts', "import { helper } from '../../src/m/a.ts';\n"),
      file('scripts/t.ts', "import { tool } from '../src/m/a.ts';\n"),
      file('test/other/x.test.ts', "import run, { Fixture } from '../../src/m/b.ts';\n"),
    ];
    assert.deepEqual(report(files), ['src/m/a.ts onlyTested test-only local=0']);
  });

  test('namespace and dynamic imports use everything; type-only imports count', () => {
    const files = [
      file('src/m/a.ts', 'export const x = 1;\nexport type T = number;\n'),
      file('src/m/e.ts', 'export const y = 1;\n'),
      file('bench/b.ts', "const { y } = await import('../src/m/e.ts');\n"),
      file('src/m/b.ts', 'export type U = string;\nexport interface V {}\n'),
      file('src/n/c.ts', "import * as a from '../m/a.ts';\nimport type { U } from '../m/b.ts';\n"),
      file('src/n/d.ts', "type W = import('../m/b.ts').V;\n"),
    ];
    assert.deepEqual(report(files), []);
  });

  test('the real tree checked with a new dead export fails', () => {
    const sources = readSources();
    const extra = file(
      'src/manta/zz-dead.ts',
      'export function neverUsed(): number {\n  return 1;\n}\n',
    );
    const dead = deadCode([...sources, extra]).map((u) => `${u.file} ${u.name}`);
    assert.ok(dead.includes('src/manta/zz-dead.ts neverUsed'), dead.join('\n'));
  });
});
