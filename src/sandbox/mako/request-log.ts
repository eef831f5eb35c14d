/** What the mako served, so tests can assert "never contacted" or "no download" (peers.md §2.5). */
export interface MakoRequestRecord {
  readonly time: number;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** Fault injected into this request, if any. */
  readonly fault?: string;
}

/** A bounded ring of the most recent requests. */
export class RequestLog {
  private records: MakoRequestRecord[] = [];

  constructor(private readonly capacity = 10_000) {}

  add(record: MakoRequestRecord): void {
    this.records.push(record);
    if (this.records.length > this.capacity)
      this.records.splice(0, this.records.length - this.capacity);
  }

  list(): readonly MakoRequestRecord[] {
    return this.records;
  }

  clear(): void {
    this.records = [];
  }
}
