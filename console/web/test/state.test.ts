import { describe, expect, test } from 'vitest';
import { apiParams, defaults, parse, serialize, type VisualizeState } from '../src/state';

describe('visualize state in the URL', () => {
  const cases: [string, VisualizeState][] = [
    ['defaults', defaults],
    [
      'everything set',
      {
        graph: 'sankey',
        dimensions: ['HostName', 'ProcessName', 'DstAS'],
        limit: 25,
        topBy: 'max',
        unit: 'pps',
        bidirectional: true,
        previous: 'week',
        start: '2026-11-01T00:00:00Z',
        end: '2026-11-02T00:00:00Z',
        filter: "ProcessName = 'nginx' AND DstPort IN (443, 8443) -- comment & more",
        refresh: 30,
      },
    ],
    ['no dimension', { ...defaults, dimensions: [] }],
  ];
  test.each(cases)('%s round-trips', (_, s) => {
    expect(parse(new URLSearchParams(serialize(s).toString()))).toEqual(s);
  });

  test('defaults are left out of the URL', () => {
    expect(serialize(defaults).toString()).toBe('');
    expect(serialize({ ...defaults, graph: 'lines' }).toString()).toBe('graph=lines');
  });

  test.each([
    ['graph=pie', 'graph', defaults.graph],
    ['limit=0', 'limit', defaults.limit],
    ['limit=51', 'limit', defaults.limit],
    ['limit=x', 'limit', defaults.limit],
    ['unit=furlongs', 'unit', defaults.unit],
    ['refresh=7', 'refresh', 0],
    ['previous=decade', 'previous', 'none'],
    ['bidirectional=yes', 'bidirectional', false],
  ])('invalid %s falls back to the default', (q, key, want) => {
    expect(parse(new URLSearchParams(q))[key as keyof VisualizeState]).toEqual(want);
  });

  test('API parameters: sankey takes no top-by nor previous period', () => {
    const s = { ...defaults, graph: 'sankey' as const, previous: 'day', dimensions: ['A', 'B'] };
    expect(apiParams(s)).not.toHaveProperty('top-by');
    expect(apiParams(s)).not.toHaveProperty('previous');
    expect(apiParams({ ...s, graph: 'lines' })).toMatchObject({ 'top-by': 'avg', previous: 'day', dimensions: 'A,B' });
  });
});
