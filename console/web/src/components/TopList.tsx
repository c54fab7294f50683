// A top-N widget: HTML bars (no chart library), each row a link.
import { get, type TopN } from '../api';
import { label, pct, rate } from '../format';
import { useAsync } from '../hooks';
import { href } from '../router';
import { ErrorBox, Loading } from './common';

export interface TopWidget {
  title: string;
  dimension: string;
  /** extra filter of the widget (e.g. egress only) */
  filter?: string;
  /** how a value is written in a filter: string columns are quoted */
  quote?: boolean;
  /** label of the empty value (default "(none)") */
  empty?: string;
}

export function filterValue(v: string, quote: boolean): string {
  return quote ? `'${v.replace(/[\\']/g, '\\$&')}'` : v;
}

export function TopList({ w, start, filter }: { w: TopWidget; start: string; filter?: string }) {
  const f = [filter, w.filter].filter(Boolean).join(' AND ');
  const r = useAsync((signal) => get<TopN>('topn', { dimensions: w.dimension, limit: 5, start, filter: f }, signal), [w.dimension, start, f]);
  return (
    <section class="panel top" data-top={w.dimension}>
      <h3>{w.title}</h3>
      {r.error && <ErrorBox error={r.error} />}
      {!r.data && !r.error && <Loading what={w.title.toLowerCase()} />}
      {r.data && r.data.rows.length === 0 && <p class="muted">No traffic.</p>}
      {r.data && (
        <ol>
          {r.data.rows.map((row) => {
            const v = row.labels[0] ?? '';
            const cond = row.other ? '' : `${w.dimension} = ${filterValue(v, !!w.quote)}`;
            const link = href('/visualize', {
              dimensions: w.dimension,
              filter: [f, cond].filter(Boolean).join(' AND ') || undefined,
            });
            return (
              <li>
                <a href={link} title={`${label(v, w.empty)}: ${rate(row.value, r.data!.unit)}`}>
                  <span class="bar" style={{ width: `${Math.max(1, row.percent)}%` }} />
                  <span class="name">{row.other ? 'Other' : label(v, w.empty)}</span>
                  <span class="num">{pct(row.percent)}</span>
                </a>
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}
