import { FAST_MSGID_MAX } from './codec.ts';

/**
 * Hands out msgids in [1, max], increasing, wrapping from max back to 1, skipping ids still
 * reserved (pending or abandoned requests) (spec/protocols.md §1.7). 0 is never handed out.
 */
export class MsgidAllocator {
  private next: number;

  constructor(
    first = 1,
    private readonly max = FAST_MSGID_MAX,
  ) {
    if (!Number.isInteger(first) || first < 1 || first > max) {
      throw new RangeError(`first msgid must be in [1, ${max}]: ${first}`);
    }
    this.next = first;
  }

  /** The next id for which `reserved` is false; undefined when every id is reserved. */
  allocate(reserved: (id: number) => boolean): number | undefined {
    for (let i = 0; i < this.max; i++) {
      const id = this.next;
      this.next = id >= this.max ? 1 : id + 1;
      if (!reserved(id)) return id;
    }
    return undefined;
  }
}
