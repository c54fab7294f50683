import { StringStream } from '@codemirror/language';
import { expect, test } from 'vitest';
import { filterParser } from '../src/filter/language';

/** tokens splits a filter into [text, style] pairs, whitespace left out. */
function tokens(src: string): [string, string | null][] {
  const p = filterParser(new Set(['processname', 'srcport', 'dstaddr', 'srcas']));
  const state = p.startState!(2);
  const out: [string, string | null][] = [];
  for (const line of src.split('\n')) {
    const s = new StringStream(line, 2, 2);
    while (!s.eol()) {
      const style = p.token(s, state);
      if (s.current().trim()) out.push([s.current().trim(), style]);
      s.start = s.pos;
    }
  }
  return out;
}

test.each<[string, [string, string | null][]]>([
  [
    "ProcessName = 'ng\\'inx' AND NOT SrcPort >= 1024",
    [
      ['ProcessName', 'variableName'],
      ['=', 'operator'],
      ["'ng\\'inx'", 'string'],
      ['AND', 'keyword'],
      ['NOT', 'keyword'],
      ['SrcPort', 'variableName'],
      ['>=', 'operator'],
      ['1024', 'number'],
    ],
  ],
  [
    'DstAddr << 2001:db8::/32 || SrcAS IN (AS15169, 13335) -- note',
    [
      ['DstAddr', 'variableName'],
      ['<<', 'operator'],
      ['2001:db8::/32', 'number'],
      ['||', 'operator'],
      ['SrcAS', 'variableName'],
      ['IN', 'keyword'],
      ['(', 'punctuation'],
      ['AS15169', 'number'],
      [',', 'punctuation'],
      ['13335', 'number'],
      [')', 'punctuation'],
      ['-- note', 'comment'],
    ],
  ],
  [
    'proto = tcp /* multi\nline */ && x ~',
    [
      ['proto', 'atom'],
      ['=', 'operator'],
      ['tcp', 'atom'],
      ['/*', 'comment'],
      ['multi', 'comment'],
      ['line */', 'comment'],
      ['&&', 'operator'],
      ['x', 'atom'],
      ['~', 'invalid'],
    ],
  ],
])('%s', (src, want) => {
  expect(tokens(src)).toEqual(want);
});
