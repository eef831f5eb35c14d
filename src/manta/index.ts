export * from './address.ts';
export * from './errors.ts';
export * from './ids.ts';
export * from './md5.ts';
export * from './object.ts';
export * from './paths.ts';
