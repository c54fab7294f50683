// Hosts: every host with a hostflow agent, traffic sparkline and health.
import { useMemo } from 'preact/hooks';
import { get, type Host, type TimeSeries } from '../api';
import { Empty, ErrorBox, Loading, Meter } from '../components/common';
import { hostTone, maxUtilisation, memUsedPct } from '../components/Health';
import { TimeRange } from '../components/TimeRange';
import { sparkline } from '../charts/options';
import { ago, label, pct, rate, UNATTRIBUTED } from '../format';
import { useAsync } from '../hooks';
import { href, navigate, route } from '../router';

export function Hosts() {
  const p = route.value.params;
  const start = p.get('start') ?? 'now-24h';
  const end = p.get('end') ?? 'now';
  const q = p.get('q') ?? '';
  const set = (patch: Record<string, string>, replace = false) => {
    const next = { start, end, q, ...patch };
    navigate(href('/hosts', { start: next.start === 'now-24h' ? undefined : next.start, end: next.end === 'now' ? undefined : next.end, q: next.q }), replace);
  };
  // cpu-points: each host's CPU busy % as a sparkline, in the same query.
  const hosts = useAsync((signal) => get<{ hosts: Host[] }>('hosts', { start, end, top: 3, limit: 500, 'cpu-points': 48 }, signal), [start, end]);
  const spark = useAsync(
    (signal) => get<TimeSeries>('timeseries', { dimensions: 'HostName', limit: 50, start, end, points: 48, filter: "HostName != ''" }, signal),
    [start, end],
  );
  const lines = useMemo(() => {
    const m = new Map<string, number[]>();
    for (const s of spark.data?.series ?? []) m.set(s.labels[0], s.values);
    return m;
  }, [spark.data]);

  const shown = (hosts.data?.hosts ?? []).filter((h) => h.host.toLowerCase().includes(q.toLowerCase()));
  return (
    <div class="hosts">
      <div class="toolbar">
        <input
          type="search"
          name="q"
          placeholder="Search hosts"
          aria-label="Search hosts"
          value={q}
          onInput={(e) => set({ q: (e.target as HTMLInputElement).value }, true)}
        />
        <TimeRange start={start} end={end} onChange={(s, e) => set({ start: s, end: e })} />
      </div>
      {hosts.error && <ErrorBox error={hosts.error} />}
      {!hosts.data && !hosts.error && <Loading what="hosts" />}
      {hosts.data && hosts.data.hosts.length === 0 && (
        <Empty title="No host has reported">
          <p>
            Hosts appear here when a <strong>hostflow agent</strong> sends flows with process attribution. Run{' '}
            <code>hostflow agent</code> on a host with <code>collectors: ["{location.hostname}:6343"]</code> (see{' '}
            <a href="/help/agent">the agent documentation</a>). Routers and other sFlow/NetFlow exporters show on the{' '}
            <a href="/visualize?dimensions=ExporterName">Visualize</a> page instead.
          </p>
        </Empty>
      )}
      {shown.length > 0 && (
        <table class="data hosts-table" data-hosts-table>
          <thead>
            <tr>
              <th />
              <th>Host</th>
              <th class="num">In</th>
              <th class="num">Out</th>
              <th>Traffic</th>
              <th>CPU</th>
              <th>Memory</th>
              <th>Disk</th>
              <th>Interfaces</th>
              <th class="num">Retrans</th>
              <th>Top process</th>
              <th>Reported</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((h) => {
              const t = hostTone(h.health, h.interfaces);
              const values = lines.get(h.host) ?? [];
              return (
                <tr data-host={h.host}>
                  <td>
                    <span class={`dot ${t}`} title={`health: ${t}`} />
                  </td>
                  <td>
                    <a href={`/hosts/${encodeURIComponent(h.host)}`}>{h.host}</a>
                    <div class="muted small">{h.exporterAddress}</div>
                  </td>
                  <td class="num">{rate(h.inBps)}</td>
                  <td class="num">{rate(h.outBps)}</td>
                  <td aria-busy={spark.data || spark.error ? undefined : 'true'}>
                    <svg class="spark" width="120" height="28" viewBox="0 0 120 28" role="img" aria-label={`traffic of ${h.host}`}>
                      <path d={sparkline(values, 120, 28)} />
                    </svg>
                  </td>
                  <td>
                    <div class="cpu">
                      {h.health ? <Meter value={h.health.cpuBusyPct} label /> : '–'}
                      {h.cpuSeries && (
                        <svg class="spark cpu" width="70" height="18" viewBox="0 0 70 18" role="img" aria-label={`CPU busy of ${h.host}, 0-100 %`}>
                          <path d={sparkline(h.cpuSeries, 70, 18, 100)} />
                        </svg>
                      )}
                    </div>
                  </td>
                  <td>{h.health ? <Meter value={memUsedPct(h.health)} warn={80} crit={95} label /> : '–'}</td>
                  <td>{h.health ? <Meter value={h.health.diskMaxUsedPct} warn={80} crit={90} label /> : '–'}</td>
                  <td>{h.interfaces.length ? <Meter value={maxUtilisation(h.interfaces)} label /> : '–'}</td>
                  <td class="num">{h.health ? pct(h.health.tcpRetransPct) : '–'}</td>
                  <td>{h.topProcesses.length ? label(h.topProcesses[0].label, UNATTRIBUTED) : '–'}</td>
                  <td class="muted">{h.health ? ago(h.health.time) : '–'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {hosts.data && hosts.data.hosts.length > 0 && shown.length === 0 && <p class="muted">No host matches “{q}”.</p>}
    </div>
  );
}
