/**
 * The stand-in's RPC methods (peers.md §3.3): each decodes its one payload as the server
 * does (a payload that does not decode is a Fast ERROR), runs it on the stores and returns
 * the values to send, one DATA message each. Application errors become wrapped DATA values
 * in the dispatcher (shard.ts).
 */
import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import {
  BatchUpdateObjectsPayload,
  BucketKeyPayload,
  CreateObjectPayload,
  ListBucketsPayload,
  ListObjectsPayload,
  ListOwnersPayload,
  ListVnodesPayload,
  MAX_BATCH_OBJECTS,
  MAX_LIST_LIMIT,
  ObjectKeyPayload,
  UpdateObjectPayload,
} from '../../mdapi/index.ts';
import { runBatch } from './batch.ts';
import type { BucketStore } from './buckets.ts';
import { type ParsedConditions, parseConditions } from './conditions.ts';
import { fastError, MdapiAppError, unsupported } from './errors.ts';
import type { ObjectStore } from './objects.ts';

/** A method: the request's args to the values of its reply. */
export type MethodHandler = (args: readonly unknown[]) => Promise<unknown[]>;

type Decoder<T> = (args: readonly unknown[], method: string) => T;

/** Decodes `d[0]` against `schema`, or throws the Fast ERROR the server would send. */
function decoder<S extends TSchema>(schema: S): Decoder<Static<S>> {
  const compiled = Compile(schema);
  return (args, method) => {
    if (args.length === 0) {
      throw fastError(`Failed to parse JSON data as payload for ${method} function`);
    }
    const value = args[0];
    if (compiled.Check(value)) return value;
    const [first] = compiled.Errors(value);
    const missing = (first?.params as { requiredProperties?: unknown } | undefined)
      ?.requiredProperties;
    if (Array.isArray(missing) && missing.length > 0) {
      throw fastError(`missing field \`${String(missing[0])}\``);
    }
    throw fastError(`invalid value at ${first?.instancePath || '/'}: ${first?.message ?? '?'}`);
  };
}

function conditions(c: Parameters<typeof parseConditions>[0]): ParsedConditions {
  const parsed = parseConditions(c);
  if (typeof parsed === 'string') throw fastError(parsed);
  return parsed;
}

function limitError(method: string, limit: number): MdapiAppError {
  return new MdapiAppError(
    'LimitConstraintError',
    `the ${method} limit option must be a value between 1 and ${MAX_LIST_LIMIT}. the requested limit was ${limit}`,
    true,
  );
}

const objectKey = decoder(ObjectKeyPayload);
const update = decoder(UpdateObjectPayload);
const create = decoder(CreateObjectPayload);
const batch = decoder(BatchUpdateObjectsPayload);
const listObjects = decoder(ListObjectsPayload);
const bucketKey = decoder(BucketKeyPayload);
const listBuckets = decoder(ListBucketsPayload);
const listVnodes = decoder(ListVnodesPayload);
const listOwners = decoder(ListOwnersPayload);

/** The methods buckets-mdapi serves, plus the fork's discovery ones (`discovery`). */
export function mdapiMethods(
  objects: ObjectStore,
  buckets: BucketStore,
  discovery: () => boolean,
): Map<string, MethodHandler> {
  const methods = new Map<string, MethodHandler>([
    [
      'getobject',
      async (args) => {
        const p = objectKey(args, 'getobject');
        return [await objects.get(p, conditions(p.conditions))];
      },
    ],
    [
      'updateobject',
      async (args) => {
        const p = update(args, 'updateobject');
        return [await objects.update(p, conditions(p.conditions))];
      },
    ],
    [
      'createobject',
      async (args) => {
        const p = create(args, 'createobject');
        return [await objects.create(p, conditions(p.conditions))];
      },
    ],
    [
      'deleteobject',
      async (args) => {
        const p = objectKey(args, 'deleteobject');
        return [await objects.delete(p, conditions(p.conditions))];
      },
    ],
    [
      'batchupdateobjects',
      async (args) => {
        const p = batch(args, 'batchupdateobjects');
        const items = p.objects.map((o) => ({ payload: o, conditions: conditions(o.conditions) }));
        if (items.length > MAX_BATCH_OBJECTS) {
          throw new MdapiAppError(
            'LimitConstraintError',
            `batch size ${items.length} exceeds maximum of ${MAX_BATCH_OBJECTS}`,
          );
        }
        return [{ failed_vnodes: await runBatch(objects, items) }];
      },
    ],
    [
      'listobjects',
      async (args) => {
        const p = listObjects(args, 'listobjects');
        if (p.limit < 1 || p.limit > MAX_LIST_LIMIT) throw limitError('listobjects', p.limit);
        return objects.list(p);
      },
    ],
    ['createbucket', async (args) => [await buckets.create(bucketKey(args, 'createbucket'))]],
    ['getbucket', async (args) => [await buckets.get(bucketKey(args, 'getbucket'))]],
    [
      'listbuckets',
      async (args) => {
        const p = listBuckets(args, 'listbuckets');
        if (p.limit < 1 || p.limit > MAX_LIST_LIMIT) throw limitError('listbuckets', p.limit);
        return buckets.list(p);
      },
    ],
  ]);
  const discoveryMethods = new Map<string, MethodHandler>([
    [
      'listvnodes',
      async (args) => {
        listVnodes(args, 'listvnodes');
        return [buckets.listVnodes()];
      },
    ],
    [
      'listowners',
      async (args) => [await buckets.listOwners(listOwners(args, 'listowners').vnode)],
    ],
  ]);
  for (const [name, handler] of discoveryMethods) {
    // The production server has neither: its Fast server answers the default arm's ERROR.
    methods.set(name, (args) => (discovery() ? handler(args) : Promise.reject(unsupported(name))));
  }
  return methods;
}
