// A small history router: the location is the state. Pages read
// `route.value` and change it with navigate(); the back button restores
// earlier states through popstate.
import { signal } from '@preact/signals';

export { href } from './href';

export interface Route {
  path: string;
  params: URLSearchParams;
}

function current(): Route {
  return { path: location.pathname, params: new URLSearchParams(location.search) };
}

export const route = signal<Route>(current());

addEventListener('popstate', () => {
  route.value = current();
});

/**
 * navigate changes the location: a new history entry by default, or in
 * place (replace) for changes that should not be a step back (auto refresh,
 * canonicalization).
 */
export function navigate(url: string, replace = false) {
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  route.value = current();
  if (!replace) scrollTo(0, 0);
}

/** onLinkClick turns clicks on same-origin <a> elements into navigate(). */
export function onLinkClick(e: MouseEvent) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || a.target || a.hasAttribute('download') || a.origin !== location.origin) return;
  if (a.pathname.startsWith('/api/') || a.pathname.startsWith('/docs/')) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
}
