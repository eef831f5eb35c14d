/**
 * The throughput tuning of docs/operations.md ("Throughput"): the manager config the throughput
 * benchmarks run with unless told otherwise ('{}' runs L's defaults: 50, 10, off).
 */
export const THROUGHPUT_TUNING = {
  options: {
    max_tasks_per_assignment: 200,
    max_metadata_update_threads: 32,
    use_batched_updates: true,
  },
} as const;
