/**
 * A store on a fresh test database for a describe block: opened before its tests, dropped after
 * them.
 */
import { after, before } from 'node:test';
import type { Database } from '../../src/db/index.ts';
import { ManagerStore } from '../../src/manager/store/index.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

/** The store (and its database) a describe block's tests share. */
export interface StoreFixture {
  readonly store: ManagerStore;
  readonly db: Database;
}

/**
 * Opens a fresh store before the enclosing describe block's tests and drops its database after
 * them. Hooks run in the order they are registered: a block whose own clean-up still uses the
 * database registers that `after` before calling this.
 */
export function useStore(): StoreFixture {
  let opened: { store: ManagerStore; tdb: TestDatabase } | undefined;
  before(async () => {
    const tdb = await createTestDatabase();
    opened = { store: await ManagerStore.open(tdb.db), tdb };
  });
  after(async () => {
    await opened?.tdb.drop();
  });
  const get = () => {
    if (opened === undefined) throw new Error('the store is opened in a before() hook');
    return opened;
  };
  return {
    get store() {
      return get().store;
    },
    get db() {
      return get().tdb.db;
    },
  };
}
