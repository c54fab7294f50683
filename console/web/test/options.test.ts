import { describe, expect, test } from 'vitest';
import type { Sankey, TimeSeries } from '../src/api';
import { otherColor, palette, percentOf, reverseColors, sankeyOption, sparkline, timeSeriesOption } from '../src/charts/options';

const stats = { Min: 0, Max: 30, Avg: 10, P95: 20, Last: 5, Total: 100 };
const ts: TimeSeries = {
  start: '2026-11-20T00:00:00Z',
  end: '2026-11-20T00:03:00Z',
  step: 60,
  table: 'flows_1m',
  unit: 'l3bps',
  dimensions: ['HostName'],
  times: ['2026-11-20T00:00:00Z', '2026-11-20T00:01:00Z', '2026-11-20T00:02:00Z'],
  series: [
    { labels: ['web-1'], values: [10, 20, 30], stats },
    { labels: ['Other'], other: true, values: [30, 0, 10], stats },
  ],
  reverse: [{ labels: ['web-1'], values: [1, 2, 3], stats }],
  previous: { labels: [], values: [5, 5, 5], stats },
};

type S = { name: string; stack?: string; data: [number, number][]; color: string };
const series = (o: Record<string, unknown>) => o.series as S[];

describe('time series options', () => {
  test('stacked: one series per line, reverse negative, previous overlay', () => {
    const s = series(timeSeriesOption(ts, { graph: 'stacked' }));
    expect(s.map((x) => x.name)).toEqual(['web-1', 'Other', 'web-1 (reverse)', 'Previous period']);
    expect(s[0].stack).toBe('direct');
    expect(s[1].color).toBe(otherColor);
    expect(s[2].data.map((d) => d[1])).toEqual([-1, -2, -3]);
    expect(s[3].stack).toBeUndefined();
    expect(s[0].data[1]).toEqual([Date.parse('2026-11-20T00:01:00Z'), 20]);
  });
  test('reverse series keep the colour of the same value', () => {
    const r = { ...ts, reverse: [{ labels: ['Other'], other: true, values: [1, 1, 1], stats }, { labels: ['db-1'], values: [1, 1, 1], stats }] };
    const s = series(timeSeriesOption(r, { graph: 'lines' }));
    expect(s[2].color).toBe(otherColor);
    expect(s[3].color).toBe(palette[2]);
    expect(reverseColors(r)).toEqual([otherColor, palette[2]]);
  });
  test('lines are not stacked', () => {
    expect(series(timeSeriesOption(ts, { graph: 'lines' }))[0].stack).toBeUndefined();
  });
  test('100 %: shares of each bucket, no overlays', () => {
    expect(percentOf(ts.series)).toEqual([
      [25, 100, 75],
      [75, 0, 25],
    ]);
    expect(percentOf([{ labels: [], values: [0], stats }])).toEqual([[0]]);
    expect(series(timeSeriesOption(ts, { graph: 'percent' })).map((x) => x.name)).toEqual(['web-1', 'Other']);
  });
  test('grid: one grid per shown series', () => {
    const o = timeSeriesOption(ts, { graph: 'grid', hidden: new Set(['Other']) });
    expect((o.grid as unknown[]).length).toBe(1);
    expect(series(o).map((x) => x.name)).toEqual(['web-1']);
  });
  test('hidden series are deselected in the legend', () => {
    const o = timeSeriesOption(ts, { graph: 'stacked', hidden: new Set(['Other']) });
    expect((o.legend as { selected: Record<string, boolean> }).selected).toMatchObject({ 'web-1': true, Other: false });
  });
});

test('sankey: nodes named by dimension, links by node names, reverse on the right', () => {
  const sk: Sankey = {
    dimensions: ['HostName', 'ProcessName'],
    nodes: [
      { dimension: 0, label: 'web-1' },
      { dimension: 1, label: 'nginx' },
      { dimension: 1, label: '' },
    ],
    links: [
      { source: 0, target: 1, value: 10 },
      { source: 0, target: 2, value: 5 },
    ],
  };
  const o = sankeyOption({ ...sk, reverse: sk }, { unit: 'l3bps' });
  const [direct, reverse] = o.series as { data: { name: string }[]; links: { source: string; target: string }[] }[];
  expect(direct.data.map((d) => d.name)).toEqual(['0:web-1', '1:nginx', '1:(none)']);
  expect(direct.links[1]).toMatchObject({ source: '0:web-1', target: '1:(none)' });
  expect(reverse.data[0].name).toBe('0r:web-1');
});

test('sparkline scales into the box', () => {
  expect(sparkline([0, 10], 100, 20)).toBe('M0.0,20.0L100.0,1.0');
  expect(sparkline([], 100, 20)).toBe('');
  expect(sparkline([0, 0], 10, 10)).toBe('M0.0,10.0L10.0,10.0');
});

test('sparkline: a null breaks the line, a fixed maximum caps it', () => {
  expect(sparkline([50, null, 100, 100], 30, 11, 100)).toBe('M0.0,6.0M20.0,1.0L30.0,1.0');
  expect(sparkline([null, null], 10, 10)).toBe('');
  expect(sparkline([200], 10, 11, 100)).toBe('M0.0,1.0');
});

test('time series: empty values take the label given', () => {
  const s = series(timeSeriesOption({ ...ts, series: [{ labels: [''], values: [1, 2, 3], stats }], reverse: undefined, previous: undefined }, { graph: 'stacked', empty: '(unattributed)' }));
  expect(s.map((x) => x.name)).toEqual(['(unattributed)']);
});
