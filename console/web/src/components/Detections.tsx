// The newest detections (the detect component), or why there are none.
// Each links to its evidence: the flows that triggered it.
import { get } from '../api';
import { ago } from '../format';
import { useAsync } from '../hooks';
import { href } from '../href';
import { ErrorBox, Loading } from './common';

/** Detection is the detect package's JSON (fields optional: sources vary). */
export interface Detection {
  id?: string;
  rule?: string;
  severity?: string;
  subject?: Record<string, string>;
  summary?: string;
  first_seen?: string;
  last_seen?: string;
  count?: number;
  active?: boolean;
  evidence?: { filter?: string; start?: string; end?: string };
}

/** subjectText renders a subject as "host=web-1 process=nginx". */
export function subjectText(s: Record<string, string> | undefined): string {
  return Object.entries(s ?? {})
    .filter(([, v]) => v)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** evidenceLink opens the flows behind a detection, or null without evidence. */
export function evidenceLink(d: Detection): string | null {
  const e = d.evidence;
  if (!e?.start || !e.end) return null;
  return href('/flows', { filter: e.filter || undefined, start: e.start, end: e.end });
}

const tones: Record<string, string> = { critical: 'crit', warning: 'warn', info: 'ok' };

export function Detections() {
  const r = useAsync((signal) => get<{ detections: Detection[]; enabled: boolean }>('detections', { limit: 10 }, signal), []);
  return (
    <section class="panel" data-detections>
      <h3>Newest detections</h3>
      {r.error && <ErrorBox error={r.error} />}
      {!r.data && !r.error && <Loading what="detections" />}
      {r.data && !r.data.enabled && <p class="muted">Detections are not enabled on this collector (see the detect section of its configuration).</p>}
      {r.data && r.data.enabled && r.data.detections.length === 0 && <p class="muted">No detection in the last 7 days.</p>}
      {r.data && r.data.detections.length > 0 && (
        <table class="data">
          <thead>
            <tr>
              <th />
              <th>Last seen</th>
              <th>Rule</th>
              <th>Subject</th>
              <th>Summary</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {r.data.detections.map((d) => {
              const link = evidenceLink(d);
              return (
                <tr data-detection={d.id}>
                  <td>
                    <span class={`dot ${tones[d.severity ?? ''] ?? ''}`} title={`${d.severity ?? 'unknown'}${d.active ? ', active' : ''}`} />
                  </td>
                  <td class="muted">{d.last_seen ? ago(d.last_seen) : ''}</td>
                  <td>{d.rule}</td>
                  <td>{subjectText(d.subject)}</td>
                  <td class="wrap">{d.summary}</td>
                  <td>{link && <a href={link}>flows →</a>}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
