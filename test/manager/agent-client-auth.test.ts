import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type RunningAgent, startAgent } from '../../src/agent/agent.ts';
import { HttpAgentClient } from '../../src/manager/jobs/evacuate/agent-client.ts';
import {
  AgentTransportError,
  AgentUnauthorizedError,
} from '../../src/manager/jobs/evacuate/types.ts';
import { silentLog, type TempDirs, tempDirs, testConfig } from '../agent/helpers.ts';

const dest = { manta_storage_id: '3.stor.test', datacenter: 'dc1' };
const TOKEN = 'manager-and-agents-share-this-token';

describe('HttpAgentClient against a real agent with an auth token', () => {
  let dirs: TempDirs;
  let agent: RunningAgent;
  const clients: HttpAgentClient[] = [];
  const clientWith = (authToken: string | undefined): HttpAgentClient => {
    const c = new HttpAgentClient({ urlFor: () => agent.url, authToken });
    clients.push(c);
    return c;
  };

  before(async () => {
    dirs = await tempDirs();
    agent = await startAgent(testConfig(dirs, { authToken: TOKEN }), { log: silentLog });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await agent.close();
    await dirs.cleanup();
  });

  test('with the right token: POST is accepted and GET reports the state', async () => {
    const client = clientWith(TOKEN);
    const id = randomUUID();
    const signal = new AbortController().signal;
    assert.deepEqual(await client.post(dest, { id, tasks: [] }, signal), { kind: 'accepted' });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const got = await client.get(dest, id, signal);
      assert.equal(got.kind, 'state');
      if (got.kind === 'state' && typeof got.state === 'object') {
        assert.deepEqual(got.state, { Complete: null });
        break;
      }
      assert.ok(Date.now() < deadline, 'the empty assignment never completed');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // An id the agent does not know is still `missing` (404), auth being fine.
    assert.deepEqual(await client.get(dest, randomUUID(), signal), {
      kind: 'missing',
      status: 404,
    });
  });

  for (const [what, token] of [
    ['without a token', undefined],
    ['with a wrong token', 'not-the-agents-token-at-all'],
  ] as const) {
    test(`${what}: POST and GET fail with AgentUnauthorizedError, never missing or rejected`, async () => {
      const client = clientWith(token);
      const signal = new AbortController().signal;
      const unauthorized = (err: unknown): boolean =>
        err instanceof AgentUnauthorizedError &&
        !(err instanceof AgentTransportError) &&
        err.code === 'agent_unauthorized' &&
        /HTTP 401/.test(err.message);
      await assert.rejects(
        client.post(dest, { id: randomUUID(), tasks: [] }, signal),
        unauthorized,
      );
      await assert.rejects(client.get(dest, randomUUID(), signal), unauthorized);
    });
  }
});
