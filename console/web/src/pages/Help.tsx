// Docs: the Markdown pages the binary embeds (/docs/ and /docs/<name>),
// rendered with marked (loaded on demand). Links between pages stay in the
// console.
import { useEffect, useRef } from 'preact/hooks';
import { ErrorBox, Loading } from '../components/common';
import { useAsync } from '../hooks';

async function fetchText(path: string, signal: AbortSignal): Promise<Response> {
  const r = await fetch(path, { signal });
  if (!r.ok) throw new Error(r.status === 404 ? 'No such page' : r.statusText);
  return r;
}

export function Help({ name }: { name: string }) {
  const pages = useAsync(async (signal) => (await (await fetchText('/docs/', signal)).json()).pages as string[], []);
  const doc = useAsync(
    async (signal) => {
      if (!name) return null;
      const [md, { marked }] = await Promise.all([fetchText(`/docs/${encodeURIComponent(name)}`, signal).then((r) => r.text()), import('marked')]);
      // The pages come from the binary itself (docs/*.md), not from users.
      return marked.parse(md, { async: false, gfm: true }) as string;
    },
    [name],
  );
  const body = useRef<HTMLElement>(null);
  useEffect(() => {
    // Relative links to other pages (filter.md) become console links.
    body.current?.querySelectorAll('a[href]').forEach((a) => {
      const h = a.getAttribute('href')!;
      const m = /^(?:\.\/)?([\w-]+)\.md(#.*)?$/.exec(h);
      if (m) a.setAttribute('href', `/help/${m[1]}${m[2] ?? ''}`);
    });
    // Images next to the Markdown files (screenshots) are not embedded in
    // the binary: drop them rather than show broken images.
    body.current?.querySelectorAll('img').forEach((img) => {
      if (!/^(https?:|data:|\/)/.test(img.getAttribute('src') ?? '')) img.remove();
    });
  }, [doc.data]);
  return (
    <div class="help">
      <nav class="help-nav" aria-label="Documentation pages">
        <h3>Documentation</h3>
        {pages.error && <ErrorBox error={pages.error} />}
        <ul>
          {(pages.data ?? []).map((p) => (
            <li>
              <a href={`/help/${p}`} aria-current={p === name ? 'page' : undefined}>
                {p}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <article class="markdown" ref={body} data-doc={name}>
        {!name && (
          <>
            <h1>Documentation</h1>
            <p>Pick a page. The same Markdown is served raw at <code>/docs/&lt;name&gt;</code>, and the API is described at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>
          </>
        )}
        {name && doc.error && <ErrorBox error={doc.error} />}
        {name && !doc.data && !doc.error && <Loading what="the page" />}
        {doc.data && <div dangerouslySetInnerHTML={{ __html: doc.data }} />}
      </article>
    </div>
  );
}
