import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRoute, type Route, routeHash } from '../../src/ui/route.ts';

const UUID = '0f8fad5b-d9cb-469f-a165-70867728950e';

describe('console routes', () => {
  test('each page from its fragment; anything else is the fleet', () => {
    assert.deepEqual(parseRoute(''), { view: 'fleet' });
    assert.deepEqual(parseRoute('#/fleet'), { view: 'fleet' });
    assert.deepEqual(parseRoute('#/nowhere'), { view: 'fleet' });
    assert.deepEqual(parseRoute('#/jobs'), { view: 'jobs' });
    assert.deepEqual(parseRoute('#/jobs/'), { view: 'jobs' });
    assert.deepEqual(parseRoute(`#/jobs/${UUID}`), { view: 'job', id: UUID });
    assert.deepEqual(parseRoute(`#/jobs/${UUID}/x`), { view: 'fleet' });
    assert.deepEqual(parseRoute('#/jobs/%E0%A4%A'), { view: 'job', id: '%E0%A4%A' });
    assert.deepEqual(parseRoute('#/new'), { view: 'new', shark: '' });
    assert.deepEqual(parseRoute('#/new?shark=1.stor.example.com'), {
      view: 'new',
      shark: '1.stor.example.com',
    });
  });

  test('routeHash is the inverse of parseRoute', () => {
    const routes: Route[] = [
      { view: 'fleet' },
      { view: 'jobs' },
      { view: 'job', id: UUID },
      { view: 'new', shark: '' },
      { view: 'new', shark: '1.stor.example.com' },
      { view: 'new', shark: 'a&b=c d' },
    ];
    for (const route of routes) assert.deepEqual(parseRoute(routeHash(route)), route);
    assert.equal(routeHash({ view: 'job', id: UUID }), `#/jobs/${UUID}`);
  });
});
