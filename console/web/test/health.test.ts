import { describe, expect, test } from 'vitest';
import type { HostHealthSeries } from '../src/api';
import { healthCharts } from '../src/charts/health';

const base: HostHealthSeries = {
  host: 'web-1',
  start: '2026-11-20T00:00:00Z',
  end: '2026-11-20T00:03:00Z',
  step: 60,
  times: ['2026-11-20T00:00:00Z', '2026-11-20T00:01:00Z', '2026-11-20T00:02:00Z'],
  samples: 5,
  cpuBusyPct: [null, 25, 30],
  load1: [1, 1.5, 2],
  cpus: [4, 4, 4],
  memUsed: [1, 2, 3],
  memUsedPct: [50, 51, 52],
  diskMaxUsedPct: [42, 42, 42],
  tcpRetransPerSec: [null, 3, 4],
  tcpRetransPct: [null, 0.5, 0.6],
  netErrorsPerSec: [null, 0, 0],
  netDropsPerSec: [null, 0, 1],
  interfaces: [
    { name: 'eth0', kind: 'physical', speed: 1e9, inBps: [null, 1e6, 2e6], outBps: [null, 3e6, 4e6], inPct: [null, 0.1, 0.2], outPct: [null, 0.3, 0.4] },
    { name: 'tun0', kind: 'tun', speed: 0, inBps: [null, 5, 6], outBps: [null, 7, 8], inPct: [null, null, null], outPct: [null, null, null] },
  ],
};

type S = { name: string; yAxisIndex: number; data: [number, number | null][]; color: string; lineStyle: { type: string } };
const names = (o: Record<string, unknown>) => (o.series as S[]).map((s) => s.name);

describe('health charts', () => {
  test('one chart per concern, named series', () => {
    const charts = healthCharts(base);
    expect(charts.map((c) => c.name)).toEqual(['health-usage', 'health-load', 'health-tcp', 'health-errors', 'health-interfaces', 'health-utilisation']);
    const by = Object.fromEntries(charts.map((c) => [c.name, c.option]));
    expect(names(by['health-usage'])).toEqual(['CPU busy', 'Memory used', 'Fullest disk']);
    expect(names(by['health-load'])).toEqual(['Load (1 min)', 'CPUs']);
    expect(names(by['health-tcp'])).toEqual(['% of segments sent', 'Retransmits/s']);
    expect(names(by['health-errors'])).toEqual(['Errors/s', 'Drops/s']);
    expect(names(by['health-interfaces'])).toEqual(['eth0 in', 'eth0 out', 'tun0 in', 'tun0 out']);
    // Only interfaces of known speed have a utilisation.
    expect(names(by['health-utilisation'])).toEqual(['eth0 in', 'eth0 out']);
  });
  test('gaps stay null, times are the buckets', () => {
    const usage = healthCharts(base)[0].option.series as S[];
    expect(usage[0].data).toEqual([
      [Date.parse('2026-11-20T00:00:00Z'), null],
      [Date.parse('2026-11-20T00:01:00Z'), 25],
      [Date.parse('2026-11-20T00:02:00Z'), 30],
    ]);
    expect((healthCharts(base)[0].option.yAxis as { max?: number }[])[0].max).toBe(100);
  });
  test('two axes for retransmits: % on the left, per second on the right', () => {
    const tcp = healthCharts(base)[2].option;
    expect((tcp.series as S[]).map((s) => s.yAxisIndex)).toEqual([0, 1]);
    expect((tcp.yAxis as unknown[]).length).toBe(2);
  });
  test('in and out of an interface share its colour, out dashed', () => {
    const [inS, outS] = healthCharts(base)[4].option.series as S[];
    expect(inS.color).toBe(outS.color);
    expect([inS.lineStyle.type, outS.lineStyle.type]).toEqual(['solid', 'dashed']);
  });
  test('no interface counters: no interface charts', () => {
    expect(healthCharts({ ...base, interfaces: [] }).map((c) => c.name)).toEqual(['health-usage', 'health-load', 'health-tcp', 'health-errors']);
    expect(healthCharts({ ...base, interfaces: [base.interfaces[1]] }).map((c) => c.name)).toContain('health-interfaces');
    expect(healthCharts({ ...base, interfaces: [base.interfaces[1]] }).map((c) => c.name)).not.toContain('health-utilisation');
  });
});
