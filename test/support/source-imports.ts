/**
 * Reads the imports and exports of a TypeScript module without a compiler (TypeScript 7 has no
 * JavaScript API, and esbuild drops type-only imports): a small lexer that knows comments,
 * strings, template literals and regular expressions, so that text inside them is never taken
 * for an import, then a scan of the token stream for the import and export forms we write.
 */

export type ImportKind = 'import' | 'export-from' | 'dynamic' | 'side-effect';

export interface ModuleImport {
  specifier: string;
  kind: ImportKind;
  line: number;
  /** The names taken from the target ('default' for a default import); '*' for all of them. */
  names: readonly string[] | '*';
}

export interface ModuleExport {
  name: string;
  line: number;
  /** What the export declares: a value (function, class, const, enum...) or only a type; `list` for `export { a }`. */
  declares: 'value' | 'type' | 'list';
  /** Set for `export { a as b } from 'x'` and `export * as ns from 'x'`: where the name comes from. */
  from?: { specifier: string; name: string };
}

export interface ParsedModule {
  imports: ModuleImport[];
  exports: ModuleExport[];
  /** `export * from 'x'`: every export of x is an export of this module. */
  exportAll: { specifier: string; line: number }[];
  /** Lines of `import(expression)` whose target cannot be known. */
  opaqueDynamicImports: number[];
}

interface Token {
  kind: 'id' | 'str' | 'punct' | 'other';
  value: string;
  line: number;
}

/** After these, a `/` starts a regular expression, not a division. */
const BEFORE_EXPRESSION = new Set([
  'return',
  'typeof',
  'case',
  'do',
  'else',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'instanceof',
  'yield',
  'await',
]);

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  // One entry per open `${`: the brace depth at which that template's expression ends.
  const templates: number[] = [];
  let depth = 0;
  const push = (kind: Token['kind'], value: string, at: number) =>
    tokens.push({ kind, value, line: at });
  const advance = (to: number) => {
    for (; i < to; i++) if (text[i] === '\n') line++;
  };
  const regexAllowed = () => {
    const prev = tokens.at(-1);
    if (prev === undefined) return true;
    if (prev.kind === 'punct')
      return !(prev.value === ')' || prev.value === ']' || prev.value === '}');
    return prev.kind === 'id' && BEFORE_EXPRESSION.has(prev.value);
  };
  // Scans template text from i (just after ` or }) to its end or to the next `${`.
  const templateText = () => {
    const start = line;
    while (i < text.length) {
      const c = text[i];
      if (c === '\\') advance(i + 2);
      else if (c === '`') {
        advance(i + 1);
        push('other', '`', start);
        return;
      } else if (c === '$' && text[i + 1] === '{') {
        advance(i + 2);
        templates.push(depth);
        depth++;
        push('other', '`', start);
        return;
      } else advance(i + 1);
    }
  };
  while (i < text.length) {
    const c = text[i] as string;
    const at = line;
    if (c === '\n' || c === ' ' || c === '\t' || c === '\r') advance(i + 1);
    else if (c === '/' && text[i + 1] === '/') {
      const end = text.indexOf('\n', i);
      advance(end < 0 ? text.length : end);
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      advance(end < 0 ? text.length : end + 2);
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      let value = '';
      while (j < text.length && text[j] !== c && text[j] !== '\n') {
        if (text[j] === '\\') j++;
        value += text[j];
        j++;
      }
      advance(j + 1);
      push('str', value, at);
    } else if (c === '`') {
      advance(i + 1);
      templateText();
    } else if (c === '/' && regexAllowed()) {
      let j = i + 1;
      let inClass = false;
      while (j < text.length && text[j] !== '\n' && (inClass || text[j] !== '/')) {
        if (text[j] === '\\') j++;
        else if (text[j] === '[') inClass = true;
        else if (text[j] === ']') inClass = false;
        j++;
      }
      j++;
      while (j < text.length && /[a-z]/i.test(text[j] as string)) j++;
      advance(j);
      push('other', 'regex', at);
    } else if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      while (j < text.length && /[\w$]/.test(text[j] as string)) j++;
      push('id', text.slice(i, j), at);
      advance(j);
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < text.length && /[\w.]/.test(text[j] as string)) j++;
      advance(j);
      push('other', 'number', at);
    } else if (c === '}' && templates.length > 0 && templates.at(-1) === depth - 1) {
      templates.pop();
      depth--;
      advance(i + 1);
      templateText();
    } else {
      if (c === '{') depth++;
      else if (c === '}') depth--;
      const three = text.slice(i, i + 3);
      const value = three === '...' ? three : text[i + 1] === '.' && c === '?' ? '?.' : c;
      advance(i + value.length);
      push('punct', value, at);
    }
  }
  return tokens;
}

/** Reads `{ a, b as c, type d }` from tokens[at] (the `{`); returns [from name, local/export name] pairs. */
function readBraces(tokens: Token[], at: number): { pairs: [string, string][]; end: number } {
  const pairs: [string, string][] = [];
  let i = at + 1;
  while (i < tokens.length && tokens[i]?.value !== '}') {
    const ids: string[] = [];
    while (i < tokens.length && tokens[i]?.value !== ',' && tokens[i]?.value !== '}') {
      const t = tokens[i] as Token;
      if (t.kind === 'id' || t.kind === 'str') ids.push(t.value);
      i++;
    }
    // `type a as b` -> [type, a, as, b]; `a as b`; `type a`; `a`.
    const names = ids[0] === 'type' && ids.length !== 1 && ids[1] !== 'as' ? ids.slice(1) : ids;
    const first = names[0];
    if (first !== undefined) pairs.push([first, names[1] === 'as' ? (names[2] ?? first) : first]);
    if (tokens[i]?.value === ',') i++;
  }
  return { pairs, end: i + 1 };
}

const DECLARATIONS = new Set([
  'function',
  'class',
  'enum',
  'interface',
  'type',
  'namespace',
  'module',
]);

export function parseModule(text: string): ParsedModule {
  const tokens = tokenize(text);
  const parsed: ParsedModule = {
    imports: [],
    exports: [],
    exportAll: [],
    opaqueDynamicImports: [],
  };
  const at = (i: number) => tokens[i];
  const isFrom = (i: number) => at(i)?.value === 'from' && at(i + 1)?.kind === 'str';
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    const prev = at(i - 1)?.value;
    if (t.kind !== 'id' || prev === '.' || prev === '?.') continue;
    if (t.value === 'import') {
      const next = at(i + 1);
      if (next?.value === '(') {
        const arg = at(i + 2);
        const close = at(i + 3)?.value;
        if (arg?.kind === 'str' && (close === ')' || close === ','))
          parsed.imports.push({ specifier: arg.value, kind: 'dynamic', line: t.line, names: '*' });
        else parsed.opaqueDynamicImports.push(t.line);
      } else if (next?.kind === 'str') {
        parsed.imports.push({
          specifier: next.value,
          kind: 'side-effect',
          line: t.line,
          names: [],
        });
      } else if (next?.value !== '.') {
        const names: string[] = [];
        let all = false;
        let j = i + 1;
        if (at(j)?.value === 'type' && at(j + 1)?.value !== 'from' && at(j + 1)?.value !== ',') j++;
        for (; j < tokens.length && !isFrom(j); j++) {
          const u = at(j) as Token;
          if (u.value === '=' || u.value === ';') break; // `import x = require(...)`: not ESM
          if (u.value === '*') all = true;
          else if (u.value === '{') {
            const braces = readBraces(tokens, j);
            for (const [name] of braces.pairs) names.push(name);
            j = braces.end - 1;
          } else if (u.kind === 'id' && u.value !== 'as' && at(j - 1)?.value !== 'as')
            names.push('default');
        }
        const spec = at(j + 1);
        if (isFrom(j) && spec)
          parsed.imports.push({
            specifier: spec.value,
            kind: 'import',
            line: t.line,
            names: all ? '*' : names,
          });
      }
    } else if (t.value === 'export') {
      let j = i + 1;
      if (at(j)?.value === 'declare') j++;
      if (at(j)?.value === 'type' && (at(j + 1)?.value === '{' || at(j + 1)?.value === '*')) j++;
      const next = at(j);
      if (next?.value === '*') {
        const alias = at(j + 1)?.value === 'as' ? at(j + 2)?.value : undefined;
        const k = alias === undefined ? j + 1 : j + 3;
        const spec = at(k + 1);
        if (!isFrom(k) || !spec) continue;
        parsed.imports.push({
          specifier: spec.value,
          kind: 'export-from',
          line: t.line,
          names: '*',
        });
        if (alias === undefined) parsed.exportAll.push({ specifier: spec.value, line: t.line });
        else
          parsed.exports.push({
            name: alias,
            line: t.line,
            declares: 'list',
            from: { specifier: spec.value, name: '*' },
          });
      } else if (next?.value === '{') {
        const braces = readBraces(tokens, j);
        const spec = at(braces.end + 1);
        if (isFrom(braces.end) && spec) {
          const names = braces.pairs.map(([from]) => from);
          parsed.imports.push({ specifier: spec.value, kind: 'export-from', line: t.line, names });
          for (const [from, name] of braces.pairs)
            parsed.exports.push({
              name,
              line: t.line,
              declares: 'list',
              from: { specifier: spec.value, name: from },
            });
        } else {
          for (const [, name] of braces.pairs)
            parsed.exports.push({ name, line: t.line, declares: 'list' });
        }
      } else if (next?.value === 'default') {
        parsed.exports.push({ name: 'default', line: t.line, declares: 'value' });
      } else {
        // export [async] [abstract] [const] function/class/enum/... name, or export const/let/var name
        while (
          ['async', 'abstract', 'const'].includes(at(j)?.value ?? '') &&
          at(j + 1)?.kind === 'id'
        ) {
          if (at(j)?.value === 'const' && at(j + 1)?.value !== 'enum') break;
          j++;
        }
        const keyword = at(j)?.value ?? '';
        let k = j + 1;
        if (at(k)?.value === '*') k++; // function*
        const name = at(k);
        if (
          (DECLARATIONS.has(keyword) || ['const', 'let', 'var'].includes(keyword)) &&
          name?.kind === 'id'
        )
          parsed.exports.push({
            name: name.value,
            line: t.line,
            declares: keyword === 'interface' || keyword === 'type' ? 'type' : 'value',
          });
      }
    }
  }
  return parsed;
}

/**
 * The repository-relative file a relative specifier names (trying `.js` as `.ts`, a missing
 * `.ts`, a directory's index.ts; else the path as written), or undefined for a package.
 */
export function resolveSpecifier(
  fromFile: string,
  specifier: string,
  exists: (path: string) => boolean,
): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const dir = fromFile.split('/').slice(0, -1);
  for (const part of specifier.split('/')) {
    if (part === '..') dir.length > 0 && dir.at(-1) !== '..' ? dir.pop() : dir.push('..');
    else if (part !== '.' && part !== '') dir.push(part);
  }
  const base = dir.join('/');
  const candidates = [base, base.replace(/\.js$/, '.ts'), `${base}.ts`, `${base}/index.ts`];
  return candidates.find(exists) ?? base;
}
