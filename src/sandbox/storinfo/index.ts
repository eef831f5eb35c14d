export {
  type Heartbeat,
  InvalidStorinfoInputError,
  type SharkConfig,
  type SharkPatch,
  type StorinfoConfig,
  type StorinfoFaults,
} from './config.ts';
export type { SharkView } from './fleet.ts';
export type { StorageNodeRecord } from './record.ts';
export { type StorinfoHandle, type StorinfoOptions, startStorinfo } from './server.ts';
