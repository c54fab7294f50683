// The Visualize page's state and its URL form. Every field is a query
// parameter named like the API's, defaults are left out so URLs stay
// short, and parse(serialize(s)) === s for every valid state.

export type Graph = 'stacked' | 'lines' | 'percent' | 'grid' | 'sankey';
export const graphs: { value: Graph; label: string }[] = [
  { value: 'stacked', label: 'Stacked' },
  { value: 'lines', label: 'Lines' },
  { value: 'percent', label: '100 %' },
  { value: 'grid', label: 'Grid' },
  { value: 'sankey', label: 'Sankey' },
];
export const units = ['l3bps', 'l2bps', 'pps', 'fps', 'in-speed-pct', 'out-speed-pct'];
export const topBys = ['avg', 'max', 'last', 'sum'];
export const previousPeriods = ['none', 'hour', 'day', 'week', '4weeks', 'year'];
export const refreshes = [0, 5, 10, 30, 60, 300];

export interface VisualizeState {
  graph: Graph;
  dimensions: string[];
  limit: number;
  topBy: string;
  unit: string;
  bidirectional: boolean;
  previous: string;
  start: string;
  end: string;
  filter: string;
  refresh: number; // seconds, 0 = off
}

export const defaults: VisualizeState = {
  graph: 'stacked',
  dimensions: ['ProcessName'],
  limit: 10,
  topBy: 'avg',
  unit: 'l3bps',
  bidirectional: false,
  previous: 'none',
  start: 'now-24h',
  end: 'now',
  filter: '',
  refresh: 0,
};

function oneOf<T>(v: string | null, allowed: readonly T[], def: T): T {
  return v !== null && (allowed as readonly unknown[]).includes(v) ? (v as T) : def;
}

function int(v: string | null, lo: number, hi: number, def: number): number {
  if (v === null || !/^\d+$/.test(v)) return def;
  const n = parseInt(v, 10);
  return n >= lo && n <= hi ? n : def;
}

/** parse reads a state from URL parameters; invalid values fall back to defaults. */
export function parse(p: URLSearchParams): VisualizeState {
  const dims = p.get('dimensions');
  return {
    graph: oneOf(p.get('graph'), graphs.map((g) => g.value), defaults.graph),
    dimensions:
      dims === null
        ? defaults.dimensions
        : dims
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
    limit: int(p.get('limit'), 1, 50, defaults.limit),
    topBy: oneOf(p.get('top-by'), topBys, defaults.topBy),
    unit: oneOf(p.get('unit'), units, defaults.unit),
    bidirectional: p.get('bidirectional') === 'true',
    previous: oneOf(p.get('previous'), previousPeriods, defaults.previous),
    start: p.get('start') ?? defaults.start,
    end: p.get('end') ?? defaults.end,
    filter: p.get('filter') ?? defaults.filter,
    refresh: ((n) => (refreshes.includes(n) ? n : 0))(int(p.get('refresh'), 0, 3600, 0)),
  };
}

/** serialize writes a state as URL parameters, omitting defaults. */
export function serialize(s: VisualizeState): URLSearchParams {
  const p = new URLSearchParams();
  const put = (k: string, v: string, def: string) => {
    if (v !== def) p.set(k, v);
  };
  put('graph', s.graph, defaults.graph);
  put('dimensions', s.dimensions.join(','), defaults.dimensions.join(','));
  put('limit', String(s.limit), String(defaults.limit));
  put('top-by', s.topBy, defaults.topBy);
  put('unit', s.unit, defaults.unit);
  put('bidirectional', String(s.bidirectional), String(defaults.bidirectional));
  put('previous', s.previous, defaults.previous);
  put('start', s.start, defaults.start);
  put('end', s.end, defaults.end);
  put('filter', s.filter, defaults.filter);
  put('refresh', String(s.refresh), String(defaults.refresh));
  return p;
}

/** apiParams are the /timeseries (or /sankey) parameters of a state. */
export function apiParams(s: VisualizeState): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {
    dimensions: s.dimensions.join(','),
    limit: s.limit,
    unit: s.unit,
    start: s.start,
    end: s.end,
    filter: s.filter,
    bidirectional: s.bidirectional,
  };
  if (s.graph !== 'sankey') {
    out['top-by'] = s.topBy;
    if (s.previous !== 'none') out.previous = s.previous;
  }
  return out;
}
