/**
 * Live data: a load repeated every 2 s while the view shows it, the next one starting when the
 * previous answered (a slow manager is never asked twice at once). Failures go to the error
 * banner under the poll's name and are taken back by its next success.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { report } from './problems.ts';

const POLL_INTERVAL_MS = 2000;

interface Poll<T> {
  /** The last answer; undefined until the first one. */
  data: T | undefined;
  /** Loads again now, e.g. after an action changed what is shown. */
  refresh: () => void;
}

/**
 * Polls `load` while `live`; when not live it loads once per change of `deps` (a finished
 * job's final answer). `name` identifies the poll in the banner.
 */
export function usePoll<T>(
  name: string,
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly unknown[],
  live = true,
): Poll<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;
  const kick = useRef<(() => void) | undefined>(undefined);

  useEffect(() => {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    let again = false;
    const run = async () => {
      clearTimeout(timer);
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        const value = await loadRef.current(abort.signal);
        if (abort.signal.aborted) return;
        setData(value);
        report(name, undefined);
      } catch (err) {
        if (abort.signal.aborted) return;
        report(name, err);
      } finally {
        running = false;
      }
      if (again) {
        again = false;
        void run();
      } else if (live) {
        timer = setTimeout(run, POLL_INTERVAL_MS);
      }
    };
    kick.current = () => void run();
    void run();
    return () => {
      abort.abort();
      clearTimeout(timer);
      report(name, undefined);
    };
  }, [name, live, ...deps]);

  const refresh = useCallback(() => kick.current?.(), []);
  return { data, refresh };
}
