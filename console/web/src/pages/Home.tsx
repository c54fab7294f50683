import { useMemo } from 'preact/hooks';
import { epoch, get, type Status, type TimeSeries } from '../api';
import { Chart } from '../components/Chart';
import { Card, ErrorBox } from '../components/common';
import { NoFlows } from '../components/NoFlows';
import { TopList, type TopWidget } from '../components/TopList';
import { Detections } from '../components/Detections';
import { timeSeriesOption } from '../charts/options';
import { ago, si, UNATTRIBUTED } from '../format';
import { useAsync, useInterval } from '../hooks';
import { dark } from '../theme';

export const widgets: TopWidget[] = [
  { title: 'Hosts', dimension: 'HostName', quote: true },
  // Host traffic only (routers have no process): an empty name is traffic
  // the agent could not attribute.
  { title: 'Processes', dimension: 'ProcessName', quote: true, filter: "HostName != ''", empty: UNATTRIBUTED },
  { title: 'Peer AS (egress)', dimension: 'DstAS', filter: 'FlowDirection = egress' },
  { title: 'Peer country (egress)', dimension: 'DstCountry', filter: 'FlowDirection = egress', quote: true },
  { title: 'Protocols', dimension: 'Proto' },
  { title: 'Destination ports', dimension: 'DstPort' },
];

export function Home() {
  const status = useAsync((signal) => get<Status>('status', {}, signal), []);
  useInterval(() => epoch.value++, 60);
  const s = status.data;
  const fresh = s?.lastFlow && Date.now() - new Date(s.lastFlow).getTime() < 10 * 60e3;
  // The overview's queries start with the status one (no waterfall); it
  // gives way to the onboarding text when the status says there is no flow.
  return (
    <div class="home">
      {status.error && <ErrorBox error={status.error} />}
      <div class="cards">
        <Card title="Flows/s" value={s ? si(s.flowsPerSecond) : undefined} hint="received, last 5 minutes" />
        <Card title="Exporters" value={s?.exporters} hint="last 24 h" />
        <Card title="Hosts" value={s?.hosts} hint={<a href="/hosts">with a hostflow agent</a>} />
        <Card title="Last flow" value={s ? (s.lastFlow ? ago(s.lastFlow) : 'never') : undefined} tone={s ? (s.lastFlow ? (fresh ? 'ok' : 'warn') : 'crit') : undefined} />
      </div>
      {s && !s.lastFlow ? <NoFlows /> : <Overview />}
    </div>
  );
}

function Overview() {
  const ts = useAsync((signal) => get<TimeSeries>('timeseries', { dimensions: 'HostName', limit: 6, start: 'now-24h', points: 144 }, signal), []);
  const option = useMemo(() => (ts.data ? timeSeriesOption(ts.data, { graph: 'stacked', dark: dark.value }) : null), [ts.data, dark.value]);
  return (
    <>
      <section class="panel">
        <h3>
          Traffic by host, last 24 hours <a class="more" href="/visualize?dimensions=HostName">explore →</a>
        </h3>
        {ts.error && <ErrorBox error={ts.error} />}
        <Chart name="home-traffic" option={option} height={260} />
      </section>
      {/* The store answers a few queries at a time: the 24 h chart first,
          then the widgets. */}
      {(ts.data || ts.error) && (
        <>
          <Detections />
          <div class="tops">
            {widgets.map((w) => (
              <TopList w={w} start="now-24h" />
            ))}
          </div>
        </>
      )}
    </>
  );
}
