export { backoff } from './backoff.ts';
export { Gate } from './gate.ts';
export { KeyedMutex } from './keyed-mutex.ts';
export { BoundedQueue, QueueClosedError } from './queue.ts';
export { RateLimiter, type RateLimiterOptions } from './rate.ts';
export { RetriesExhaustedError, retry } from './retry.ts';
export { Semaphore } from './semaphore.ts';
export { sleep } from './sleep.ts';
