export {
  assertMaxFillPercentage,
  fillLimitedCapacityBytes,
  fillLimitedCapacityMb,
  MIB,
} from './capacity.ts';
export {
  nextAfterId,
  StorinfoClient,
  type StorinfoClientOptions,
  type StorinfoFailure,
  StorinfoRequestError,
} from './client.ts';
export {
  InvalidStorinfoNodeError,
  parseStorinfoNode,
  type StorinfoNode,
  StorinfoNodeSchema,
} from './node.ts';
export {
  DestinationPicker,
  type DestinationPickerOptions,
  type PlacementAvoid,
  type PlacementDecision,
  type PlacementObject,
  type PlacementSkipReason,
} from './picker.ts';
export {
  StorinfoPoller,
  type StorinfoPollerOptions,
  type StorinfoSnapshot,
  type StorinfoStatus,
} from './poller.ts';
export { createRandom, type Random, shuffleInPlace } from './random.ts';
export {
  type Reservation,
  ReservationError,
  type ReservationStats,
  Reservations,
  type ReservationsOptions,
} from './reservations.ts';
