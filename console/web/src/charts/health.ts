// ECharts options of a host's health charts (GET /api/v1/hosts/{host}/health).
// Pure functions, unit-tested. Missing values (null: no sample in the
// bucket) stay gaps in the lines.
import type { Gaps, HostHealthSeries } from '../api';
import { pctFine, rate, si } from '../format';
import { axisCommon, type Opt, palette, theme } from './options';

/** HealthChart is one small chart of the host page. */
export interface HealthChart {
  /** data-chart name, for tests and styling */
  name: string;
  title: string;
  option: Opt;
}

interface Line {
  name: string;
  values: Gaps;
  color: string;
  dashed?: boolean;
  /** index in the chart's axes (default 0) */
  axis?: number;
}

type Format = (v: number) => string;

const num = (f: Format) => (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? f(v) : '–');
const percent: Format = pctFine;
const perSecond: Format = (v) => `${si(v)}/s`;
const bps: Format = (v) => rate(v);
const plain: Format = (v) => si(v);

function chart(h: HostHealthSeries, dark: boolean | undefined, lines: Line[], axes: { format: Format; max?: number }[]): Opt {
  const t = theme(dark);
  const times = h.times.map((x) => new Date(x).getTime());
  return {
    animation: false,
    textStyle: { color: t.text },
    grid: { left: 56, right: axes.length > 1 ? 56 : 16, top: 28, bottom: 24 },
    legend: { top: 0, left: 0, itemHeight: 8, textStyle: { color: t.text, fontSize: 11 } },
    tooltip: { trigger: 'axis' },
    xAxis: { type: 'time', ...axisCommon(t), splitLine: { show: false } },
    yAxis: axes.map((a, i) => ({
      type: 'value',
      min: 0,
      max: a.max,
      ...axisCommon(t),
      axisLabel: { color: t.text, formatter: a.format },
      splitLine: { show: i === 0, lineStyle: { color: t.grid } },
    })),
    series: lines.map((l) => ({
      name: l.name,
      type: 'line',
      showSymbol: false,
      connectNulls: false,
      yAxisIndex: l.axis ?? 0,
      lineStyle: { width: 1.5, type: l.dashed ? 'dashed' : 'solid' },
      color: l.color,
      tooltip: { valueFormatter: num(axes[l.axis ?? 0].format) },
      data: l.values.map((v, i) => [times[i], v]),
    })),
  };
}

/**
 * healthCharts lays a host's counters out as small charts: CPU, memory and
 * disk use; load against the CPU count; TCP retransmits; network errors
 * and drops; then, when the host has interface counters, each interface's
 * in/out rate and, for those of known speed, their utilisation.
 */
export function healthCharts(h: HostHealthSeries, o: { dark?: boolean } = {}): HealthChart[] {
  const grey = '#9ca3af';
  const out: HealthChart[] = [
    {
      name: 'health-usage',
      title: 'CPU, memory and disk',
      option: chart(
        h,
        o.dark,
        [
          { name: 'CPU busy', values: h.cpuBusyPct, color: palette[0] },
          { name: 'Memory used', values: h.memUsedPct, color: palette[2] },
          { name: 'Fullest disk', values: h.diskMaxUsedPct, color: palette[1] },
        ],
        [{ format: percent, max: 100 }],
      ),
    },
    {
      name: 'health-load',
      title: 'Load',
      option: chart(
        h,
        o.dark,
        [
          { name: 'Load (1 min)', values: h.load1, color: palette[4] },
          { name: 'CPUs', values: h.cpus, color: grey, dashed: true },
        ],
        [{ format: plain }],
      ),
    },
    {
      name: 'health-tcp',
      title: 'TCP retransmits',
      option: chart(
        h,
        o.dark,
        [
          { name: '% of segments sent', values: h.tcpRetransPct, color: palette[3] },
          { name: 'Retransmits/s', values: h.tcpRetransPerSec, color: palette[5], dashed: true, axis: 1 },
        ],
        [{ format: percent }, { format: perSecond }],
      ),
    },
    {
      name: 'health-errors',
      title: 'Network errors and drops',
      option: chart(
        h,
        o.dark,
        [
          { name: 'Errors/s', values: h.netErrorsPerSec, color: palette[3] },
          { name: 'Drops/s', values: h.netDropsPerSec, color: palette[1] },
        ],
        [{ format: perSecond }],
      ),
    },
  ];
  if (h.interfaces.length === 0) return out;
  const both = (key: 'Bps' | 'Pct', ifs = h.interfaces): Line[] =>
    ifs.flatMap((itf) => {
      const color = palette[h.interfaces.indexOf(itf) % palette.length];
      return [
        { name: `${itf.name} in`, values: itf[`in${key}`], color },
        { name: `${itf.name} out`, values: itf[`out${key}`], color, dashed: true },
      ];
    });
  out.push({ name: 'health-interfaces', title: 'Interfaces', option: chart(h, o.dark, both('Bps'), [{ format: bps }]) });
  const known = h.interfaces.filter((i) => i.speed > 0);
  if (known.length > 0) {
    out.push({ name: 'health-utilisation', title: 'Interface utilisation (of speed)', option: chart(h, o.dark, both('Pct', known), [{ format: percent }]) });
  }
  return out;
}
