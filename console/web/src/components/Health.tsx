// A host's health: the latest counter values as cards with thresholds,
// then the counters over the range as small charts.
import { useMemo } from 'preact/hooks';
import type { Health, HostHealthSeries, Interface } from '../api';
import { healthCharts } from '../charts/health';
import { bytesIEC, duration, label, pct, rate } from '../format';
import type { Async } from '../hooks';
import { dark } from '../theme';
import { Chart } from './Chart';
import { Card, ErrorBox, Loading, Meter } from './common';

type Tone = 'ok' | 'warn' | 'crit';

export function tone(v: number, warn: number, crit: number): Tone {
  return v >= crit ? 'crit' : v >= warn ? 'warn' : 'ok';
}

export function memUsedPct(h: Health): number {
  return h.memTotal > 0 ? (100 * (h.memTotal - h.memAvailable)) / h.memTotal : 0;
}

export function maxUtilisation(ifs: Interface[]): number {
  return Math.max(0, ...ifs.map((i) => Math.max(i.inPct, i.outPct)));
}

/** hostTone is a host's overall state: the worst of its indicators. */
export function hostTone(h: Health | undefined, ifs: Interface[]): Tone | 'unknown' {
  if (!h) return 'unknown';
  const tones = [
    tone(h.cpuBusyPct, 70, 90),
    tone(memUsedPct(h), 80, 95),
    tone(h.diskMaxUsedPct, 80, 90),
    tone(maxUtilisation(ifs), 70, 90),
    tone(h.tcpRetransPct, 1, 5),
  ];
  return tones.includes('crit') ? 'crit' : tones.includes('warn') ? 'warn' : 'ok';
}

export function HealthPanel({ h, series }: { h: Health; series: Async<HostHealthSeries> }) {
  const mem = memUsedPct(h);
  return (
    <>
      <HealthCards h={h} mem={mem} />
      {series.error && <ErrorBox error={series.error} />}
      {!series.data && !series.error && <Loading what="health charts" />}
      {series.data && <HealthCharts series={series.data} />}
    </>
  );
}

function HealthCharts({ series }: { series: HostHealthSeries }) {
  const charts = useMemo(() => healthCharts(series, { dark: dark.value }), [series, dark.value]);
  return (
    <div class="health-charts" data-health-charts>
      {charts.map((c) => (
        <div class="health-chart">
          <h4>{c.title}</h4>
          <Chart name={c.name} option={c.option} height={190} />
        </div>
      ))}
    </div>
  );
}

function HealthCards({ h, mem }: { h: Health; mem: number }) {
  return (
    <div class="cards" data-health>
      <Card title="CPU busy" value={pct(h.cpuBusyPct)} hint={<Meter value={h.cpuBusyPct} />} tone={tone(h.cpuBusyPct, 70, 90)} />
      <Card title="Load (1 min)" value={h.load1.toFixed(2)} hint={`${h.cpus} CPUs`} tone={tone(h.load1 / Math.max(1, h.cpus), 1, 2)} />
      <Card title="Memory used" value={pct(mem)} hint={`${bytesIEC(h.memTotal - h.memAvailable)} of ${bytesIEC(h.memTotal)}`} tone={tone(mem, 80, 95)} />
      <Card title="Fullest disk" value={pct(h.diskMaxUsedPct)} hint={<Meter value={h.diskMaxUsedPct} warn={80} crit={90} />} tone={tone(h.diskMaxUsedPct, 80, 90)} />
      <Card title="TCP retransmits" value={pct(h.tcpRetransPct)} hint={`${h.tcpRetrans} segments`} tone={tone(h.tcpRetransPct, 1, 5)} />
      <Card title="Net errors / drops" value={`${h.netErrors} / ${h.netDrops}`} hint={`UDP buffer errors ${h.udpBufErrors}`} tone={h.netErrors + h.netDrops + h.udpBufErrors > 0 ? 'warn' : 'ok'} />
      <Card title="Uptime" value={duration(h.uptimeSeconds)} hint={`reported ${new Date(h.time).toLocaleString()}`} />
    </div>
  );
}

export function InterfacesTable({ ifs }: { ifs: Interface[] }) {
  return (
    <table class="data" data-interfaces>
      <thead>
        <tr>
          <th>Interface</th>
          <th>Kind</th>
          <th class="num">Speed</th>
          <th class="num">In</th>
          <th class="num">Out</th>
          <th>Utilisation</th>
          <th class="num">Errors in/out</th>
          <th class="num">Discards in/out</th>
        </tr>
      </thead>
      <tbody>
        {ifs.map((i) => {
          const u = Math.max(i.inPct, i.outPct);
          return (
            <tr>
              <td>{label(i.name)}</td>
              <td>{label(i.kind)}</td>
              <td class="num">{i.speed ? rate(i.speed) : '?'}</td>
              <td class="num">{rate(i.inBps)}</td>
              <td class="num">{rate(i.outBps)}</td>
              <td>{i.speed ? <Meter value={u} label /> : <span class="muted">speed unknown</span>}</td>
              <td class="num">
                {i.inErrors} / {i.outErrors}
              </td>
              <td class="num">
                {i.inDiscards} / {i.outDiscards}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
