import type { MantaObjectValue } from '../../src/manta/index.ts';

/** The Manta record of spec/protocols.md §4.3, in its stored member order (etag 7712D647). */
export function sampleMantaRecord(): Record<string, unknown> {
  return {
    dirname: '/61368287-aa5b-6c0f-f3a9-931a228215e4/stor/logs/manatee-sitter/2019/10/09/08',
    key: '/61368287-aa5b-6c0f-f3a9-931a228215e4/stor/logs/manatee-sitter/2019/10/09/08/07e023da.log',
    headers: {},
    mtime: 1570611723062,
    name: '07e023da.log',
    creator: '61368287-aa5b-6c0f-f3a9-931a228215e4',
    owner: '61368287-aa5b-6c0f-f3a9-931a228215e4',
    roles: [],
    type: 'object',
    contentLength: 9099176,
    contentMD5: 'L9NrIZXTY37AYVZN9+gZ7w==',
    contentType: 'text/plain',
    etag: '2e08b069-d132-c25c-920c-945e3329e450',
    objectId: '2e08b069-d132-c25c-920c-945e3329e450',
    sharks: [
      { datacenter: 'ruidc0', manta_storage_id: '3.stor.east.joyent.us' },
      { datacenter: 'ruidc0', manta_storage_id: '1.stor.east.joyent.us' },
    ],
    vnode: 23352,
  };
}

export const SAMPLE_ETAG = '7712D647';

/** A small object record (a valid MantaObjectValue), `fields` over the defaults. */
export function mantaObject(fields: Partial<MantaObjectValue> = {}): MantaObjectValue {
  return {
    key: '/acct/stor/x',
    owner: 'acct',
    type: 'object',
    objectId: 'x',
    contentLength: 1,
    contentMD5: 'MD5',
    sharks: [],
    ...fields,
  };
}
