/**
 * Exports of src/ that nothing uses. An export is *used* when a file other than its own imports
 * it: another file of src/, scripts/, bench/, test/support/, or a test of another module (a
 * test of the sandbox's users uses the sandbox). A test of the exporting module itself (test/m/
 * for src/m/) only tests it: an export only such tests import is reported as *test-only*.
 * Through re-exports (`export { a } from`, `export * from`) a use reaches the declaration.
 *
 * Run `node --import tsx test/support/dead-exports.ts` for the list.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ParsedModule, parseModule, resolveSpecifier, tokenize } from './source-imports.ts';

export interface SourceFile {
  path: string;
  text: string;
}

export interface UnusedExport {
  file: string;
  name: string;
  line: number;
  /** 'dead': nothing imports it; 'test-only': only tests of its own module do. */
  status: 'dead' | 'test-only';
  declares: 'value' | 'type' | 'list';
  /** `export { a } from` or `export * as a from`: a barrel's re-export. */
  reexport: boolean;
  /** How often its own file mentions the name besides declaring (and listing) it. */
  localUses: number;
}

type Use = 'real' | 'test';

/** test/manager/x.test.ts tests src/manager; test/support/ and the rest are consumers. */
function useBy(importer: string, target: string): Use {
  const parts = importer.split('/');
  if (parts[0] !== 'test' || parts[1] === 'support' || parts.length < 3) return 'real';
  return target.split('/')[1] === parts[1] ? 'test' : 'real';
}

export function findUnusedExports(files: readonly SourceFile[]): UnusedExport[] {
  const paths = new Set(files.map((f) => f.path));
  const modules = new Map<string, ParsedModule>(files.map((f) => [f.path, parseModule(f.text)]));
  const uses = new Map<string, Use>(); // "file#name" -> strongest use
  const mark = (file: string, name: string, use: Use, seen = new Set<string>()): void => {
    const key = `${file}#${name}`;
    if (seen.has(key)) return;
    seen.add(key);
    const parsed = modules.get(file);
    if (parsed === undefined) return;
    if (name === '*') {
      for (const e of parsed.exports) mark(file, e.name, use, seen);
      for (const all of parsed.exportAll) {
        const target = resolveSpecifier(file, all.specifier, (p) => paths.has(p));
        if (target !== undefined) mark(target, '*', use, seen);
      }
      return;
    }
    if (uses.get(key) !== 'real') uses.set(key, use);
    const own = parsed.exports.find((e) => e.name === name);
    if (own?.from !== undefined) {
      const target = resolveSpecifier(file, own.from.specifier, (p) => paths.has(p));
      if (target !== undefined) mark(target, own.from.name, use, seen);
    } else if (own === undefined) {
      for (const all of parsed.exportAll) {
        const target = resolveSpecifier(file, all.specifier, (p) => paths.has(p));
        if (target !== undefined) mark(target, name, use, seen);
      }
    }
  };
  for (const [importer, parsed] of modules) {
    for (const imp of parsed.imports) {
      // A barrel's re-export is no use: a use of the barrel's name reaches through it.
      if (imp.kind === 'export-from') continue;
      const target = resolveSpecifier(importer, imp.specifier, (p) => paths.has(p));
      if (target === undefined || target === importer || !target.startsWith('src/')) continue;
      const use = useBy(importer, target);
      for (const name of imp.names === '*' ? ['*'] : imp.names) mark(target, name, use);
    }
  }
  const unused: UnusedExport[] = [];
  for (const file of files) {
    const parsed = modules.get(file.path) as ParsedModule;
    if (!file.path.startsWith('src/')) continue;
    const mentions = new Map<string, number>();
    for (const t of tokenize(file.text))
      if (t.kind === 'id') mentions.set(t.value, (mentions.get(t.value) ?? 0) + 1);
    for (const e of parsed.exports) {
      const use = uses.get(`${file.path}#${e.name}`);
      if (use === 'real') continue;
      const own = parsed.exports.filter((x) => x.name === e.name && x.from === undefined);
      // Each declaration names it once; `export { a }` names it once more beside its declaration.
      const named = own.reduce((n, x) => n + (x.declares === 'list' ? 2 : 1), 0);
      unused.push({
        file: file.path,
        name: e.name,
        line: e.line,
        status: use === 'test' ? 'test-only' : 'dead',
        declares: e.declares,
        reexport: e.from !== undefined,
        localUses: e.from !== undefined ? 0 : Math.max(0, (mentions.get(e.name) ?? 0) - named),
      });
    }
  }
  return unused;
}

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** src/, test/, bench/ and scripts/: every file that may import from src/. */
export function readSources(dirs = ['src', 'test', 'bench', 'scripts']): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir)).sort()) {
      if (entry === 'node_modules') continue;
      const path = `${dir}/${entry}`;
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (/\.([cm]?tsx?|[cm]js)$/.test(entry) && !entry.endsWith('.d.ts'))
        out.push({ path, text: readFileSync(join(ROOT, path), 'utf8') });
    }
  };
  for (const dir of dirs) walk(dir);
  return out;
}

if (import.meta.url === new URL(process.argv[1] ?? '', 'file://').href) {
  for (const u of findUnusedExports(readSources()))
    process.stdout.write(
      `${u.status.padEnd(9)} ${u.reexport ? 'reexport' : u.declares.padEnd(8)} local=${u.localUses} ${u.file}:${u.line} ${u.name}\n`,
    );
}
