// One host: health, interfaces, traffic by process / unit / container,
// top and new peers.
import { useMemo } from 'preact/hooks';
import { APIError, get, type Host as HostT, type HostHealthSeries, type TimeSeries, type Top } from '../api';
import { Chart } from '../components/Chart';
import { Empty, ErrorBox, Loading } from '../components/common';
import { HealthPanel, InterfacesTable } from '../components/Health';
import { TimeRange } from '../components/TimeRange';
import { filterValue } from '../components/TopList';
import { timeSeriesOption } from '../charts/options';
import { label, rate, UNATTRIBUTED } from '../format';
import { useAsync } from '../hooks';
import { href, navigate, route } from '../router';
import { dark } from '../theme';

export const breakdowns = [
  { value: 'ProcessName', label: 'Process' },
  { value: 'Unit', label: 'Unit' },
  { value: 'Container', label: 'Container' },
];

export function Host({ name }: { name: string }) {
  const p = route.value.params;
  const start = p.get('start') ?? 'now-24h';
  const end = p.get('end') ?? 'now';
  const by = breakdowns.find((b) => b.value === p.get('by'))?.value ?? 'ProcessName';
  const set = (patch: Record<string, string>) => {
    const n = { start, end, by, ...patch };
    navigate(
      href(`/hosts/${encodeURIComponent(name)}`, {
        start: n.start === 'now-24h' ? undefined : n.start,
        end: n.end === 'now' ? undefined : n.end,
        by: n.by === 'ProcessName' ? undefined : n.by,
      }),
    );
  };
  const hostFilter = `HostName = ${filterValue(name, true)}`;
  const host = useAsync((signal) => get<HostT>(`hosts/${encodeURIComponent(name)}`, { start, end, top: 10 }, signal), [name, start, end]);
  const ts = useAsync(
    (signal) => get<TimeSeries>('timeseries', { dimensions: by, filter: hostFilter, start, end, limit: 10 }, signal),
    [name, start, end, by],
  );
  const health = useAsync((signal) => get<HostHealthSeries>(`hosts/${encodeURIComponent(name)}/health`, { start, end }, signal), [name, start, end]);
  // Every flow here has the host: an empty process name is traffic the
  // agent could not attribute (an empty unit or container is just none).
  const empty = by === 'ProcessName' ? UNATTRIBUTED : undefined;
  const option = useMemo(
    () => (ts.data ? timeSeriesOption(ts.data, { graph: 'stacked', dark: dark.value, empty }) : null),
    [ts.data, dark.value, empty],
  );

  if (host.error instanceof APIError && host.error.status === 404) {
    return (
      <Empty title={`No flows from ${name}`}>
        <p>{host.error.message}.</p>
        <p>
          Try a <a href={href(`/hosts/${encodeURIComponent(name)}`, { start: 'now-7d' })}>longer range</a> or go back to{' '}
          <a href="/hosts">the hosts list</a>.
        </p>
      </Empty>
    );
  }
  const h = host.data;
  return (
    <div class="host">
      <div class="toolbar">
        <h2>
          <a href="/hosts">Hosts</a> / <span data-host-name>{name}</span>
          {h && <span class="muted small"> {h.exporterAddress}</span>}
        </h2>
        <TimeRange start={start} end={end} onChange={(s, e) => set({ start: s, end: e })} />
      </div>
      {host.error && <ErrorBox error={host.error} />}
      {!h && !host.error && <Loading what="host" />}
      {h && (
        <>
          <section class="panel">
            <h3>Health</h3>
            {h.health ? (
              <HealthPanel h={h.health} series={health} />
            ) : (
              <p class="muted">No host counters in this range (agents send them every 20 s by default).</p>
            )}
            {h.interfaces.length > 0 && <InterfacesTable ifs={h.interfaces} />}
          </section>
          <section class="panel">
            <h3>
              Traffic by{' '}
              <span class="segmented" role="radiogroup" aria-label="Break down by">
                {breakdowns.map((b) => (
                  <button type="button" role="radio" aria-checked={b.value === by} data-by={b.value} onClick={() => set({ by: b.value })}>
                    {b.label}
                  </button>
                ))}
              </span>
              <a class="more" href={href('/visualize', { dimensions: by, filter: hostFilter, start, end })}>
                explore →
              </a>
              <a class="more" href={href('/flows', { filter: hostFilter, start, end })}>
                flows →
              </a>
            </h3>
            {ts.error && <ErrorBox error={ts.error} />}
            <Chart name="host-traffic" option={option} height={280} />
            <p class="muted small">
              In {rate(h.inBps)} ({rate(h.inPps, 'pps')}), out {rate(h.outBps)} ({rate(h.outPps, 'pps')}), {h.flows} flow records.
            </p>
          </section>
          <div class="tops">
            <TopTable title="Top processes" rows={h.topProcesses} data="processes" empty={UNATTRIBUTED} />
            <TopTable title="Top peers" rows={h.topPeers} data="peers" />
            <TopTable title={`New peers (${h.newPeerCount})`} rows={h.newPeers} data="new-peers" none="No peer that was not already seen in the previous period." />
          </div>
        </>
      )}
    </div>
  );
}

/** TopTable lists a top list; `empty` labels the empty value, `none` says there is no entry. */
function TopTable({ title, rows, data, empty, none }: { title: string; rows: Top[]; data: string; empty?: string; none?: string }) {
  return (
    <section class="panel top" data-list={data}>
      <h3>{title}</h3>
      {rows.length === 0 ? (
        <p class="muted">{none ?? 'None.'}</p>
      ) : (
        <table class="data">
          <tbody>
            {rows.map((r) => (
              <tr>
                <td>{label(r.label, empty)}</td>
                <td class="num">{rate(r.bps)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
