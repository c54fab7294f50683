// The shell: navigation, theme, token prompt, keyboard shortcuts, and the
// page for the current path.
import { useEffect, useState } from 'preact/hooks';
import { epoch, authRequired, getToken } from './api';
import { focusFilter } from './components/FilterEditor';
import { TokenPrompt } from './components/TokenPrompt';
import { Shortcuts } from './components/Shortcuts';
import { Flows } from './pages/Flows';
import { Help } from './pages/Help';
import { Home } from './pages/Home';
import { Host } from './pages/Host';
import { Hosts } from './pages/Hosts';
import { Visualize } from './pages/Visualize';
import { navigate, onLinkClick, route } from './router';
import { dark, toggleTheme } from './theme';

const nav = [
  { path: '/', label: 'Home', key: 'h' },
  { path: '/visualize', label: 'Visualize', key: 'v' },
  { path: '/hosts', label: 'Hosts', key: 'o' },
  { path: '/flows', label: 'Flows', key: 'f' },
  { path: '/help', label: 'Docs', key: 'd' },
];

function page(path: string) {
  if (path === '/' || path === '') return <Home />;
  if (path === '/visualize') return <Visualize />;
  if (path === '/hosts') return <Hosts />;
  if (path.startsWith('/hosts/')) return <Host name={decodeURIComponent(path.slice('/hosts/'.length))} />;
  if (path === '/flows') return <Flows />;
  if (path === '/help' || path.startsWith('/help/')) return <Help name={path.slice('/help/'.length)} />;
  return (
    <div class="empty">
      <h3>No such page</h3>
      <p>
        <a href="/">Back to the home page</a>
      </p>
    </div>
  );
}

function typing(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  return !!t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));
}

export function App() {
  const [showShortcuts, setShowShortcuts] = useState(false);
  const [askToken, setAskToken] = useState(false);
  const { path } = route.value;

  useEffect(() => {
    let pendingG = 0;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        setShowShortcuts(false);
        setAskToken(false);
        return;
      }
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      const now = Date.now();
      if (now - pendingG < 1500) {
        pendingG = 0;
        const n = nav.find((n) => n.key === e.key);
        if (n) {
          e.preventDefault();
          navigate(n.path);
        }
        return;
      }
      switch (e.key) {
        case 'g':
          pendingG = now;
          break;
        case '/':
          if (focusFilter()) e.preventDefault();
          break;
        case 't':
          toggleTheme();
          break;
        case 'r':
          epoch.value++;
          break;
        case '?':
          setShowShortcuts((v) => !v);
          break;
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);

  return (
    <div class="shell" onClick={onLinkClick}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <a class="brand" href="/">
          hostflow
        </a>
        <nav aria-label="Pages">
          {nav.map((n) => (
            <a
              href={n.path}
              aria-current={(n.path === '/' ? path === '/' : path.startsWith(n.path)) ? 'page' : undefined}
              title={`${n.label} (g ${n.key})`}
            >
              {n.label}
            </a>
          ))}
        </nav>
        <div class="tools">
          <button type="button" class="ghost" onClick={() => setAskToken(true)} title="Set the API token" data-token-button>
            {getToken() ? 'Token ✓' : 'Token'}
          </button>
          <button type="button" class="ghost" onClick={toggleTheme} title="Toggle dark mode (t)" aria-label="Toggle dark mode">
            {dark.value ? '☀' : '☾'}
          </button>
          <button type="button" class="ghost" onClick={() => setShowShortcuts(true)} title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts">
            ?
          </button>
        </div>
      </header>
      <main id="main" key={path}>
        {page(path)}
      </main>
      {(authRequired.value !== null || askToken) && (
        <TokenPrompt message={authRequired.value} onClose={askToken && authRequired.value === null ? () => setAskToken(false) : undefined} onDone={() => setAskToken(false)} />
      )}
      {showShortcuts && <Shortcuts onClose={() => setShowShortcuts(false)} />}
    </div>
  );
}
