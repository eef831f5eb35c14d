/**
 * The console's frame: the navigation, the API token, the error banner, and the page the URL
 * names. A new page moves the keyboard focus to its heading, as a page load would.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { savedToken, saveToken } from './api.ts';
import { clearProblems, useProblems } from './problems.ts';
import type { Route } from './route.ts';
import { useRoute } from './router.ts';
import { FleetView } from './views/fleet.tsx';
import { JobView } from './views/job.tsx';
import { JobsView } from './views/jobs.tsx';
import { NewEvacuationView } from './views/new-evacuation.tsx';

const NAV: readonly [Route['view'], string, string][] = [
  ['fleet', '#/fleet', 'Fleet'],
  ['jobs', '#/jobs', 'Jobs'],
  ['new', '#/new', 'New evacuation'],
];

function TokenForm() {
  const [token, setToken] = useState(savedToken);
  const [saved, setSaved] = useState('');
  const submit = (event: Event) => {
    event.preventDefault();
    saveToken(token.trim());
    clearProblems();
    setSaved(token.trim() === '' ? 'Token cleared' : 'Token saved for this tab');
  };
  return (
    <form class="token" onSubmit={submit}>
      <label for="api-token">API token</label>
      <input
        id="api-token"
        type="password"
        autoComplete="off"
        value={token}
        onInput={(e) => {
          setToken(e.currentTarget.value);
          setSaved('');
        }}
      />
      <button type="submit">Save token</button>
      <span class="sub" role="status">
        {saved}
      </span>
    </form>
  );
}

function Banner() {
  const problems = useProblems();
  return (
    <div class="banner" role="alert">
      {problems.map((p) => (
        <p key={p.key}>
          <strong>{p.code}</strong>: {p.message}
        </p>
      ))}
    </div>
  );
}

function title(route: Route): string {
  switch (route.view) {
    case 'fleet':
      return 'Fleet';
    case 'jobs':
      return 'Jobs';
    case 'job':
      return 'Job';
    case 'new':
      return 'New evacuation';
  }
}

function Page({ route }: { route: Route }) {
  switch (route.view) {
    case 'fleet':
      return <FleetView />;
    case 'jobs':
      return <JobsView />;
    case 'job':
      return <JobView key={route.id} uuid={route.id} />;
    case 'new':
      return <NewEvacuationView key={route.shark} shark={route.shark} />;
  }
}

export function App() {
  const route = useRoute();
  const heading = useRef<HTMLHeadingElement>(null);
  const first = useRef(true);
  const where = JSON.stringify(route);
  // Keyed on `where`: a poll re-rendering the same page moves no focus.
  useEffect(() => {
    document.title = `${title(route)} · Manta rebalancer`;
    // Not on the first load: the browser starts at the top of the page, as it should.
    if (!first.current) heading.current?.focus();
    first.current = false;
  }, [where]);
  return (
    <>
      {/* A button, not a #main link: the fragment is the route. */}
      <button type="button" class="skip" onClick={() => heading.current?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <p class="brand">Manta rebalancer</p>
        <nav aria-label="Console">
          <ul>
            {NAV.map(([view, href, name]) => (
              <li key={view}>
                <a href={href} aria-current={route.view === view ? 'page' : undefined}>
                  {name}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <TokenForm />
      </header>
      <Banner />
      <main id="main">
        <h1 ref={heading} tabIndex={-1}>
          {title(route)}
        </h1>
        <Page route={route} />
      </main>
    </>
  );
}
