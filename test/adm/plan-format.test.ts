/** `rebalancer-adm job plan` prints a plan as a summary and tables an operator can read. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatPlan } from '../../src/adm/plan-format.ts';
import { humanBytes, humanDuration } from '../../src/adm/units.ts';
import type { JobPlan } from '../../src/api/plan.ts';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

const plan: JobPlan = {
  job_id: 'b7e1c1f2-0000-4000-8000-000000000001',
  from_shark: '1.stor.example.com',
  move: {
    objects: 12_345,
    bytes: 3 * GIB,
    v1: { objects: 12_000, bytes: 2.5 * GIB },
    v2: { objects: 345, bytes: 0.5 * GIB },
  },
  cannot_move: {
    objects: 7,
    bytes: 5 * MIB,
    reasons: {
      destination_insufficient_space: { objects: 2, bytes: 4 * MIB },
      source_is_evac_shark: { objects: 5, bytes: MIB },
    },
  },
  destinations: [
    {
      manta_storage_id: '3.stor.example.com',
      datacenter: 'us-east-1',
      objects: 10_000,
      bytes: 2 * GIB,
      fill_before_percent: 50,
      fill_after_percent: 52.5,
    },
    {
      manta_storage_id: '40.stor.example.com',
      datacenter: 'us-east-2',
      objects: 2_345,
      bytes: GIB,
      fill_before_percent: 20,
      fill_after_percent: 20.25,
    },
  ],
  datacenters: [
    {
      datacenter: 'us-east-1',
      objects: 10_000,
      bytes: 2 * GIB,
      available_bytes_before: 100 * GIB,
      available_bytes_after: 98 * GIB,
    },
    {
      datacenter: 'us-east-2',
      objects: 2_345,
      bytes: GIB,
      available_bytes_before: 10 * GIB,
      available_bytes_after: 9 * GIB,
    },
  ],
  estimated_seconds: 3723,
  estimate_basis: 'bytes_per_second',
  created_at: '2025-01-02T03:04:05.000Z',
};

describe('adm plan format', () => {
  test('summary: what moves (v1 and v2 apart), what cannot and why, most first', () => {
    const text = formatPlan(plan);
    assert.match(text, /^Plan of dry run b7e1c1f2-0000-4000-8000-000000000001\n/);
    assert.match(text, /\nEvacuating: 1\.stor\.example\.com\n/);
    assert.match(text, /\nTo move: +12,345 objects, 3 GiB\n/);
    assert.match(text, /\n {2}v1: +12,000 objects, 2\.5 GiB\n {2}v2: +345 objects, 512 MiB\n/);
    assert.match(
      text,
      /\nCannot move: 7 objects, 5 MiB\n {2}source_is_evac_shark: 5 objects, 1 MiB\n {2}destination_insufficient_space: 2 objects, 4 MiB\n/,
    );
    assert.match(text, /\nEstimate: 1h 02m \(bound by bytes_per_second\)\n$/);
  });

  test('destinations and datacenters as aligned tables', () => {
    const lines = formatPlan(plan).split('\n');
    const at = lines.indexOf('Destinations:');
    const [header, rule, first, second] = lines.slice(at + 1, at + 5);
    assert.match(header ?? '', /^SHARK +DATACENTER +OBJECTS +BYTES +FILL BEFORE → AFTER$/);
    assert.match(rule ?? '', /^-+ +-+/);
    assert.match(first ?? '', /^3\.stor\.example\.com +us-east-1 +10,000 +2 GiB +50% → 52\.5%$/);
    assert.match(second ?? '', /^40\.stor\.example\.com +us-east-2 +2,345 +1 GiB +20% → 20\.3%$/);
    // Right-aligned numbers end in the same column.
    assert.equal((first ?? '').indexOf('10,000') + 6, (second ?? '').indexOf('2,345') + 5);
    const dcAt = lines.indexOf('Datacenters:');
    assert.match(
      lines[dcAt + 1] ?? '',
      /^DATACENTER +OBJECTS +BYTES +AVAILABLE BEFORE +AVAILABLE AFTER$/,
    );
    assert.match(lines[dcAt + 3] ?? '', /^us-east-1 +10,000 +2 GiB +100 GiB +98 GiB$/);
    assert.match(lines[dcAt + 4] ?? '', /^us-east-2 +2,345 +1 GiB +10 GiB +9 GiB$/);
  });

  test('no estimate, nothing to move, no destinations', () => {
    const empty: JobPlan = {
      ...plan,
      move: { objects: 0, bytes: 0, v1: { objects: 0, bytes: 0 }, v2: { objects: 0, bytes: 0 } },
      destinations: [],
      datacenters: [],
      estimated_seconds: 0,
      estimate_basis: 'nothing to move',
    };
    const text = formatPlan(empty);
    assert.match(text, /\nDestinations:\n {2}none\n/);
    assert.match(text, /\nDatacenters:\n {2}none\n/);
    assert.match(text, /\nEstimate: nothing to move\n$/);
    const unbounded = formatPlan({
      ...plan,
      estimated_seconds: null,
      estimate_basis: 'no limit set',
    });
    assert.match(unbounded, /\nEstimate: none \(no limit set\)\n$/);
  });

  test('human units', () => {
    assert.equal(humanBytes(0), '0 B');
    assert.equal(humanBytes(1023), '1023 B');
    assert.equal(humanBytes(1536), '1.5 KiB');
    assert.equal(humanBytes(10 * MIB), '10 MiB');
    assert.equal(humanBytes(5 * 1024 * GIB), '5 TiB');
    assert.equal(humanDuration(45), '45s');
    assert.equal(humanDuration(725), '12m 05s');
    assert.equal(humanDuration(3 * 86_400 + 4 * 3600), '3d 04h');
  });
});
