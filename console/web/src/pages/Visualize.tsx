// Visualize: graphs over any dimensions with the filter language. The
// whole state lives in the URL (see state.ts): every change is a history
// entry, so links are shareable and the back button works.
import { useMemo, useState } from 'preact/hooks';
import { get, type Sankey, type Series, type TimeSeries } from '../api';
import { Chart } from '../components/Chart';
import { Dimensions } from '../components/Dimensions';
import { FilterEditor } from '../components/FilterEditor';
import { TimeRange } from '../components/TimeRange';
import { Empty, ErrorBox } from '../components/common';
import { reverseColors, sankeyOption, seriesColor, timeSeriesOption } from '../charts/options';
import { label, rate, seriesName, total, unitLabels } from '../format';
import { useAsync, useInterval } from '../hooks';
import { href, navigate, route } from '../router';
import { apiParams, graphs, parse, previousPeriods, refreshes, serialize, topBys, units, type VisualizeState } from '../state';
import { dark } from '../theme';
import { isRelative, rangeLabel } from '../time';

export function Visualize() {
  const state = parse(route.value.params);
  const key = serialize(state).toString();
  const [tick, setTick] = useState(0);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const set = (patch: Partial<VisualizeState>) => navigate(href('/visualize') + '?' + serialize({ ...state, ...patch }).toString());
  useInterval(() => setTick((t) => t + 1), isRelative(state.end) ? state.refresh : 0);

  const sankey = state.graph === 'sankey';
  const needTwo = sankey && state.dimensions.length < 2;
  const data = useAsync<TimeSeries | Sankey | null>(
    (signal) => (needTwo ? Promise.resolve(null) : get(sankey ? 'sankey' : 'timeseries', apiParams(state), signal)),
    [key, tick],
  );

  const option = useMemo(() => {
    if (!data.data) return null;
    if (sankey) return 'nodes' in data.data ? sankeyOption(data.data as Sankey, { dark: dark.value, unit: state.unit }) : null;
    if (!('series' in data.data)) return null;
    return timeSeriesOption(data.data as TimeSeries, { graph: state.graph as Exclude<typeof state.graph, 'sankey'>, dark: dark.value, hidden });
  }, [data.data, dark.value, hidden, state.graph]);

  const toggle = (name: string) => {
    const h = new Set(hidden);
    if (h.has(name)) h.delete(name);
    else h.add(name);
    setHidden(h);
  };

  const ts = data.data && 'series' in data.data ? (data.data as TimeSeries) : null;
  const sk = data.data && 'nodes' in data.data ? (data.data as Sankey) : null;
  const empty = (ts && ts.series.length === 0) || (sk && sk.links.length === 0);

  return (
    <div class="visualize">
      <aside class="controls" aria-label="Graph options">
        <fieldset>
          <legend>Graph</legend>
          <div class="segmented" role="radiogroup" aria-label="Graph type">
            {graphs.map((g) => (
              <button type="button" role="radio" aria-checked={state.graph === g.value} data-graph={g.value} onClick={() => set({ graph: g.value })}>
                {g.label}
              </button>
            ))}
          </div>
        </fieldset>
        <fieldset>
          <legend>Time</legend>
          <TimeRange
            start={state.start}
            end={state.end}
            onChange={(start, end) => set({ start, end })}
            refresh={state.refresh}
            refreshes={refreshes}
            onRefresh={(refresh) => set({ refresh })}
          />
        </fieldset>
        <fieldset>
          <legend>Dimensions</legend>
          <Dimensions value={state.dimensions} onChange={(dimensions) => set({ dimensions })} />
          <div class="row">
            <label>
              Top
              <input
                type="number"
                name="limit"
                min={1}
                max={50}
                value={state.limit}
                onChange={(e) => {
                  const n = parseInt((e.target as HTMLInputElement).value, 10);
                  if (n >= 1 && n <= 50) set({ limit: n });
                }}
              />
            </label>
            {!sankey && (
              <label>
                by
                <select name="top-by" value={state.topBy} onChange={(e) => set({ topBy: (e.target as HTMLSelectElement).value })}>
                  {topBys.map((t) => (
                    <option value={t}>{t}</option>
                  ))}
                </select>
              </label>
            )}
          </div>
        </fieldset>
        <fieldset>
          <legend>Units</legend>
          <select name="unit" value={state.unit} onChange={(e) => set({ unit: (e.target as HTMLSelectElement).value })}>
            {units.map((u) => (
              <option value={u}>{unitLabels[u]}</option>
            ))}
          </select>
          <label class="check">
            <input type="checkbox" name="bidirectional" checked={state.bidirectional} onChange={(e) => set({ bidirectional: (e.target as HTMLInputElement).checked })} />
            Bidirectional
          </label>
          {!sankey && (
            <label>
              Previous period
              <select name="previous" value={state.previous} onChange={(e) => set({ previous: (e.target as HTMLSelectElement).value })}>
                {previousPeriods.map((p) => (
                  <option value={p}>{p === '4weeks' ? '4 weeks' : p}</option>
                ))}
              </select>
            </label>
          )}
        </fieldset>
      </aside>
      <section class="graph">
        <FilterEditor value={state.filter} onApply={(filter) => set({ filter })} />
        <div class="graph-head">
          <h2>
            {state.dimensions.length ? state.dimensions.join(' × ') : 'Total'} <span class="muted">— {rangeLabel(state.start, state.end)}</span>
          </h2>
          <span class="muted small" data-table={ts?.table ?? ''}>
            {data.loading ? 'Loading…' : ts ? `${unitLabels[ts.unit]}, step ${ts.step} s, table ${ts.table}` : ''}
          </span>
        </div>
        {needTwo && <Empty title="Sankey needs two dimensions">Add a second dimension to see how traffic flows between them.</Empty>}
        {data.error && <ErrorBox error={data.error} />}
        {empty && (
          <Empty title="No traffic matches">
            Nothing in {rangeLabel(state.start, state.end).toLowerCase()} with this filter. Widen the time range, or check the filter.
          </Empty>
        )}
        {!needTwo && !data.error && !empty && <Chart name="visualize" option={option} height={sankey ? 480 : 380} onClick={(n) => !sankey && toggle(n)} />}
        {ts && ts.series.length > 0 && <SeriesTable ts={ts} hidden={hidden} onToggle={toggle} />}
        {sk && sk.links.length > 0 && <SankeyTable sk={sk} unit={state.unit} />}
      </section>
    </div>
  );
}

function SeriesTable({ ts, hidden, onToggle }: { ts: TimeSeries; hidden: Set<string>; onToggle: (name: string) => void }) {
  const back = reverseColors(ts);
  const row = (s: Series, color: string, suffix = '') => {
    const name = seriesName(s.labels) + suffix;
    return (
      <tr class={hidden.has(name) ? 'off' : ''} data-series={name}>
        <td>
          <button type="button" class="swatch" style={{ background: color }} aria-pressed={!hidden.has(name)} aria-label={`Show or hide ${name}`} onClick={() => onToggle(name)} />
        </td>
        {ts.dimensions.length === 0 ? <td>{suffix ? 'Total (reverse)' : 'Total'}</td> : s.labels.map((l, j) => <td>{j === 0 ? label(l) + suffix : label(l)}</td>)}
        <td class="num">{rate(s.stats.Min, ts.unit)}</td>
        <td class="num">{rate(s.stats.Avg, ts.unit)}</td>
        <td class="num">{rate(s.stats.Max, ts.unit)}</td>
        <td class="num">{rate(s.stats.P95, ts.unit)}</td>
        <td class="num">{rate(s.stats.Last, ts.unit)}</td>
        <td class="num">{total(s.stats.Total, ts.unit)}</td>
      </tr>
    );
  };
  return (
    <table class="data series-table" data-series-table>
      <thead>
        <tr>
          <th />
          {ts.dimensions.length === 0 ? <th>Series</th> : ts.dimensions.map((d) => <th>{d}</th>)}
          <th class="num">Min</th>
          <th class="num">Avg</th>
          <th class="num">Max</th>
          <th class="num">95th</th>
          <th class="num">Last</th>
          <th class="num">Total</th>
        </tr>
      </thead>
      <tbody>
        {ts.series.map((s, i) => row(s, seriesColor(s, i)))}
        {ts.reverse?.map((s, i) => row(s, back[i], ' (reverse)'))}
      </tbody>
    </table>
  );
}

function SankeyTable({ sk, unit }: { sk: Sankey; unit: string }) {
  return (
    <table class="data" data-sankey-table>
      <thead>
        <tr>
          <th>From</th>
          <th>To</th>
          <th class="num">Average</th>
        </tr>
      </thead>
      <tbody>
        {sk.links.map((l) => (
          <tr>
            <td>{label(sk.nodes[l.source].label)}</td>
            <td>{label(sk.nodes[l.target].label)}</td>
            <td class="num">{rate(l.value, unit)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
