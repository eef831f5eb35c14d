/**
 * deploy/smf and deploy/systemd: the manifests are well-formed XML, the units parse, and both
 * start files that exist under the release tarball's layout, with the config paths the services
 * default to, and reload each service with the signal its main.ts handles.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONFIG_PATH as AGENT_CONFIG_PATH } from '../../src/agent/config.ts';
import { DEFAULT_CONFIG_PATH as MANAGER_CONFIG_PATH } from '../../src/manager/config.ts';

const ROOT = new URL('../../', import.meta.url);
/** Where the release tarball (scripts/release.mjs) unpacks: its rebalancer/ directory. */
const INSTALL = '/opt/smartdc/rebalancer/';

const SERVICES = [
  {
    name: 'manager',
    smf: 'rebalancer.xml',
    fmri: 'manta/application/rebalancer',
    unit: 'rebalancer-manager.service',
    bin: 'bin/rebalancer-manager.js',
    main: 'src/manager/main.ts',
    config: MANAGER_CONFIG_PATH,
    reload: 'USR1',
    heapMb: 192,
  },
  {
    name: 'agent',
    smf: 'rebalancer-agent.xml',
    fmri: 'manta/application/rebalancer-agent',
    unit: 'rebalancer-agent.service',
    bin: 'bin/rebalancer-agent.js',
    main: 'src/agent/main.ts',
    config: AGENT_CONFIG_PATH,
    reload: 'HUP',
    heapMb: 64,
  },
] as const;

const text = (path: string): Promise<string> => readFile(new URL(path, ROOT), 'utf8');

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
}

const ENTITY = /&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/g;

/**
 * A strict reader of the XML subset manifests use (prolog, DOCTYPE, comments, elements,
 * attributes, character data): throws on an unbalanced tag, a stray `<` or `&`, a duplicate
 * attribute or more than one root.
 */
function parseXml(source: string): XmlElement {
  const body = source
    .replace(/^<\?xml[^?]*\?>/, '')
    .replace(/<!DOCTYPE[^>]*>/, '')
    .replace(/<!--[\s\S]*?-->/g, (c) => {
      assert.ok(!c.slice(4, -3).includes('--'), 'no -- inside a comment');
      return '';
    });
  const tag = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/y;
  const attr = /([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  const stack: XmlElement[] = [{ name: '#document', attrs: {}, children: [] }];
  let at = 0;
  while (at < body.length) {
    const next = body.indexOf('<', at);
    const chars = body.slice(at, next < 0 ? body.length : next);
    assert.ok(!chars.replace(ENTITY, '').includes('&'), `stray & in ${JSON.stringify(chars)}`);
    if (stack.length === 1) assert.match(chars, /^\s*$/, 'text outside the root element');
    if (next < 0) break;
    tag.lastIndex = next;
    const m = tag.exec(body);
    assert.ok(m, `malformed tag at ${JSON.stringify(body.slice(next, next + 40))}`);
    const [all, close, name, attrText, selfClose] = m as unknown as string[];
    at = next + all!.length;
    const top = stack[stack.length - 1]!;
    if (close) {
      assert.equal(top.name, name, `</${name}> closes <${top.name}>`);
      stack.pop();
      continue;
    }
    const el: XmlElement = { name: name!, attrs: {}, children: [] };
    for (const [, key, dq, sq] of attrText!.matchAll(attr)) {
      assert.ok(!(key! in el.attrs), `attribute ${key} given twice`);
      const value = dq ?? sq ?? '';
      assert.ok(!value.replace(ENTITY, '').includes('&'), `stray & in ${key}="${value}"`);
      el.attrs[key!] = value.replaceAll('&amp;', '&');
    }
    if (stack.length === 1) assert.equal(top.children.length, 0, 'one root element');
    top.children.push(el);
    if (!selfClose) stack.push(el);
  }
  assert.equal(stack.length, 1, `<${stack[stack.length - 1]?.name}> is never closed`);
  return stack[0]!.children[0]!;
}

function* walk(el: XmlElement): Generator<XmlElement> {
  yield el;
  for (const child of el.children) yield* walk(child);
}

/** The repository file an absolute path of the installed tarball names. */
function installed(path: string): string {
  assert.ok(path.startsWith(INSTALL), `${path} is under ${INSTALL}`);
  return fileURLToPath(new URL(path.slice(INSTALL.length), ROOT));
}

describe('deploy/: SMF manifests and systemd units', () => {
  test('the XML reader refuses what is not well-formed', () => {
    for (const bad of [
      '<a><b></a>',
      '<a x="1" x="2"/>',
      '<a>&</a>',
      '<a/><b/>',
      '<a>',
      '<a <b/>',
    ]) {
      assert.throws(() => parseXml(bad), assert.AssertionError, bad);
    }
    assert.equal(parseXml('<?xml version="1.0"?><!-- c --><a k=\'v &amp; w\'/>').attrs.k, 'v & w');
  });

  for (const s of SERVICES) {
    test(`SMF ${s.smf}: start, stop, refresh with SIG${s.reload}, environment, dependencies`, async () => {
      const root = parseXml(await text(`deploy/smf/${s.smf}`));
      assert.equal(root.name, 'service_bundle');
      const service = [...walk(root)].find((e) => e.name === 'service');
      assert.equal(service?.attrs.name, s.fmri);
      const methods = new Map(
        [...walk(root)].filter((e) => e.name === 'exec_method').map((e) => [e.attrs.name, e]),
      );

      const start = methods.get('start')?.attrs.exec?.split(/\s+/) ?? [];
      assert.equal(start[0], `${INSTALL}build/node/bin/node`);
      assert.equal(start[1], `${INSTALL}${s.bin}`);
      assert.ok(existsSync(installed(start[1]!)), `${s.bin} exists`);
      assert.deepEqual(start.slice(2), ['--config', s.config, '&'], 'backgrounded, as SMF wants');
      assert.equal(methods.get('stop')?.attrs.exec, ':kill -TERM');
      assert.equal(methods.get('refresh')?.attrs.exec, `:kill -${s.reload}`);

      const env = Object.fromEntries(
        [...walk(methods.get('start')!)]
          .filter((e) => e.name === 'envvar')
          .map((e) => [e.attrs.name, e.attrs.value]),
      );
      assert.equal(env.NODE_OPTIONS, `--max-old-space-size=${s.heapMb}`);
      assert.match(env.UV_THREADPOOL_SIZE ?? '', /^[0-9]+$/);

      const deps = [...walk(root)]
        .filter((e) => e.name === 'dependency')
        .flatMap((d) => d.children.map((c) => c.attrs.value));
      assert.ok(deps.includes('svc:/milestone/network:default'));
      assert.equal(deps.includes('svc:/manta/postgresql:default'), s.name === 'manager');
    });

    test(`systemd ${s.unit}: ExecStart, ExecReload with SIG${s.reload}, a dedicated user`, async () => {
      const lines = (await text(`deploy/systemd/${s.unit}`)).split('\n');
      const entries: [string, string][] = [];
      let section = '';
      for (const line of lines) {
        if (/^\s*(#|$)/.test(line)) continue;
        const header = /^\[(\w+)\]$/.exec(line);
        if (header) section = header[1]!;
        else {
          const kv = /^(\w+)=(.*)$/.exec(line);
          assert.ok(kv && section !== '', `${s.unit}: ${line}`);
          entries.push([`${section}.${kv[1]}`, kv[2]!]);
        }
      }
      const all = (key: string) => entries.filter(([k]) => k === key).map(([, v]) => v);
      const one = (key: string) => all(key)[0];
      const start = one('Service.ExecStart')?.split(/\s+/) ?? [];
      assert.equal(start[1], `${INSTALL}${s.bin}`);
      assert.ok(existsSync(installed(start[1]!)), `${s.bin} exists`);
      assert.deepEqual(start.slice(2), ['--config', s.config]);
      assert.equal(one('Service.ExecReload'), `/bin/kill -${s.reload} $MAINPID`);
      assert.equal(one('Service.KillSignal'), 'SIGTERM');
      assert.equal(one('Service.Restart'), 'on-failure');
      assert.ok(one('Service.User') && one('Service.User') !== 'root');
      assert.ok(
        all('Service.Environment').includes(`NODE_OPTIONS=--max-old-space-size=${s.heapMb}`),
      );
      assert.ok(all('Service.Environment').some((e) => /^UV_THREADPOOL_SIZE=[0-9]+$/.test(e)));
      const after = one('Unit.After')?.split(/\s+/) ?? [];
      assert.ok(after.includes('network-online.target'));
      assert.equal(after.includes('postgresql.service'), s.name === 'manager');
      assert.equal(one('Install.WantedBy'), 'multi-user.target');
    });

    test(`${s.main} handles SIG${s.reload} (reload) and SIGTERM (stop)`, async () => {
      const source = await text(s.main);
      assert.match(source, new RegExp(`process\\.on\\('SIG${s.reload}'`));
      assert.match(source, /'SIGTERM'/);
    });
  }
});
