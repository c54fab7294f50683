import { describe, expect, test } from 'vitest';
import { isRelative, parseDuration, resolve, shift, toAPI } from '../src/time';

const now = new Date('2026-11-20T12:00:00Z');

describe('time expressions', () => {
  test.each([
    ['15m', 900],
    ['1h30m', 5400],
    ['7d', 604800],
    ['2w', 1209600],
    ['500ms', 0.5],
    ['', NaN],
    ['h', NaN],
    ['5x', NaN],
  ])('parseDuration(%j) = %d', (s, want) => {
    expect(parseDuration(s)).toEqual(want);
  });

  test.each([
    ['now', '2026-11-20T12:00:00Z'],
    ['now-24h', '2026-11-19T12:00:00Z'],
    ['-7d', '2026-11-13T12:00:00Z'],
    ['now+1h', '2026-11-20T13:00:00Z'],
    ['2026-01-02T15:04:05Z', '2026-01-02T15:04:05Z'],
    ['2026-01-02T15:04:05+02:00', '2026-01-02T13:04:05Z'],
    ['1767366245', '2026-01-02T15:04:05Z'],
  ])('resolve(%j)', (expr, want) => {
    expect(toAPI(resolve(expr, now)!)).toBe(want);
  });

  test.each(['yesterday', 'now-', '2026-13-45', 'now-5x'])('resolve(%j) is invalid', (expr) => {
    expect(resolve(expr, now)).toBeNull();
  });

  test('shift moves by the range length and snaps to now', () => {
    expect(shift('now-24h', 'now', -1, now)).toEqual({ start: '2026-11-18T12:00:00Z', end: '2026-11-19T12:00:00Z' });
    expect(shift('2026-11-18T12:00:00Z', '2026-11-19T12:00:00Z', 1, now)).toEqual({ start: 'now-86400s', end: 'now' });
    expect(shift('2026-11-10T00:00:00Z', '2026-11-10T06:00:00Z', 1, now)).toEqual({ start: '2026-11-10T06:00:00Z', end: '2026-11-10T12:00:00Z' });
    expect(shift('now', 'now-1h', 1, now)).toBeNull();
  });

  test('relative ends follow the clock', () => {
    expect(isRelative('now')).toBe(true);
    expect(isRelative('')).toBe(true);
    expect(isRelative('2026-11-10T00:00:00Z')).toBe(false);
  });
});
