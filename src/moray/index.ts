export * from './client.ts';
export * from './errors.ts';
export * from './filter.ts';
export * from './options.ts';
export * from './records.ts';
