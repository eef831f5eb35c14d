/**
 * What the error banner shows: the latest failure of each source (a poll, or the operator's
 * last action). A source that succeeds again takes its failure back, so the banner shows what
 * is wrong now, not everything that ever was.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from './api.ts';

interface Problem {
  code: string;
  message: string;
}

const problems = new Map<string, Problem>();
const listeners = new Set<() => void>();

function changed(): void {
  for (const listener of listeners) listener();
}

/** Records a source's failure, or (undefined) that it works again. */
export function report(source: string, err: unknown): void {
  if (err === undefined) {
    if (problems.delete(source)) changed();
    return;
  }
  const problem =
    err instanceof ApiError
      ? { code: err.answer, message: err.message }
      : { code: 'Error', message: err instanceof Error ? err.message : String(err) };
  // Re-inserted: the Map's order is the order problems happened, latest last.
  problems.delete(source);
  problems.set(source, problem);
  changed();
}

/** Forgets every problem: after a new token, each poll says again what still fails. */
export function clearProblems(): void {
  problems.clear();
  changed();
}

/** The current problems, latest first, each once (`key`: its words). */
export function useProblems(): (Problem & { key: string })[] {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const listener = () => setVersion((v) => v + 1);
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }, []);
  const byText = new Map<string, Problem & { key: string }>();
  for (const p of [...problems.values()].reverse()) {
    const key = `${p.code}: ${p.message}`;
    if (!byText.has(key)) byText.set(key, { ...p, key });
  }
  return [...byText.values()];
}

/** Runs an operator's action: its failure goes to the banner, its success clears the last. */
export async function act<T>(action: () => Promise<T>): Promise<T | undefined> {
  try {
    const value = await action();
    report('action', undefined);
    return value;
  } catch (err) {
    report('action', err);
    return undefined;
  }
}
