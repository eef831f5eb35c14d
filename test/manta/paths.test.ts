import assert from 'node:assert/strict';
import { isAbsolute, join, relative, sep } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { InvalidMantaIdError, PathEscapesRootError } from '../../src/manta/errors.ts';
import { isContentMd5, md5Base64, objectNameHash } from '../../src/manta/md5.ts';
import {
  objectFilePath,
  objectPath,
  objectUrl,
  parseObjectPath,
  resolveUnderRoot,
  v1ObjectPath,
  v2ObjectPath,
} from '../../src/manta/paths.ts';

const OWNER = '61368287-aa5b-6c0f-f3a9-931a228215e4';
const OBJECT = '2e08b069-d132-c25c-920c-945e3329e450';
const BUCKET = 'a1b2c3d4-0000-4000-8000-000000000001';
const ROOT = '/manta';

const uuidArb = fc.uuid();
/** Strings built from characters that matter for traversal. */
const nastyArb = fc.oneof(
  fc.string(),
  fc
    .array(fc.constantFrom('..', '.', '/', '\\', 'a', '%2e', '\0', ',', 'v2', ''), { maxLength: 8 })
    .map((parts) => parts.join('')),
  fc.array(fc.constantFrom('..', '.', 'a', ''), { maxLength: 6 }).map((p) => p.join('/')),
);

function inside(root: string, file: string): boolean {
  const rel = relative(root, file);
  return rel !== '' && rel.split(sep)[0] !== '..' && !isAbsolute(rel);
}

describe('manta paths', () => {
  test('v1 and v2 layouts (peers.md §2.2)', () => {
    assert.equal(v1ObjectPath(OWNER, OBJECT), `/${OWNER}/${OBJECT}`);
    const hash = objectNameHash('photos/cat.jpg');
    assert.equal(
      v2ObjectPath(OWNER, BUCKET, OBJECT, hash),
      `/v2/${OWNER}/${BUCKET}/2e/${OBJECT},${hash}`,
    );
    assert.equal(
      objectPath({ owner: OWNER, objectId: OBJECT, bucketId: BUCKET }),
      `/${OWNER}/${OBJECT}`,
    );
    assert.equal(
      objectFilePath(ROOT, { owner: OWNER, objectId: OBJECT }),
      join(ROOT, OWNER, OBJECT),
    );
    assert.equal(v1ObjectPath('rebalancer', 'abc', { idPolicy: 'token' }), '/rebalancer/abc');
    assert.throws(() => v1ObjectPath('rebalancer', 'abc'), InvalidMantaIdError);
    assert.equal(
      objectUrl('1.stor.x.y', v1ObjectPath(OWNER, OBJECT)),
      `http://1.stor.x.y/${OWNER}/${OBJECT}`,
    );
    assert.equal(
      objectUrl('127.0.0.1:9', '/a/b', { allowHostPort: true }),
      'http://127.0.0.1:9/a/b',
    );
  });

  test('md5 helpers: known vectors', () => {
    assert.equal(objectNameHash('hello'), '5d41402abc4b2a76b9719d911017c592');
    assert.equal(objectNameHash(''), 'd41d8cd98f00b204e9800998ecf8427e');
    // base64 of d41d8cd98f00b204e9800998ecf8427e (protocols.md §4.2's `1B2M2Y8AsgTpgAEY7/rnxA==` is a typo).
    assert.equal(md5Base64(''), '1B2M2Y8AsgTpgAmY7PhCfg==');
    assert.equal(isContentMd5(md5Base64('x')), true);
    assert.equal(isContentMd5('abc'), false);
  });

  test('parse is the inverse of build', () => {
    fc.assert(
      fc.property(uuidArb, uuidArb, uuidArb, fc.string(), (owner, bucket, object, name) => {
        const hash = objectNameHash(name);
        assert.deepEqual(parseObjectPath(v1ObjectPath(owner, object)), {
          kind: 'v1',
          owner,
          objectId: object,
        });
        assert.deepEqual(parseObjectPath(v2ObjectPath(owner, bucket, object, hash)), {
          kind: 'v2',
          owner,
          bucketId: bucket,
          objectId: object,
          objectNameHash: hash,
        });
      }),
    );
    assert.equal(
      parseObjectPath(`/v2/${OWNER}/${BUCKET}/xx/${OBJECT},${objectNameHash('a')}`),
      undefined,
    );
    assert.equal(parseObjectPath(`/${OWNER}/../${OBJECT}`), undefined);
    assert.equal(parseObjectPath(`${OWNER}/${OBJECT}`), undefined);
  });

  test('no generated input makes a built path escape the root', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('uuid' as const, 'token' as const),
        fc.oneof(uuidArb, nastyArb),
        fc.oneof(uuidArb, nastyArb),
        fc.oneof(uuidArb, nastyArb),
        fc.oneof(fc.string().map(objectNameHash), nastyArb),
        (idPolicy, owner, objectId, bucketId, hash) => {
          for (const location of [
            { owner, objectId },
            { owner, objectId, bucketId, objectNameHash: hash },
          ]) {
            let file: string;
            try {
              file = objectFilePath(ROOT, location, { idPolicy });
            } catch (err) {
              assert.ok(
                err instanceof InvalidMantaIdError || err instanceof PathEscapesRootError,
                String(err),
              );
              continue;
            }
            assert.ok(inside(ROOT, file), file);
            // Accepted paths have exactly the layout's depth: nothing collapsed by `..`.
            const depth = relative(ROOT, file).split(sep).length;
            assert.equal(depth, location.bucketId === undefined ? 2 : 5);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('resolveUnderRoot rejects anything that leaves the root', () => {
    fc.assert(
      fc.property(nastyArb, (rel) => {
        try {
          const file = resolveUnderRoot(ROOT, rel);
          assert.ok(inside(ROOT, file), `${rel} -> ${file}`);
        } catch (err) {
          assert.ok(err instanceof PathEscapesRootError, String(err));
        }
      }),
      { numRuns: 2000 },
    );
    for (const bad of [
      '/',
      '',
      '.',
      '..',
      '/../etc/passwd',
      'a/../../x',
      '/x\0y',
      `/../manta2/x`,
    ]) {
      assert.throws(() => resolveUnderRoot(ROOT, bad), PathEscapesRootError, bad);
    }
    assert.equal(resolveUnderRoot(ROOT, '/a/b'), join(ROOT, 'a', 'b'));
    assert.equal(resolveUnderRoot(`${ROOT}/`, 'a'), join(ROOT, 'a'));
  });
});
