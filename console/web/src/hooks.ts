import { useEffect, useState } from 'preact/hooks';
import { epoch } from './api';

export interface Async<T> {
  data: T | null;
  error: Error | null;
  loading: boolean;
}

/**
 * useAsync runs load whenever a dependency changes (or epoch does),
 * aborting the previous run; the last data stays shown while reloading.
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<Async<T>>({ data: null, error: null, loading: true });
  const generation = epoch.value;
  useEffect(() => {
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(ctl.signal).then(
      (data) => !ctl.signal.aborted && setState({ data, error: null, loading: false }),
      (error: Error) => !ctl.signal.aborted && error.name !== 'AbortError' && setState({ data: null, error, loading: false }),
    );
    return () => ctl.abort();
  }, [...deps, generation]);
  return state;
}

/** useInterval calls fn every `seconds` (0: never). */
export function useInterval(fn: () => void, seconds: number) {
  useEffect(() => {
    if (!seconds) return;
    const id = setInterval(fn, seconds * 1000);
    return () => clearInterval(id);
  }, [seconds]);
}
