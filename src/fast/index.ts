export * from './client.ts';
export * from './codec.ts';
export * from './crc.ts';
export * from './errors.ts';
export * from './msgid.ts';
export * from './server.ts';
