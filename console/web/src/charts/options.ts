// ECharts options from API answers. Pure functions (no ECharts import) so
// they are unit-tested and the main bundle stays small.
import type { Sankey, Series, TimeSeries } from '../api';
import { label, rate, seriesName } from '../format';
import type { Graph } from '../state';

// A palette readable on light and dark backgrounds; "Other" is grey.
export const palette = [
  '#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#06b6d4', '#ec4899', '#84cc16',
  '#f97316', '#6366f1', '#14b8a6', '#eab308', '#a855f7', '#22c55e', '#0ea5e9', '#e11d48',
];
export const otherColor = '#9ca3af';

export function seriesColor(s: Series, i: number): string {
  return s.other ? otherColor : palette[i % palette.length];
}

/**
 * reverseColors gives each reverse series the colour of the direct series
 * with the same labels, so a value keeps its colour on both sides of the
 * axis; values only seen in reverse continue the palette.
 */
export function reverseColors(ts: TimeSeries): string[] {
  const byName = new Map(ts.series.map((s, i) => [seriesName(s.labels), seriesColor(s, i)]));
  let next = ts.series.length;
  return (ts.reverse ?? []).map((s) => byName.get(seriesName(s.labels)) ?? seriesColor(s, next++));
}

export type Opt = Record<string, unknown>;

export interface Theme {
  text: string;
  grid: string;
}

const light: Theme = { text: '#374151', grid: '#e5e7eb' };
const dark: Theme = { text: '#d1d5db', grid: '#374151' };

export function theme(isDark?: boolean): Theme {
  return isDark ? dark : light;
}

export function axisCommon(t: Theme) {
  return {
    axisLabel: { color: t.text },
    axisLine: { lineStyle: { color: t.grid } },
    splitLine: { lineStyle: { color: t.grid } },
  };
}

/** percentOf turns each series into its share of the bucket's total. */
export function percentOf(series: Series[]): number[][] {
  const n = series[0]?.values.length ?? 0;
  const totals = Array.from({ length: n }, (_, i) => series.reduce((a, s) => a + (s.values[i] ?? 0), 0));
  return series.map((s) => s.values.map((v, i) => (totals[i] > 0 ? (100 * v) / totals[i] : 0)));
}

export interface TimeSeriesOptions {
  graph: Exclude<Graph, 'sankey'>;
  dark?: boolean;
  /** hidden series names (toggled from the table) */
  hidden?: Set<string>;
  height?: number;
  /** label of empty dimension values (default "(none)") */
  empty?: string;
}

/** timeSeriesOption builds the option of a stacked / lines / 100 % / grid graph. */
export function timeSeriesOption(ts: TimeSeries, o: TimeSeriesOptions): Opt {
  const t = theme(o.dark);
  const times = ts.times.map((x) => new Date(x).getTime());
  const pctMode = o.graph === 'percent';
  const values = pctMode ? percentOf(ts.series) : ts.series.map((s) => s.values);
  const unit = pctMode ? 'percent' : ts.unit;
  const fmt = (v: number) => (pctMode ? `${v.toFixed(1)}%` : rate(v, ts.unit));
  const visible = (name: string) => !o.hidden?.has(name);

  if (o.graph === 'grid') return gridOption(ts, times, t, fmt, visible);

  const stacked = o.graph !== 'lines';
  const series: Opt[] = ts.series.map((s, i) => {
    const name = seriesName(s.labels, o.empty);
    return {
      name,
      type: 'line',
      stack: stacked ? 'direct' : undefined,
      areaStyle: stacked ? { opacity: 0.85 } : undefined,
      showSymbol: false,
      lineStyle: { width: stacked ? 0.5 : 1.5 },
      emphasis: { focus: 'series' },
      color: seriesColor(s, i),
      data: values[i].map((v, j) => [times[j], v]),
    };
  });
  if (ts.reverse && !pctMode) {
    const colors = reverseColors(ts);
    ts.reverse.forEach((s, i) => {
      series.push({
        name: seriesName(s.labels, o.empty) + ' (reverse)',
        type: 'line',
        stack: stacked ? 'reverse' : undefined,
        areaStyle: stacked ? { opacity: 0.5 } : undefined,
        showSymbol: false,
        lineStyle: { width: stacked ? 0.5 : 1.5, type: 'dotted' },
        color: colors[i],
        data: s.values.map((v, j) => [times[j], -v]),
      });
    });
  }
  if (ts.previous && !pctMode) {
    series.push({
      name: 'Previous period',
      type: 'line',
      showSymbol: false,
      lineStyle: { width: 1.5, type: 'dashed', color: t.text },
      color: t.text,
      z: 10,
      data: ts.previous.values.map((v, j) => [times[j], v]),
    });
  }
  const selected: Record<string, boolean> = {};
  for (const s of series) selected[s.name as string] = visible(s.name as string);
  return {
    animation: false,
    textStyle: { color: t.text },
    grid: { left: 70, right: 20, top: 20, bottom: 30 },
    tooltip: {
      trigger: 'axis',
      order: 'valueDesc',
      valueFormatter: (v: number) => fmt(Math.abs(v)),
    },
    legend: { show: false, selected },
    xAxis: { type: 'time', ...axisCommon(t), splitLine: { show: false } },
    yAxis: {
      type: 'value',
      max: pctMode ? 100 : undefined,
      ...axisCommon(t),
      axisLabel: { color: t.text, formatter: (v: number) => fmt(Math.abs(v)) },
    },
    series,
    meta: { unit },
  };
}

/** gridOption draws one small chart per series (small multiples), same scale. */
function gridOption(ts: TimeSeries, times: number[], t: Theme, fmt: (v: number) => string, visible: (n: string) => boolean): Opt {
  const shown = ts.series.filter((s) => visible(seriesName(s.labels)));
  const cols = Math.min(4, Math.max(1, Math.ceil(Math.sqrt(shown.length))));
  const rows = Math.max(1, Math.ceil(shown.length / cols));
  const max = Math.max(0, ...shown.map((s) => s.stats.Max));
  const w = 100 / cols;
  const h = 100 / rows;
  const grids: Opt[] = [];
  const xAxes: Opt[] = [];
  const yAxes: Opt[] = [];
  const titles: Opt[] = [];
  const series: Opt[] = [];
  shown.forEach((s, i) => {
    const c = i % cols;
    const r = Math.floor(i / cols);
    grids.push({ left: `${c * w + 4}%`, top: `${r * h + 5}%`, width: `${w - 6}%`, height: `${h - 11}%`, containLabel: false });
    xAxes.push({ type: 'time', gridIndex: i, axisLabel: { show: false }, axisTick: { show: false }, axisLine: { lineStyle: { color: t.grid } } });
    yAxes.push({ type: 'value', gridIndex: i, max, axisLabel: { show: false }, splitLine: { show: false } });
    titles.push({ text: seriesName(s.labels), left: `${c * w + 4}%`, top: `${r * h + 0.5}%`, textStyle: { fontSize: 12, color: t.text, fontWeight: 'normal' } });
    series.push({
      name: seriesName(s.labels),
      type: 'line',
      xAxisIndex: i,
      yAxisIndex: i,
      showSymbol: false,
      areaStyle: { opacity: 0.6 },
      lineStyle: { width: 1 },
      color: seriesColor(s, ts.series.indexOf(s)),
      data: s.values.map((v, j) => [times[j], v]),
    });
  });
  return {
    animation: false,
    textStyle: { color: t.text },
    title: titles,
    grid: grids,
    xAxis: xAxes,
    yAxis: yAxes,
    tooltip: { trigger: 'axis', valueFormatter: fmt },
    series,
  };
}

/** sankeyOption draws the flows between dimension values; reverse on the right half. */
export function sankeyOption(s: Sankey, o: { dark?: boolean; unit: string }): Opt {
  const t = theme(o.dark);
  const one = (sk: Sankey, left: string, right: string, suffix: string): Opt => ({
    type: 'sankey',
    name: suffix ? 'Reverse' : 'Direct',
    left,
    right,
    top: 10,
    bottom: 10,
    nodeGap: 8,
    emphasis: { focus: 'adjacency' },
    lineStyle: { color: 'gradient', opacity: 0.35 },
    label: { color: t.text, formatter: (p: { name: string }) => p.name.slice(p.name.indexOf(':') + 1) },
    data: sk.nodes.map((n, i) => ({
      name: `${n.dimension}${suffix}:${label(n.label)}`,
      depth: n.dimension,
      itemStyle: { color: n.label === 'Other' ? otherColor : palette[i % palette.length] },
    })),
    links: sk.links.map((l) => ({
      source: `${sk.nodes[l.source].dimension}${suffix}:${label(sk.nodes[l.source].label)}`,
      target: `${sk.nodes[l.target].dimension}${suffix}:${label(sk.nodes[l.target].label)}`,
      value: l.value,
    })),
  });
  const series = [one(s, '2%', s.reverse ? '52%' : '10%', '')];
  if (s.reverse) series.push(one(s.reverse, '52%', '10%', 'r'));
  return {
    animation: false,
    textStyle: { color: t.text },
    tooltip: { trigger: 'item', valueFormatter: (v: number) => rate(v, o.unit) },
    series,
  };
}

/**
 * sparkline is an SVG path of values scaled into a w×h box (0 to max,
 * default the largest value); a null value (no data) breaks the line.
 */
export function sparkline(values: (number | null)[], w: number, h: number, max?: number): string {
  if (values.length === 0) return '';
  const m = max ?? Math.max(0, ...values.map((v) => v ?? 0));
  const dx = values.length > 1 ? w / (values.length - 1) : 0;
  let out = '';
  let gap = true;
  values.forEach((v, i) => {
    if (v === null) {
      gap = true;
      return;
    }
    out += `${gap ? 'M' : 'L'}${(i * dx).toFixed(1)},${(h - (m > 0 ? (Math.min(v, m) / m) * (h - 1) : 0)).toFixed(1)}`;
    gap = false;
  });
  return out;
}
