export * from './batch.ts';
export * from './client.ts';
export * from './errors.ts';
export * from './schemas.ts';
