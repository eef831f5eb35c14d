/**
 * Storinfo's `GET /storagenodes` paging (peers.md §1.4), over a list already sorted the way
 * storinfo sorts it (numerically by the leading integer of manta_storage_id).
 */
export type PageResult<T> =
  | { readonly status: 200; readonly nodes: readonly T[]; readonly nextAfterId?: string }
  | { readonly status: 404 };

export function pageNodes<T extends { readonly manta_storage_id: string }>(
  list: readonly T[],
  limit: number,
  afterId: string | undefined,
): PageResult<T> {
  if (afterId === undefined && limit >= list.length) return { status: 200, nodes: list };
  let start = 0;
  if (afterId !== undefined) {
    const exact = list.findIndex((n) => n.manta_storage_id === afterId);
    if (exact >= 0) {
      start = exact + 1;
    } else {
      // Stand-in fix: the real service dereferences element 0 of an empty cache here.
      if (list.length === 0) return { status: 200, nodes: [] };
      const last = list[list.length - 1] as T;
      if (afterId > last.manta_storage_id) return { status: 404 };
      // Vanished cursor: placed by string comparison, as storinfo does (may mis-place a
      // page under the numeric order; exact cursors, the normal case, are right).
      start = list.findIndex((n) => n.manta_storage_id > afterId);
    }
  }
  const nodes = list.slice(start, start + limit);
  const lastOfPage = nodes[nodes.length - 1];
  if (start + limit < list.length && lastOfPage !== undefined) {
    return { status: 200, nodes, nextAfterId: lastOfPage.manta_storage_id };
  }
  return { status: 200, nodes };
}
