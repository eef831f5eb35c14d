export { SAMPLE_ETAG, sampleMantaRecord } from '../../support/manta-record.ts';
