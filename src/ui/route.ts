/**
 * The console's pages, in the URL's fragment (`#/jobs/<uuid>`): the manager serves one page,
 * every view is a link an operator can bookmark or paste, and back and forward work.
 */

export type Route =
  | { view: 'fleet' }
  | { view: 'jobs' }
  | { view: 'job'; id: string }
  | { view: 'new'; shark: string };

/** `#/jobs/<uuid>` -> the job's page; anything unknown is the fleet (the default page). */
export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?', 2);
  const parts = path.split('/').filter((p) => p !== '');
  if (parts[0] === 'jobs' && parts.length === 1) return { view: 'jobs' };
  if (parts[0] === 'jobs' && parts.length === 2) {
    return { view: 'job', id: decoded(parts[1] as string) };
  }
  if (parts[0] === 'new' && parts.length === 1) {
    return { view: 'new', shark: new URLSearchParams(query).get('shark') ?? '' };
  }
  return { view: 'fleet' };
}

/** A malformed escape is kept as typed: the manager answers 404 for a job that does not exist. */
function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** The fragment of a page: the inverse of parseRoute. */
export function routeHash(route: Route): string {
  switch (route.view) {
    case 'fleet':
      return '#/fleet';
    case 'jobs':
      return '#/jobs';
    case 'job':
      return `#/jobs/${encodeURIComponent(route.id)}`;
    case 'new':
      return route.shark === '' ? '#/new' : `#/new?${new URLSearchParams({ shark: route.shark })}`;
  }
}
