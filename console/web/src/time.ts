// Time ranges as the API takes them: "now", "now-24h" / "-7d", RFC 3339,
// or Unix seconds. The console keeps what the user typed in the URL and
// resolves it only to shift the range or to fix a paging end.

export const presets: { label: string; start: string; key: string }[] = [
  { label: 'Last 15 minutes', start: 'now-15m', key: '15m' },
  { label: 'Last hour', start: 'now-1h', key: '1h' },
  { label: 'Last 6 hours', start: 'now-6h', key: '6h' },
  { label: 'Last 24 hours', start: 'now-24h', key: '24h' },
  { label: 'Last 7 days', start: 'now-7d', key: '7d' },
  { label: 'Last 30 days', start: 'now-30d', key: '30d' },
];

const unitSeconds: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** parseDuration reads "90s", "15m", "1h30m", "7d" into seconds (NaN if invalid). */
export function parseDuration(s: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(s))) {
    total += m[2] === 'ms' ? parseFloat(m[1]) / 1000 : parseFloat(m[1]) * unitSeconds[m[2]];
    end = re.lastIndex;
  }
  return end === s.length && s.length > 0 ? total : NaN;
}

/** resolve turns an API time expression into a Date, or null if it is not one. */
export function resolve(expr: string, now = new Date()): Date | null {
  let s = expr.trim();
  if (s === '' || s === 'now') return now;
  if (s.startsWith('now')) s = s.slice(3);
  if (s[0] === '-' || s[0] === '+') {
    const d = parseDuration(s.slice(1));
    if (!Number.isNaN(d)) return new Date(now.getTime() + (s[0] === '-' ? -d : d) * 1000);
    return null;
  }
  if (/^\d{9,11}$/.test(s)) return new Date(parseInt(s, 10) * 1000);
  // RFC 3339, or the friendlier "2026-01-02 15:04" (local time).
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?$/.test(s)) {
    const t = new Date(s.includes('T') || s.length === 10 ? s : s.replace(' ', 'T'));
    return Number.isNaN(t.getTime()) ? null : t;
  }
  return null;
}

/** toAPI renders a time for the API (RFC 3339, UTC, whole seconds). */
export function toAPI(t: Date): string {
  return t.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** isRelative reports whether a range follows the clock (refresh makes sense). */
export function isRelative(end: string): boolean {
  return end === '' || end.startsWith('now');
}

/**
 * shift moves a range by its own length (direction -1: earlier, +1: later),
 * returning absolute times; a later range reaching now snaps back to now.
 */
export function shift(start: string, end: string, direction: -1 | 1, now = new Date()): { start: string; end: string } | null {
  const e = resolve(end || 'now', now);
  const s = start ? resolve(start, now) : e && new Date(e.getTime() - 86400e3);
  if (!s || !e || s >= e) return null;
  const len = e.getTime() - s.getTime();
  const ns = new Date(s.getTime() + direction * len);
  const ne = new Date(e.getTime() + direction * len);
  if (ne.getTime() >= now.getTime()) return { start: `now-${Math.round(len / 1000)}s`, end: 'now' };
  return { start: toAPI(ns), end: toAPI(ne) };
}

/** rangeLabel describes a range for headings. */
export function rangeLabel(start: string, end: string): string {
  const p = presets.find((p) => p.start === start);
  if (p && isRelative(end) && (end === '' || end === 'now')) return p.label;
  return `${start || 'now-24h'} → ${end || 'now'}`;
}
