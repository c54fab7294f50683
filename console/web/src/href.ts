// Links as the router reads them, without touching the location (so pure
// modules and their tests can build links).

/** href builds a link from a path and parameters (empty values dropped). */
export function href(path: string, params?: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
