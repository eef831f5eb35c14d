/**
 * One record's metadata update (manager.md §4.9): the evacuated shark's entry replaced by the
 * destination, written etag-conditionally, transient failures retried with backoff. A conflict
 * is read back and judged by the object's identity (conflict.ts): never a user's write
 * overwritten, our own earlier write recognised, another job's move of another copy merged.
 * Used for the objects a job moves and for their duplicates (snaplinks). Each write is paced by
 * the job's and the fleet's per-shard metadata limits; a shard that keeps failing is reported
 * as what holds the job up until it answers again.
 */
import type { StorageNode } from '../../../api/common.ts';
import { sleep } from '../../../async/index.ts';
import type { Logger } from '../../../log/index.ts';
import type { MantaObjectValue } from '../../../manta/index.ts';
import { type MetadataTier, type ObjectTarget, tierOf } from '../../store/index.ts';
import type { Blockers } from './blockers.ts';
import { resolveConflict } from './conflict.ts';
import type { MetadataPacer } from './limits.ts';
import { BadObjectError, rewriteSharks } from './object.ts';
import {
  type EvacuateSettings,
  type LiveRecord,
  MetadataEtagMismatchError,
  MetadataObjectNotFoundError,
  MetadataRejectedError,
  type MetadataWriter,
  type RecordRef,
  type UnusableRecord,
} from './types.ts';

/** An update's outcome: a final target, or the object to be placed again from its live record. */
export type UpdateResult = ObjectTarget | { status: 'place_again'; live: LiveRecord };

export interface RecordToUpdate {
  /** Absent: the record's own (L's rule). */
  tier?: MetadataTier;
  shard: number;
  key: string;
  /** The etag it was read with. */
  etag: string;
  object: MantaObjectValue;
}

export class RecordUpdater {
  constructor(
    private readonly deps: {
      metadata: MetadataWriter;
      settings: Pick<
        EvacuateSettings,
        'metadataAttempts' | 'metadataBackoffMs' | 'maxConflictRewrites'
      >;
      evacuated: string;
      log: Logger;
      signal: AbortSignal;
      /** Absent: unpaced. */
      pacer?: MetadataPacer;
      blockers?: Blockers;
    },
  ) {}

  /** The shard answered (whatever it said): it no longer holds the job up. */
  private answered(tier: MetadataTier, shard: number): void {
    this.deps.blockers?.clear(shardSource(tier, shard));
  }

  private failing(tier: MetadataTier, shard: number, err: unknown): void {
    const why = err instanceof Error ? err.message : String(err);
    this.deps.blockers?.report(shardSource(tier, shard), `metadata requests fail: ${why}`);
  }

  /** The live record, transient failures retried (a shard just back may refuse for a moment). */
  async readLive(ref: RecordRef): Promise<LiveRecord | UnusableRecord | undefined> {
    const { metadata, settings, signal, log } = this.deps;
    for (let attempt = 1; ; attempt++) {
      try {
        const live = await metadata.getObject(ref, signal);
        this.answered(ref.tier, ref.shard);
        return live;
      } catch (err) {
        signal.throwIfAborted();
        if (err instanceof MetadataRejectedError) this.answered(ref.tier, ref.shard);
        else this.failing(ref.tier, ref.shard, err);
        if (attempt >= settings.metadataAttempts || err instanceof MetadataRejectedError) throw err;
        const { tier, shard, key } = ref;
        log.warn({ err, tier, shard, key, attempt }, 'reading a live record failed; retrying');
        await sleep(settings.metadataBackoffMs(attempt), signal);
      }
    }
  }

  /**
   * The live record, or 'failed' when the shard did not answer (transient failures already
   * retried): a shard outage makes the object's update fail, never the job.
   */
  private async liveOrFailure(
    o: RecordToUpdate,
  ): Promise<LiveRecord | UnusableRecord | undefined | { failed: string }> {
    const tier = this.tierOf(o);
    try {
      return await this.readLive({ tier, shard: o.shard, key: o.key, object: o.object });
    } catch (err) {
      this.deps.signal.throwIfAborted();
      this.deps.log.warn({ key: o.key, tier, shard: o.shard, err }, 'reading a live record failed');
      const why = err instanceof Error ? err.message : String(err);
      return { failed: `reading the live record failed: ${why}` };
    }
  }

  private tierOf(o: RecordToUpdate): MetadataTier {
    return o.tier ?? tierOf(o.object);
  }

  private failed(o: RecordToUpdate, detail: string): UpdateResult {
    const buckets = this.tierOf(o) === 'buckets';
    return {
      status: 'error',
      error: buckets ? 'mdapi_update_failed' : 'moray_update_failed',
      detail,
    };
  }

  /**
   * The record is gone (deleted by its user). A v2 record's typed outcome is an error, as the
   * buckets tier reports it (L's mdapi_object_not_found); a v1 one a skip.
   */
  private gone(o: RecordToUpdate): UpdateResult {
    return this.tierOf(o) === 'buckets'
      ? { status: 'error', error: 'mdapi_object_not_found', detail: `${o.key}: object deleted` }
      : { status: 'skipped', reason: 'metadata_object_not_found' };
  }

  /** A user rewrote the object (a v2 one: it has a new id); the user's version is kept. */
  private changed(o: RecordToUpdate): UpdateResult {
    this.deps.log.info(
      { key: o.key, shard: o.shard, tier: this.tierOf(o), reason: 'metadata_etag_mismatch' },
      'metadata changed since discovery: object left as the user wrote it',
    );
    return this.tierOf(o) === 'buckets'
      ? {
          status: 'error',
          error: 'mdapi_etag_mismatch',
          detail: `${o.key}: overwritten by its user`,
        }
      : { status: 'skipped', reason: 'metadata_etag_mismatch' };
  }

  /**
   * Rewrites `o` to name `dest`. `destAllowed` is asked before each write (another job may
   * have started evacuating `dest`); `placeAgain` when `dest` cannot be named (that, or another
   * writer put a copy on it meanwhile): true to have the object placed again from its live
   * record, false to skip it.
   */
  async update(
    o: RecordToUpdate,
    dest: StorageNode,
    policy: { destAllowed: () => boolean; placeAgain: () => boolean },
  ): Promise<UpdateResult> {
    const { metadata, settings, signal, log, evacuated, pacer } = this.deps;
    const tier = this.tierOf(o);
    if (o.shard < 0)
      return { status: 'error', error: 'bad_shard_number', detail: `shard ${o.shard}` };
    let value: MantaObjectValue;
    try {
      value = rewriteSharks(o.object, evacuated, dest);
    } catch (err) {
      if (err instanceof BadObjectError)
        return { status: 'error', error: err.error, detail: err.message };
      throw err;
    }
    let etag = o.etag;
    let previous = o.object;
    let rewrites = 0;
    for (let attempt = 1; ; attempt++) {
      if (!policy.destAllowed()) {
        const live = await this.liveOrFailure(o);
        if (live && 'failed' in live) return this.failed(o, live.failed);
        if (!live) return this.gone(o);
        // To be placed again from a record it cannot use: a bad record, as at discovery.
        if ('problem' in live)
          return { status: 'error', error: 'bad_manta_object', detail: live.problem };
        if (policy.placeAgain()) return { status: 'place_again', live };
        return { status: 'skipped', reason: 'destination_unreachable' };
      }
      const paced = pacer?.take(tier, o.shard, 1, signal);
      if (paced) await paced;
      try {
        await metadata.putObject({ shard: o.shard, key: o.key, etag, value, previous }, signal);
        this.answered(tier, o.shard);
        return { status: 'complete' };
      } catch (err) {
        const typed =
          err instanceof MetadataEtagMismatchError ||
          err instanceof MetadataObjectNotFoundError ||
          err instanceof MetadataRejectedError;
        if (typed) this.answered(tier, o.shard);
        else if (!signal.aborted) this.failing(tier, o.shard, err);
        if (err instanceof MetadataEtagMismatchError) {
          const live = await this.liveOrFailure(o);
          if (live && 'failed' in live) return this.failed(o, live.failed);
          if (!live) return this.gone(o);
          const seen = resolveConflict(live, o.object, value, evacuated, dest);
          if (seen.kind === 'ours') return { status: 'complete' };
          if (seen.kind === 'moved') return { status: 'skipped', reason: 'object_not_on_shark' };
          if (seen.kind === 'collision' && policy.placeAgain()) {
            return { status: 'place_again', live: seen.live };
          }
          if (seen.kind !== 'rewrite' || ++rewrites > settings.maxConflictRewrites) {
            return this.changed(o);
          }
          ({ value, etag, previous } = seen);
          attempt = 0;
          continue;
        }
        if (err instanceof MetadataObjectNotFoundError) return this.gone(o);
        signal.throwIfAborted();
        if (attempt >= settings.metadataAttempts || err instanceof MetadataRejectedError) {
          log.warn({ key: o.key, shard: o.shard, err }, 'metadata update failed');
          return this.failed(o, err instanceof Error ? err.message : String(err));
        }
        await sleep(settings.metadataBackoffMs(attempt), signal);
      }
    }
  }
}

/** How a metadata shard is named where it holds a job up. */
export function shardSource(tier: MetadataTier, shard: number): string {
  return `${tier} shard ${shard}`;
}
