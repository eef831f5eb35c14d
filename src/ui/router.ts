/** The current page, from the URL's fragment, as a hook; and going to another page. */
import { useEffect, useState } from 'preact/hooks';
import { parseRoute, type Route, routeHash } from './route.ts';

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

export function navigate(route: Route): void {
  location.hash = routeHash(route);
}
