import { expect, test } from 'vitest';
import { evidenceLink, subjectText } from '../src/components/Detections';

test('subject and evidence of a detection', () => {
  expect(subjectText({ host: 'web-1', process: 'nginx', address: '' })).toBe('host=web-1 process=nginx');
  expect(subjectText(undefined)).toBe('');
  const link = evidenceLink({
    evidence: { filter: "HostName = 'web-1'", start: '2026-11-20T11:00:00Z', end: '2026-11-20T12:00:00Z' },
  });
  const u = new URL(link!, 'http://x');
  expect(u.pathname).toBe('/flows');
  expect(u.searchParams.get('filter')).toBe("HostName = 'web-1'");
  expect(u.searchParams.get('start')).toBe('2026-11-20T11:00:00Z');
  expect(evidenceLink({ rule: 'port-scan' })).toBeNull();
});
