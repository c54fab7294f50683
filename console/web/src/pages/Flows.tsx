// Flows: raw flow search with the filter language, paging, CSV download.
// Paging keeps the end of the first page fixed (in the URL) so that pages
// do not shift while flows arrive.
import { get, request, type FlowsPage } from '../api';
import { FilterEditor } from '../components/FilterEditor';
import { TimeRange } from '../components/TimeRange';
import { Empty, ErrorBox, Loading } from '../components/common';
import { label } from '../format';
import { useAsync } from '../hooks';
import { href, navigate, route } from '../router';
import { useState } from 'preact/hooks';

export const pageSize = 50;

export function Flows() {
  const p = route.value.params;
  const filter = p.get('filter') ?? '';
  const start = p.get('start') ?? 'now-1h';
  const end = p.get('end') ?? 'now';
  const offset = Math.max(0, parseInt(p.get('offset') ?? '0', 10) || 0);
  const set = (patch: Partial<{ filter: string; start: string; end: string; offset: number }>) => {
    const n = { filter, start, end, offset: 0, ...patch };
    navigate(
      href('/flows', {
        filter: n.filter || undefined,
        start: n.start === 'now-1h' ? undefined : n.start,
        end: n.end === 'now' ? undefined : n.end,
        offset: n.offset ? String(n.offset) : undefined,
      }),
    );
  };
  const page = useAsync((signal) => get<FlowsPage>('flows', { filter, start, end, offset, limit: pageSize }, signal), [filter, start, end, offset]);
  const [downloading, setDownloading] = useState<string | null>(null);

  const download = async () => {
    setDownloading('Preparing CSV…');
    try {
      // A plain link would not carry the token header: fetch, then save.
      const resp = await request('flows', { filter, start, end: page.data?.end ?? end, format: 'csv' });
      const blob = await resp.blob();
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = /filename="([^"]+)"/.exec(resp.headers.get('Content-Disposition') ?? '')?.[1] ?? 'flows.csv';
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
      setDownloading(null);
    } catch (e) {
      setDownloading(`CSV failed: ${(e as Error).message}`);
    }
  };

  const d = page.data;
  return (
    <div class="flows">
      <FilterEditor value={filter} onApply={(f) => set({ filter: f })} />
      <div class="toolbar">
        <TimeRange start={start} end={end} onChange={(s, e) => set({ start: s, end: e })} />
        <div class="pager">
          <button type="button" disabled={offset === 0} onClick={() => set({ offset: Math.max(0, offset - pageSize), end: d?.end ?? end })} data-page="prev">
            ← Newer
          </button>
          <span class="muted" data-page-info>
            {d ? (d.rows.length ? `${offset + 1}–${offset + d.rows.length}` : '0') : '…'}
          </span>
          <button type="button" disabled={!d || d.next < 0} onClick={() => d && set({ offset: d.next, end: d.end })} data-page="next">
            Older →
          </button>
          <button type="button" onClick={download} disabled={!d || d.rows.length === 0} data-csv>
            Download CSV
          </button>
          {downloading && <span class="muted small">{downloading}</span>}
        </div>
      </div>
      {page.error && <ErrorBox error={page.error} />}
      {!d && !page.error && <Loading what="flows" />}
      {d && d.rows.length === 0 && (
        <Empty title="No flow matches">
          Nothing between {start} and {end}
          {filter ? ' with this filter' : ''}. Widen the range{filter ? ' or the filter' : ''}, or check the <a href="/">home page</a> for when the last flow
          arrived.
        </Empty>
      )}
      {d && d.rows.length > 0 && (
        <div class="scroll">
          <table class="data flows-table" data-flows-table>
            <thead>
              <tr>
                {d.columns.map((c) => (
                  <th>{c}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {d.rows.map((r) => (
                <tr>
                  {r.map((v, i) => (
                    <td class={typeof v === 'number' ? 'num' : ''}>{cell(d.columns[i], v)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function cell(column: string, v: unknown): string {
  if (v === null || v === undefined) return '';
  if (column === 'TimeReceived' && typeof v === 'string') return new Date(v).toLocaleString();
  if (typeof v === 'string') return label(v);
  return String(v);
}
