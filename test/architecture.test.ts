/**
 * DESIGN.md's layering, "a module imports downward only", as one table checked against every
 * import in src/ (static, `export ... from`, and `import('...')`, type-only ones included).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseModule, resolveSpecifier } from './support/source-imports.ts';

type Allowed = readonly string[] | 'anything';

/**
 * Module (top-level directory or file of src/) -> the modules of ours it may import. A module
 * may always import its own files, and every module may import the leaves in EVERYWHERE. A
 * new module needs a row here: the test says so.
 */
const LAYERS: Readonly<Record<string, Allowed>> = {
  // The error base (RebalancerError, DESIGN: "every error extends one base class"): a leaf
  // that imports nothing, in EVERYWHERE. It is the one exception to "`async` and `api`
  // import nothing of ours".
  errors: [],
  // The ground floor. `async` imports nothing of ours (but the error base).
  async: [],
  log: ['async'],
  db: ['async', 'log'],
  // Where the running package is (root, version): plain Node, no dependencies of ours.
  'package-info': [],
  // fast <- moray/mdapi <- discovery.
  fast: ['async', 'log'],
  moray: ['async', 'log', 'fast'],
  mdapi: ['async', 'log', 'fast'],
  // The domain: object records, shark ids, paths. A record's copies are the wire's StorageNode.
  manta: ['async', 'log', 'api'],
  storinfo: ['async', 'log', 'manta', 'api'],
  discovery: ['async', 'log', 'db', 'fast', 'moray', 'mdapi', 'manta'],
  // The wire schemas: nothing of ours (but the error base), imported by agent, manager, adm,
  // ui (the web console).
  api: [],
  // The services: never each other.
  agent: ['async', 'log', 'db', 'manta', 'api', 'package-info'],
  manager: [
    'async',
    'log',
    'db',
    'fast',
    'moray',
    'mdapi',
    'manta',
    'storinfo',
    'discovery',
    'api',
    'package-info',
  ],
  // The web console, browser code (DESIGN.md's src/console): only the schemas.
  ui: ['api'],
  // The operator's CLI talks to the manager over HTTP: the schemas, never the services.
  adm: ['async', 'log', 'manta', 'api', 'package-info'],
  // Stand-ins, seeding, the demo: anything; nothing imports the sandbox.
  sandbox: 'anything',
};

/** Leaves every module may import without listing them: imports nothing, depends on nothing. */
const EVERYWHERE = new Set(['errors']);

/** Named by DESIGN.md's source layout but not written yet. */
const PLANNED = new Set<string>();

interface SourceFile {
  /** Repository-relative, e.g. src/manager/main.ts. */
  path: string;
  text: string;
}

/** src/manager/http/x.ts -> manager; src/package-info.ts -> package-info; outside src/ -> undefined. */
function moduleOf(path: string): string | undefined {
  const parts = path.split('/');
  if (parts[0] !== 'src' || parts.length < 2) return undefined;
  return parts.length === 2 ? (parts[1] as string).replace(/\.[cm]?tsx?$/, '') : parts[1];
}

/** Every import that breaks the table, as "file:line: 'specifier' — why". */
function checkLayering(files: readonly SourceFile[], layers = LAYERS): string[] {
  const paths = new Set(files.map((f) => f.path));
  const violations: string[] = [];
  for (const file of files) {
    const from = moduleOf(file.path);
    const allowed = from === undefined ? undefined : layers[from];
    if (from === undefined || allowed === undefined) {
      violations.push(`${file.path}: module '${from}' has no row in the layering table`);
      continue;
    }
    const parsed = parseModule(file.text);
    for (const line of parsed.opaqueDynamicImports)
      violations.push(`${file.path}:${line}: import() of a computed specifier cannot be checked`);
    for (const imp of parsed.imports) {
      const target = resolveSpecifier(file.path, imp.specifier, (p) => paths.has(p));
      if (target === undefined) continue; // a package
      const where = `${file.path}:${imp.line}: '${imp.specifier}'`;
      const to = moduleOf(target);
      if (to === undefined) violations.push(`${where} reaches outside src/ (${target})`);
      else if (to === from || EVERYWHERE.has(to)) continue;
      else if (layers[to] === undefined)
        violations.push(`${where}: module '${to}' has no row in the table`);
      else if (to === 'sandbox')
        violations.push(`${where}: ${from} -> sandbox; nothing imports the sandbox`);
      else if (allowed !== 'anything' && !allowed.includes(to))
        violations.push(
          `${where}: ${from} -> ${to}; ${from} may import only ${allowed.join(', ') || 'nothing of ours'}`,
        );
    }
  }
  return violations;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function readTree(dir: string, out: SourceFile[] = []): SourceFile[] {
  for (const entry of readdirSync(join(ROOT, dir)).sort()) {
    const path = `${dir}/${entry}`;
    if (statSync(join(ROOT, path)).isDirectory()) readTree(path, out);
    else if (/\.[cm]?tsx?$/.test(entry) && !entry.endsWith('.d.ts'))
      out.push({ path, text: readFileSync(join(ROOT, path), 'utf8') });
  }
  return out;
}

describe('layering of src/ (DESIGN.md: a module imports downward only)', () => {
  const tree = readTree('src');

  test('every import in src/ is allowed by the table', () => {
    const violations = checkLayering(tree);
    assert.deepEqual(violations, [], `layering broken:\n  ${violations.join('\n  ')}`);
  });

  test('every module under src/ has a row, and every row is a module (or one DESIGN plans)', () => {
    const modules = new Set(
      readdirSync(join(ROOT, 'src')).map((entry) => moduleOf(`src/${entry}`) as string),
    );
    for (const module of modules)
      assert.ok(
        module in LAYERS,
        `src/${module} is new: add it to LAYERS in test/architecture.test.ts`,
      );
    for (const row of Object.keys(LAYERS))
      assert.ok(
        modules.has(row) || PLANNED.has(row),
        `LAYERS has '${row}', which src/ no longer has`,
      );
  });

  test("the table keeps DESIGN's rules and has no cycle", () => {
    const rows = Object.entries(LAYERS);
    assert.deepEqual(LAYERS.async, [], 'async imports nothing of ours');
    assert.deepEqual(LAYERS.api, [], 'api imports nothing of ours');
    for (const leaf of EVERYWHERE) assert.deepEqual(LAYERS[leaf], [], `${leaf} is a leaf`);
    assert.deepEqual(LAYERS.ui, ['api'], 'the console (ui) imports only api');
    for (const ground of ['log', 'db'])
      for (const dep of LAYERS[ground] as readonly string[])
        assert.ok(['async', 'log'].includes(dep), `${ground} stays on the ground floor (${dep})`);
    assert.ok(
      !(LAYERS.agent as readonly string[]).includes('manager'),
      'agent never imports manager',
    );
    assert.ok(
      !(LAYERS.manager as readonly string[]).includes('agent'),
      'manager never imports agent',
    );
    for (const [row, allowed] of rows) {
      if (allowed === 'anything') continue;
      for (const dep of allowed) {
        assert.ok(dep in LAYERS, `${row} lists '${dep}', which has no row`);
        assert.notEqual(dep, 'sandbox', `${row} may not import the sandbox`);
      }
    }
    // Depth-first search for a cycle among the rows with explicit lists.
    const state = new Map<string, 'open' | 'done'>();
    const visit = (row: string, path: string[]): void => {
      if (state.get(row) === 'done') return;
      assert.notEqual(state.get(row), 'open', `cycle: ${[...path, row].join(' -> ')}`);
      state.set(row, 'open');
      const allowed = LAYERS[row];
      if (allowed !== undefined && allowed !== 'anything')
        for (const dep of allowed) visit(dep, [...path, row]);
      state.set(row, 'done');
    };
    for (const [row] of rows) visit(row, []);
  });

  test('a bad import added to a copy of the real tree is caught, naming file and import', () => {
    const bad = { path: 'src/agent/zz-bad.ts', text: "import { x } from '../manager/main.ts';\n" };
    assert.deepEqual(checkLayering([...tree, bad]), [
      "src/agent/zz-bad.ts:1: '../manager/main.ts': agent -> manager; agent may import only async, log, db, manta, api, package-info",
    ]);
  });
});

describe('checkLayering on synthetic trees', () => {
  const file = (path: string, text: string): SourceFile => ({ path, text });

  test('each import form is checked, type-only ones included', () => {
    const files = [
      file('src/api/a.ts', "import type { Logger } from '../log/index.ts';\n"),
      file('src/manager/b.ts', "\n\nexport { Task } from '../agent/types.ts';\n"),
      file('src/ui/c.ts', "export * from '../manta/index.ts';\n"),
      file('src/moray/d.ts', "const m = await import('../discovery/index.ts');\n"),
      file(
        'src/log/e.ts',
        "type D = import('../db/types.ts').Database;\nimport '../fast/index.ts';\n",
      ),
      file('src/adm/f.ts', "import { x } from '../sandbox/mako/main.ts';\n"),
    ];
    assert.deepEqual(checkLayering(files), [
      "src/api/a.ts:1: '../log/index.ts': api -> log; api may import only nothing of ours",
      "src/manager/b.ts:3: '../agent/types.ts': manager -> agent; manager may import only async, log, db, fast, moray, mdapi, manta, storinfo, discovery, api, package-info",
      "src/ui/c.ts:1: '../manta/index.ts': ui -> manta; ui may import only api",
      "src/moray/d.ts:1: '../discovery/index.ts': moray -> discovery; moray may import only async, log, fast",
      "src/log/e.ts:1: '../db/types.ts': log -> db; log may import only async",
      "src/log/e.ts:2: '../fast/index.ts': log -> fast; log may import only async",
      "src/adm/f.ts:1: '../sandbox/mako/main.ts': adm -> sandbox; nothing imports the sandbox",
    ]);
  });

  test('allowed imports, packages, own files and the sandbox pass', () => {
    const files = [
      file(
        'src/moray/a.ts',
        "import { FastClient } from '../fast/index.ts';\nimport pg from 'pg';\n",
      ),
      file(
        'src/manager/http/b.ts',
        "import { c } from '../jobs/c.ts';\nimport { d } from '../../db/index.ts';\n",
      ),
      file(
        'src/sandbox/c.ts',
        "import { m } from '../manager/main.ts';\nimport { a } from '../agent/main.ts';\n",
      ),
      file('src/agent/d.ts', "import { PACKAGE_VERSION } from '../package-info.ts';\n"),
      file('src/async/e.ts', "import { RebalancerError } from '../errors.ts';\n"),
      file('src/api/f.ts', "import { RebalancerError } from '../errors.ts';\n"),
    ];
    assert.deepEqual(checkLayering(files), []);
  });

  test('imports inside comments, strings, templates and regular expressions are not imports', () => {
    const text = [
      "// import { x } from '../manager/main.ts';",
      "/* export * from '../manager/main.ts'; */",
      'const s = "import { y } from \'../manager/main.ts\'";',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template literal
      "const t = `import('../manager/main.ts') ${'`'} import('../sandbox/x.ts')`;",
      "const r = /import\\('..\\/manager'\\)/;",
      'const meta = import.meta.url;',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template literal
      "const ok = `${await import('../log/index.ts')}`;",
    ].join('\n');
    assert.deepEqual(checkLayering([file('src/agent/a.ts', text)]), []);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template literal
    const hidden = "const t = `${await import('../manager/main.ts')}`;";
    assert.equal(
      checkLayering([file('src/agent/a.ts', hidden)]).length,
      1,
      'a real import() in a template',
    );
  });

  test('unknown modules, escapes from src/ and computed import() are violations', () => {
    const files = [
      file('src/newthing/a.ts', 'export const a = 1;\n'),
      file('src/agent/b.ts', "import { t } from '../../test/support/log.ts';\n"),
      file('src/agent/c.ts', "import { x } from '../widgets/x.ts';\n"),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template literal
      file('src/agent/d.ts', 'const name = "x";\nawait import(`../${name}.ts`);\n'),
    ];
    assert.deepEqual(checkLayering(files), [
      "src/newthing/a.ts: module 'newthing' has no row in the layering table",
      "src/agent/b.ts:1: '../../test/support/log.ts' reaches outside src/ (test/support/log.ts)",
      "src/agent/c.ts:1: '../widgets/x.ts': module 'widgets' has no row in the table",
      'src/agent/d.ts:2: import() of a computed specifier cannot be checked',
    ]);
  });
});
