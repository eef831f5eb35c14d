export { type MdapiDatabaseOptions, openMdapiDatabase } from './database.ts';
export { MdapiFaults, type MdapiFaultsInput } from './faults.ts';
export {
  createVnodeSchemas,
  VNODE_SCHEMA_PREFIX,
  vnodeSchemaDdl,
  vnodeSchemaName,
  vnodeTable,
} from './schema.ts';
export {
  type MdapiObjectKey,
  type MdapiShard,
  type MdapiShardOptions,
  startMdapiShard,
} from './shard.ts';
