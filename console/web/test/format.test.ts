import { describe, expect, test } from 'vitest';
import { bytesIEC, duration, label, pctFine, rate, seriesName, si, total, UNATTRIBUTED } from '../src/format';
import { byteToChar, charToByte } from '../src/filter/offsets';

describe('formatting', () => {
  test.each([
    [0, '0'],
    [999, '999'],
    [1000, '1k'],
    [1234567, '1.23M'],
    [-2500, '-2.5k'],
    [664599.4, '665k'],
    [Infinity, '–'],
  ])('si(%d) = %s', (v, want) => expect(si(v)).toBe(want));

  test('units', () => {
    expect(rate(1.5e6)).toBe('1.5Mbps');
    expect(rate(1200, 'pps')).toBe('1.2kpps');
    expect(rate(42.5, 'in-speed-pct')).toBe('42.5%');
    expect(total(8e9, 'l3bps')).toBe('1GB');
    expect(total(3e6, 'pps')).toBe('3M packets');
    expect(bytesIEC(17179869184)).toBe('16.0 GiB');
    expect(duration(1122900)).toBe('12d 23h');
    expect(duration(59)).toBe('59s');
    expect([0, 0.25, 0.0051234, 1.25, 42.4].map(pctFine)).toEqual(['0.0%', '0.25%', '0.0051%', '1.3%', '42%']);
  });

  test('labels: empty values read "(none)", or the label given', () => {
    expect(label('')).toBe('(none)');
    expect(label('US')).toBe('US');
    expect(label('', UNATTRIBUTED)).toBe('(unattributed)');
    expect(label('nginx', UNATTRIBUTED)).toBe('nginx');
    expect(seriesName([])).toBe('Total');
    expect(seriesName(['web-1', ''])).toBe('web-1 · (none)');
    expect(seriesName([''], UNATTRIBUTED)).toBe('(unattributed)');
  });
});

describe('filter offsets: the API counts UTF-8 bytes', () => {
  const s = "HostName = 'café' AND x"; // é is 2 bytes
  test.each([
    [0, 0],
    [15, 15],
    [16, 17],
    [s.length, s.length + 1],
  ])('char %d is byte %d', (c, b) => {
    expect(charToByte(s, c)).toBe(b);
    expect(byteToChar(s, b)).toBe(c);
  });
  test('astral characters and clamping', () => {
    const e = 'a😀b';
    expect(charToByte(e, 3)).toBe(5);
    expect(byteToChar(e, 5)).toBe(3);
    expect(byteToChar(e, 99)).toBe(e.length);
  });
});
