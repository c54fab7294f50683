// Number and time formatting for charts, tables and cards.

const SI = ['', 'k', 'M', 'G', 'T', 'P'];

/** si formats with an SI prefix: 1234567 → "1.23M". */
export function si(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return '–';
  const neg = v < 0;
  let x = Math.abs(v);
  let i = 0;
  while (x >= 1000 && i < SI.length - 1) {
    x /= 1000;
    i++;
  }
  let s = x === 0 ? '0' : x >= 100 ? x.toFixed(0) : x.toPrecision(digits);
  if (s.includes('.') && !s.includes('e')) s = s.replace(/\.?0+$/, '');
  return (neg ? '-' : '') + s + SI[i];
}

/** bytesIEC formats a byte count with binary prefixes: 17179869184 → "16 GiB". */
export function bytesIEC(v: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export const unitLabels: Record<string, string> = {
  l3bps: 'L3 bits/s',
  l2bps: 'L2 bits/s',
  pps: 'packets/s',
  fps: 'flows/s',
  'in-speed-pct': '% of in-interface speed',
  'out-speed-pct': '% of out-interface speed',
};

const unitSuffix: Record<string, string> = {
  l3bps: 'bps',
  l2bps: 'bps',
  pps: 'pps',
  fps: 'fps',
  'in-speed-pct': '%',
  'out-speed-pct': '%',
};

/** rate formats a value of the given API unit: 1.5e6 l3bps → "1.5Mbps". */
export function rate(v: number, unit = 'l3bps'): string {
  if (unit.endsWith('-pct')) return `${v.toPrecision(3).replace(/\.?0+$/, '')}%`;
  return si(v) + (unitSuffix[unit] ?? '');
}

/** total formats a series total (value × seconds): bits become bytes. */
export function total(v: number, unit = 'l3bps'): string {
  if (unit === 'l3bps' || unit === 'l2bps') return si(v / 8) + 'B';
  if (unit === 'pps') return si(v) + ' packets';
  if (unit === 'fps') return si(v) + ' flows';
  return '–';
}

export function pct(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return v < 10 ? `${v.toFixed(1)}%` : `${v.toFixed(0)}%`;
}

/**
 * pctFine formats a percentage keeping two significant digits below 1 %
 * (chart axes of small shares: 0.25 %, 0.005 %), as pct above.
 */
export function pctFine(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v === 0 || Math.abs(v) >= 1) return pct(v);
  return `${Number(v.toPrecision(2))}%`;
}

/** duration formats seconds as "12d 3h" / "4h 5m" / "30s". */
export function duration(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m`;
  return `${Math.floor(s)}s`;
}

/** ago formats how long before now a time is: "3 min ago". */
export function ago(t: string | Date, now = Date.now()): string {
  const s = Math.max(0, (now - new Date(t).getTime()) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** NONE labels an empty dimension value everywhere. */
export const NONE = '(none)';
/**
 * UNATTRIBUTED labels an empty ProcessName where every flow has a host:
 * traffic the agent could not tie to a process (not "no process").
 */
export const UNATTRIBUTED = '(unattributed)';

/** label renders a dimension value, the empty value as `empty`. */
export function label(v: string, empty = NONE): string {
  return v === '' ? empty : v;
}

/** seriesName joins a series' labels (empty values as `empty`). */
export function seriesName(labels: string[], empty = NONE): string {
  return labels.length === 0 ? 'Total' : labels.map((l) => label(l, empty)).join(' · ');
}
