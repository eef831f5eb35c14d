/** A job's throttles (issue 15): set at creation, changeable while it runs. */
import { Type } from 'typebox';

const limit = (description: string) =>
  Type.Optional(
    Type.Union([Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), Type.Null()], {
      description: `${description}; null: unlimited`,
    }),
  );
/** A job's throttles, each changeable while it runs (`set_limits`). */
export const LIMIT_PROPERTIES = {
  objects_per_second: limit('objects the job posts to agents per second'),
  bytes_per_second: limit('bytes of copies the job posts to agents per second'),
  metadata_updates_per_second: limit('metadata updates per second per metadata shard'),
};
export const LIMIT_NAMES = [
  'objects_per_second',
  'bytes_per_second',
  'metadata_updates_per_second',
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];
/** Every limit of a job; null: unlimited. */
export type JobLimits = Record<LimitName, number | null>;
export const JobLimits = Type.Object(
  {
    objects_per_second: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    bytes_per_second: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    metadata_updates_per_second: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  },
  { title: 'JobLimits' },
);
/** Limits to change: the ones named; at least one. */
export const LimitChanges = Type.Object(LIMIT_PROPERTIES, {
  title: 'LimitChanges',
  additionalProperties: false,
  minProperties: 1,
});
export type LimitChanges = Partial<JobLimits>;
