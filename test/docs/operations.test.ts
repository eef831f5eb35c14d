/**
 * docs/operations.md, the operator's guide, held to the product (issue 19). Every line of every
 * ```sh block that runs rebalancer-adm is checked against the real CLI: its subcommand and
 * flags must appear in the `--help` of a real `node bin/rebalancer-adm.js` process, and the
 * line must parse and reach the manager (an address where nothing listens, so it fails there,
 * after its arguments were accepted). Every ```sh block names, right after it, the tests that
 * exercise its commands (`<!-- tested: <file> › <test name> -->`), or is marked
 * ```sh no-test: <reason>. The reasons table covers every skip reason and error code of the
 * store, with the convergence column as the store has it; the alerts table names only metrics
 * the manager and the agent register; the config tables name only real keys, with their real
 * defaults and reload classes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { OPTIONS as AGENT_OPTIONS } from '../../src/agent/options.ts';
import { agentRoutes } from '../../src/api/agent-routes.ts';
import { UNSAFE_REASONS } from '../../src/api/audit.ts';
import { managerRoutes } from '../../src/api/manager-routes.ts';
import { parseConfig } from '../../src/manager/config.ts';
import { type ConfigKey, RELOAD_CLASSES } from '../../src/manager/reload.ts';
import { CURABLE_ERRORS, CURABLE_SKIP_REASONS } from '../../src/manager/store/convergence.ts';
import { OBJECT_ERRORS, SKIP_REASONS } from '../../src/manager/store/enums.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const GUIDE_PATH = 'docs/operations.md';
const ADM = join(root, 'bin/rebalancer-adm.js');
const guideText = readFileSync(join(root, GUIDE_PATH), 'utf8');
const guideLines = guideText.split('\n');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

// ---------------------------------------------------------------------------------------------
// The guide's fenced blocks

interface Line {
  text: string;
  /** 1-based, in the guide. */
  n: number;
}

interface Tested {
  file: string;
  name: string;
  n: number;
}

interface Block {
  lang: string;
  /** ```sh no-test: <reason> */
  noTest: string | undefined;
  n: number;
  lines: Line[];
  tested: Tested[];
}

const COMMAND_LANGS = new Set(['sh', 'bash', 'shell']);
const TESTED = /^<!-- tested: (\S+) › (.+) -->$/;

function parseBlocks(): Block[] {
  const blocks: Block[] = [];
  for (let i = 0; i < guideLines.length; i++) {
    const open = /^```(.*)$/.exec(guideLines[i] as string);
    if (!open) continue;
    const info = (open[1] as string).trim();
    const [lang = ''] = info.split(/\s+/, 1);
    const rest = info.slice(lang.length).trim();
    const noTest = /^no-test(?::\s*(.*))?$/.exec(rest);
    const block: Block = {
      lang,
      noTest: noTest ? (noTest[1] ?? '') : undefined,
      n: i + 1,
      lines: [],
      tested: [],
    };
    assert.ok(
      rest === '' || noTest,
      `${GUIDE_PATH}:${i + 1}: unknown fence info ${JSON.stringify(info)}`,
    );
    i++;
    while (i < guideLines.length && !/^```\s*$/.test(guideLines[i] as string)) {
      block.lines.push({ text: guideLines[i] as string, n: i + 1 });
      i++;
    }
    assert.ok(i < guideLines.length, `${GUIDE_PATH}:${block.n}: block never closed`);
    for (let j = i + 1; j < guideLines.length; j++) {
      const m = TESTED.exec((guideLines[j] as string).trim());
      if (!m) break;
      block.tested.push({ file: m[1] as string, name: m[2] as string, n: j + 1 });
    }
    blocks.push(block);
  }
  return blocks;
}

const blocks = parseBlocks();
const commandBlocks = blocks.filter((b) => COMMAND_LANGS.has(b.lang));

/** The command lines of a block: not blank, not a comment. */
function commands(block: Block): Line[] {
  return block.lines.filter((l) => l.text.trim() !== '' && !l.text.trim().startsWith('#'));
}

// ---------------------------------------------------------------------------------------------
// A small shell word splitter: quotes, escapes, comments and the operators that separate commands

type Word = { word: string } | { op: string };

function shellWords(line: string): Word[] {
  const out: Word[] = [];
  let word = '';
  let inWord = false;
  const flush = () => {
    if (inWord) out.push({ word });
    word = '';
    inWord = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      assert.ok(end > i, `unclosed ' in: ${line}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) i++;
        word += line[i];
        i++;
      }
      assert.ok(i < line.length, `unclosed " in: ${line}`);
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      flush();
    } else if (c === '#' && !inWord) {
      break;
    } else if (c === '<' && /^<[A-Za-z][\w.-]*>/.test(line.slice(i))) {
      // A placeholder of the guide (<uuid>, <manager>), not a redirection.
      const end = line.indexOf('>', i);
      word += line.slice(i, end + 1);
      inWord = true;
      i = end;
    } else if ('|;&<>'.includes(c)) {
      flush();
      const two = line.slice(i, i + 2);
      const op = ['||', '&&', '>>'].includes(two) ? two : c;
      out.push({ op });
      i += op.length - 1;
    } else {
      word += c;
      inWord = true;
    }
  }
  flush();
  return out;
}

/** The simple commands of a line (split at |, ;, &&, ||), each without its redirections. */
function simpleCommands(line: string): string[][] {
  const all: string[][] = [[]];
  let redirect = false;
  for (const w of shellWords(line)) {
    if ('op' in w) {
      if (['>', '>>', '<'].includes(w.op)) redirect = true;
      else all.push([]);
      continue;
    }
    if (redirect) {
      redirect = false;
      continue;
    }
    all[all.length - 1]?.push(w.word);
  }
  return all.filter((c) => c.length > 0);
}

/** A command's words without its leading `VAR=value` assignments. */
function withoutAssignments(words: string[]): string[] {
  let i = 0;
  while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i] as string)) i++;
  return words.slice(i);
}

interface AdmLine {
  line: Line;
  /** The words after `rebalancer-adm`. */
  args: string[];
}

function admLines(): AdmLine[] {
  const out: AdmLine[] = [];
  for (const block of commandBlocks) {
    for (const line of commands(block)) {
      for (const words of simpleCommands(line.text)) {
        const cmd = withoutAssignments(words);
        if (cmd[0] === 'rebalancer-adm') out.push({ line, args: cmd.slice(1) });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The real CLI's help

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<Run>((resolve) => {
    execFile(
      process.execPath,
      [ADM, ...args],
      { cwd: options.cwd ?? root, env: options.env ?? process.env, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

type Arity = 'none' | 'required' | 'optional';

interface Help {
  text: string;
  options: Map<string, Arity>;
  commands: string[];
  /** Positional arguments of the usage line: required and optional counts. */
  required: number;
  optional: number;
}

/** The lines of a help section (`Options:`), up to the next section or the end. */
function section(text: string, title: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`${title}:`);
  if (start < 0) return [];
  const out: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (/^\S/.test(l)) break;
    out.push(l);
  }
  return out;
}

function parseHelp(text: string, path: string[]): Help {
  const options = new Map<string, Arity>();
  for (const l of section(text, 'Options')) {
    const m = /^ {2}(-\S.*?)(?: {2,}|$)/.exec(l);
    if (!m) continue;
    for (const part of (m[1] as string).split(/,\s*/)) {
      const [flag, arg] = part.trim().split(/\s+/, 2) as [string, string | undefined];
      options.set(flag, arg === undefined ? 'none' : arg.startsWith('[') ? 'optional' : 'required');
    }
  }
  const commands = section(text, 'Commands')
    .map((l) => /^ {2}([a-z][\w-]*)/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined);
  const usage = /^Usage: (.*)$/m.exec(text)?.[1] ?? '';
  const prefix = ['rebalancer-adm', ...path].join(' ');
  assert.ok(usage.startsWith(prefix), `help of ${prefix}: usage ${usage}`);
  const args = usage
    .slice(prefix.length)
    .trim()
    .split(/\s+/)
    .filter((a) => a !== '' && a !== '[options]' && a !== '[command]');
  return {
    text,
    options,
    commands,
    required: args.filter((a) => a.startsWith('<')).length,
    optional: args.filter((a) => a.startsWith('[')).length,
  };
}

const helps = new Map<string, Promise<Help>>();

/** `rebalancer-adm <path...> --help`, from a real process (once per path). */
function help(path: string[]): Promise<Help> {
  const key = path.join(' ');
  let h = helps.get(key);
  if (h === undefined) {
    h = run([...path, '--help']).then((r) => {
      assert.equal(r.code, 0, `rebalancer-adm ${key} --help: ${r.stderr}`);
      return parseHelp(r.stdout, path);
    });
    helps.set(key, h);
  }
  return h;
}

/**
 * Walks a guide line through the real help: global options, then subcommands down to a leaf,
 * then the leaf's options and its positional arguments. Returns the command path.
 */
async function checkAgainstHelp({ line, args }: AdmLine): Promise<string[]> {
  const where = `${GUIDE_PATH}:${line.n}: ${line.text.trim()}`;
  const globals = await help([]);
  const path: string[] = [];
  let h = globals;
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg.startsWith('-') && arg !== '-') {
      const [flag, inline] = arg.split(/=(.*)/s, 2) as [string, string | undefined];
      const arity = h.options.get(flag) ?? globals.options.get(flag);
      assert.ok(
        arity !== undefined,
        `${where}: ${flag} is not in the help of rebalancer-adm ${path.join(' ')}\n${h.text}`,
      );
      const next = args[i + 1];
      if (arity === 'none') {
        assert.equal(inline, undefined, `${where}: ${flag} takes no value`);
      } else if (inline === undefined && arity === 'required') {
        assert.ok(next !== undefined, `${where}: ${flag} needs a value`);
        i++;
      } else if (inline === undefined && next !== undefined && !next.startsWith('-')) {
        i++; // an optional value: commander takes the next word, as it would here
      }
      continue;
    }
    if (h.commands.length > 0) {
      assert.ok(
        h.commands.includes(arg),
        `${where}: ${arg} is not a subcommand of rebalancer-adm ${path.join(' ')} (${h.commands.join(', ')})`,
      );
      path.push(arg);
      h = await help(path);
      continue;
    }
    positional.push(arg);
  }
  assert.ok(path.length > 0 && h.commands.length === 0, `${where}: not a complete command`);
  assert.ok(
    positional.length >= h.required && positional.length <= h.required + h.optional,
    `${where}: rebalancer-adm ${path.join(' ')} takes ${h.required} argument(s), the line gives ${positional.length} (${positional.join(' ')})`,
  );
  return path;
}

// ---------------------------------------------------------------------------------------------
// Tables

/** The cells of a table row, `\|` kept as `|`; undefined for a line that is not a row. */
function cells(line: string): string[] | undefined {
  if (!line.startsWith('|')) return undefined;
  const parts = line
    .slice(1, line.trimEnd().endsWith('|') ? line.trimEnd().length - 1 : undefined)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, '|'));
  return parts;
}

/** The body rows of the first table after the line that starts with `marker`. */
function tableAfter(marker: string): { header: string[]; rows: { cells: string[]; n: number }[] } {
  const start = guideLines.findIndex((l) => l.startsWith(marker));
  assert.ok(start >= 0, `${GUIDE_PATH}: no line starting with ${marker}`);
  let i = start;
  while (i < guideLines.length && cells(guideLines[i] as string) === undefined) i++;
  const header = cells(guideLines[i] as string);
  assert.ok(header, `${GUIDE_PATH}:${start + 1}: no table after ${marker}`);
  const rows: { cells: string[]; n: number }[] = [];
  for (i += 2; i < guideLines.length; i++) {
    const row = cells(guideLines[i] as string);
    if (row === undefined) break;
    rows.push({ cells: row, n: i + 1 });
  }
  return { header, rows };
}

/** The text of a cell's code spans. */
function codeSpans(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
}

// ---------------------------------------------------------------------------------------------

describe(GUIDE_PATH, () => {
  test('every sh block is tested or says why not, and names tests that exist', () => {
    assert.ok(commandBlocks.length >= 10, 'the guide has its command blocks');
    for (const b of blocks) {
      assert.ok(b.lang !== '', `${GUIDE_PATH}:${b.n}: give every fenced block a language`);
    }
    const testFiles = new Map<string, string>();
    for (const b of commandBlocks) {
      const where = `${GUIDE_PATH}:${b.n}`;
      assert.ok(commands(b).length > 0, `${where}: an empty block`);
      for (const l of commands(b)) {
        assert.ok(!l.text.trimEnd().endsWith('\\'), `${GUIDE_PATH}:${l.n}: one command per line`);
        assert.ok(
          !l.text.includes('bin/rebalancer-adm.js'),
          `${GUIDE_PATH}:${l.n}: write rebalancer-adm, the installed name`,
        );
      }
      if (b.noTest !== undefined) {
        assert.ok(b.noTest.length >= 10, `${where}: a no-test block says why, beside the fence`);
        assert.equal(b.tested.length, 0, `${where}: a no-test block with tested: comments`);
        for (const l of commands(b)) {
          assert.ok(
            !/\brebalancer-adm\b/.test(l.text),
            `${GUIDE_PATH}:${l.n}: rebalancer-adm commands are always tested`,
          );
        }
        continue;
      }
      assert.ok(b.tested.length > 0, `${where}: no <!-- tested: file › name --> after the block`);
      for (const t of b.tested) {
        const at = `${GUIDE_PATH}:${t.n}`;
        assert.match(t.file, /^test\/.+\.test\.ts$/, `${at}: ${t.file} is not a test file`);
        assert.ok(existsSync(join(root, t.file)), `${at}: ${t.file} does not exist`);
        let source = testFiles.get(t.file);
        if (source === undefined) {
          source = read(t.file);
          testFiles.set(t.file, source);
        }
        const found = ["'", '"', '`'].some((q) => source.includes(`test(${q}${t.name}${q}`));
        assert.ok(found, `${at}: ${t.file} has no test(${JSON.stringify(t.name)}`);
      }
    }
    const noTests = commandBlocks.filter((b) => b.noTest !== undefined).length;
    assert.ok(noTests <= 3, `${noTests} no-test blocks: use them sparingly`);
  });

  test('every rebalancer-adm command and flag of the guide exists in the real CLI', async () => {
    const lines = admLines();
    assert.ok(lines.length >= 30, `${lines.length} rebalancer-adm lines`);
    const seen = new Set<string>();
    for (const l of lines) seen.add((await checkAgainstHelp(l)).join(' '));
    // The guide's sections use these; a renamed command fails here, not in front of an operator.
    for (const cmd of [
      'job create evacuate',
      'job plan',
      'job get',
      'job update',
      'job pause',
      'job resume',
      'job cancel',
      'job objects',
      'job retry',
      'job export',
      'job delete',
      'shark audit',
      'shark orphans',
    ]) {
      assert.ok(seen.has(cmd), `the guide shows no rebalancer-adm ${cmd}`);
    }
  });

  describe('against a manager address where nothing listens', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'operations-guide-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    test('every rebalancer-adm command of the guide parses and reaches the manager named by REBALANCER_URL', async () => {
      const url = 'http://127.0.0.1:9';
      const env: NodeJS.ProcessEnv = { ...process.env, REBALANCER_URL: url };
      delete env.REBALANCER_API_TOKEN;
      // Placeholders become values of their kind: a job id, a name.
      const fill = (arg: string) =>
        arg
          .replaceAll('<uuid>', '00000000-0000-4000-8000-000000000000')
          .replace(/<[^>]+>/g, 'example');
      const lines = admLines();
      for (let i = 0; i < lines.length; i += 4) {
        await Promise.all(
          lines.slice(i, i + 4).map(async ({ line, args }) => {
            const r = await run(args.map(fill), { cwd: dir, env });
            const where = `${GUIDE_PATH}:${line.n}: ${line.text.trim()}`;
            // commander's own refusals are lower-case `error:` lines with the usage.
            assert.doesNotMatch(r.stderr, /^error: /m, `${where}: refused\n${r.stderr}`);
            assert.notEqual(r.code, 0, `${where}: succeeded with no manager\n${r.stdout}`);
            assert.ok(
              r.stderr.includes('Request failed') && r.stderr.includes(url),
              `${where}: did not reach ${url}\n${r.stderr}`,
            );
          }),
        );
      }
    });
  });

  test('every curl line names a route of the manager or the agent', () => {
    const route = (method: string, url: string) => ({ method, url });
    const manager = [...Object.values(managerRoutes)].map((r) => route(r.method, r.url));
    const agent = [...Object.values(agentRoutes)].map((r) => route(r.method, r.url));
    // The agent serves its metrics on its metrics port (src/agent/server.ts).
    agent.push(route('GET', '/metrics'));
    let curls = 0;
    for (const b of commandBlocks.filter((x) => x.noTest === undefined)) {
      for (const l of commands(b)) {
        for (const words of simpleCommands(l.text)) {
          const cmd = withoutAssignments(words);
          if (cmd[0] !== 'curl') continue;
          curls++;
          const where = `${GUIDE_PATH}:${l.n}`;
          const x = cmd.indexOf('-X');
          const data = cmd.some((w) => w === '-d' || w.startsWith('--data'));
          const method = x >= 0 ? (cmd[x + 1] as string) : data ? 'POST' : 'GET';
          const target = cmd.find((w) => /^(https?:\/\/|\$REBALANCER_URL)/.test(w));
          assert.ok(target, `${where}: no URL`);
          const m = /^(?:https?:\/\/([^/]+)|\$REBALANCER_URL)(\/[^?#]*)?/.exec(target);
          const host = m?.[1] ?? '<manager>';
          const path = m?.[2] ?? '/';
          const table = host.startsWith('<storage-node>') ? agent : manager;
          const known = table.some(
            (r) =>
              r.method === method &&
              new RegExp(`^${r.url.replace(/:[a-z_]+/gi, '[^/]+')}$`).test(path),
          );
          assert.ok(known, `${where}: ${method} ${path} is no route of ${host}`);
        }
      }
    }
    assert.ok(curls > 0);
  });

  test('the reasons table covers every skip reason and error code, with convergence as the store has it', () => {
    const { header, rows } = tableAfter('<!-- reasons:');
    assert.deepEqual(header.slice(0, 3), ['reason', 'kind', 'converge']);
    const HTTP = '{http_status_code:N}';
    const skips: ReadonlySet<string> = new Set([...SKIP_REASONS, HTTP]);
    const errors: ReadonlySet<string> = new Set(OBJECT_ERRORS);
    const curable: ReadonlySet<string> = new Set([
      ...CURABLE_SKIP_REASONS,
      ...CURABLE_ERRORS,
      HTTP,
    ]);
    const listed = new Set<string>();
    for (const { cells: c, n } of rows) {
      const [code] = codeSpans(c[0] as string);
      const where = `${GUIDE_PATH}:${n}`;
      assert.ok(code, `${where}: the reason in backticks`);
      assert.ok(!listed.has(code), `${where}: ${code} listed twice`);
      listed.add(code);
      assert.ok(skips.has(code) || errors.has(code), `${where}: ${code} is no reason of the store`);
      assert.equal(c[1], skips.has(code) ? 'skip' : 'error', `${where}: kind of ${code}`);
      assert.equal(c[2], curable.has(code) ? 'yes' : 'no', `${where}: converge of ${code}`);
      assert.ok((c[3] ?? '').length > 10, `${where}: what ${code} means`);
      assert.ok((c[4] ?? '') !== '', `${where}: what to do about ${code}`);
    }
    for (const code of [...skips, ...errors]) {
      assert.ok(listed.has(code), `the reasons table lacks ${code}`);
    }
  });

  test('the audit table covers every unsafe reason', () => {
    const { rows } = tableAfter('| audit reason |');
    const listed = rows.map((r) => codeSpans(r.cells[0] as string)[0]);
    assert.deepEqual([...listed].sort(), [...UNSAFE_REASONS].sort());
  });

  test('every metric of the alerts table exists in the manager or agent metrics', () => {
    const registered = (path: string): Set<string> => {
      const source = read(path);
      const names = new Set(
        [...source.matchAll(/\bname: '([a-z_:][a-z0-9_:]*)'/g)].map((m) => m[1] as string),
      );
      // The process's own metrics, under prom-client's names, when the service collects them.
      if (source.includes('collectDefaultMetrics(')) {
        const dir = 'node_modules/prom-client/lib/metrics';
        for (const file of [
          'eventLoopLag',
          'heapSizeAndUsed',
          'osMemoryHeapLinux',
          'processCpuTotal',
          'processOpenFileDescriptors',
          'processStartTime',
          'gc',
        ]) {
          for (const m of read(`${dir}/${file}.js`).matchAll(/'((?:process|nodejs)_[a-z_]+)'/g)) {
            names.add(m[1] as string);
          }
        }
      }
      return names;
    };
    const manager = registered('src/manager/metrics.ts');
    const agent = registered('src/agent/metrics.ts');
    const histograms = ['assignment_time'];
    const exists = (set: Set<string>, name: string) =>
      set.has(name) ||
      histograms.some(
        (h) => set.has(h) && ['_bucket', '_sum', '_count'].some((s) => name === h + s),
      );
    const WORDS = new Set([
      'rate',
      'irate',
      'increase',
      'delta',
      'changes',
      'sum',
      'avg',
      'min',
      'max',
      'count',
      'max_over_time',
      'min_over_time',
      'avg_over_time',
      'and',
      'or',
      'unless',
      'bool',
      'absent',
      'histogram_quantile',
    ]);
    const { header, rows } = tableAfter('<!-- alerts:');
    assert.deepEqual(header.slice(0, 3), ['service', 'metric', 'alert when']);
    assert.ok(rows.length >= 10);
    for (const { cells: c, n } of rows) {
      const where = `${GUIDE_PATH}:${n}`;
      const service = c[0] as string;
      const sets =
        service === 'manager'
          ? [manager]
          : service === 'agent'
            ? [agent]
            : service === 'both'
              ? [manager, agent]
              : [];
      assert.ok(sets.length > 0, `${where}: service ${service}`);
      const expression = codeSpans(c[2] as string).join(' ');
      const stripped = expression
        .replace(/\{[^}]*\}/g, ' ')
        .replace(/\[[^\]]*\]/g, ' ')
        .replace(/\b(?:by|without|on|ignoring)\s*\([^)]*\)/g, ' ')
        .replace(/(^|[^A-Za-z_])[0-9.]+(?:e[0-9]+)?/g, '$1 ');
      const names = [
        ...codeSpans(c[1] as string),
        ...(stripped.match(/[A-Za-z_:][A-Za-z0-9_:]*/g) ?? []).filter((w) => !WORDS.has(w)),
      ];
      assert.ok(names.length > 1, `${where}: a metric and an expression`);
      for (const name of names) {
        for (const set of sets) {
          assert.ok(exists(set, name), `${where}: ${name} is no ${service} metric`);
        }
      }
    }
  });

  test('the manager and agent keys the guide declares exist, with their defaults and reload classes', () => {
    const configSource = read('src/manager/config.ts');
    const defaults = parseConfig({
      domain_name: 'example.com',
      shards: [{ host: '1.moray.example.com' }],
    }) as unknown as Record<string, Record<string, unknown>>;
    const reloadWords: Record<string, string> = {
      live: 'live',
      'new jobs': 'new-jobs',
      restart: 'restart',
    };
    const manager = tableAfter('<!-- config-keys: manager');
    assert.deepEqual(manager.header.slice(0, 3), ['key', 'default', 'reload']);
    for (const { cells: c, n } of manager.rows) {
      const where = `${GUIDE_PATH}:${n}`;
      const [key] = codeSpans(c[0] as string);
      assert.ok(key !== undefined && key in RELOAD_CLASSES, `${where}: ${key} is no manager key`);
      const parts = key.split('.');
      const leaf = parts[parts.length - 1] as string;
      assert.ok(configSource.includes(`'${leaf}'`), `${where}: config.ts never reads ${leaf}`);
      const holder = parts.length === 1 ? defaults : (defaults[parts[0] as string] ?? {});
      assert.ok(leaf in holder, `${where}: ${key} is not in the parsed config`);
      if (c[1] !== '—') {
        const [shown] = codeSpans(c[1] as string);
        assert.ok(shown !== undefined, `${where}: the default of ${key} in backticks, or —`);
        assert.deepEqual(holder[leaf], JSON.parse(shown), `${where}: the default of ${key}`);
      }
      assert.equal(
        reloadWords[c[2] as string],
        RELOAD_CLASSES[key as ConfigKey],
        `${where}: the reload class of ${key}`,
      );
    }
    const agentKeys = new Set(AGENT_OPTIONS.map((o) => `${o.section}.${o.key}`));
    const agent = tableAfter('<!-- config-keys: agent');
    for (const { cells: c, n } of agent.rows) {
      const [key] = codeSpans(c[0] as string);
      assert.ok(
        key !== undefined && agentKeys.has(key),
        `${GUIDE_PATH}:${n}: ${key} is no agent key`,
      );
    }
    // Anywhere in the guide, a dotted key names a real one.
    for (const [i, line] of guideLines.entries()) {
      for (const span of codeSpans(line)) {
        if (/^(?:options|mdapi)\.[a-z_]+$/.test(span)) {
          assert.ok(span in RELOAD_CLASSES, `${GUIDE_PATH}:${i + 1}: ${span} is no manager key`);
        }
        if (/^(?:server|metrics)\.[a-z_]+$/.test(span)) {
          assert.ok(agentKeys.has(span), `${GUIDE_PATH}:${i + 1}: ${span} is no agent key`);
        }
      }
    }
  });

  test('README points to the guide', () => {
    assert.match(read('README.md'), /docs\/operations\.md/);
  });
});
