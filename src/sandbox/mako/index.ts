export {
  FaultController,
  type FaultKind,
  InvalidFaultsError,
  type MakoFaults,
  MakoFaultsInput,
  parseFaults,
} from './faults.ts';
export type { MakoRequestRecord } from './request-log.ts';
export { type MakoHandle, type MakoOptions, startMako } from './server.ts';
