// The newest detections (the detect component), or why there are none.
import { get, type Detection } from '../api';
import { useAsync } from '../hooks';
import { ErrorBox } from './common';

function field(d: Detection, ...names: string[]): string {
  for (const n of names) {
    const v = d[n];
    if (v !== undefined && v !== null && v !== '') return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  return '';
}

export function Detections() {
  const r = useAsync((signal) => get<{ detections: Detection[]; enabled: boolean }>('detections', { limit: 10 }, signal), []);
  return (
    <section class="panel" data-detections>
      <h3>Newest detections</h3>
      {r.error && <ErrorBox error={r.error} />}
      {r.data && !r.data.enabled && <p class="muted">Detections are not enabled on this collector (see the detect section of its configuration).</p>}
      {r.data && r.data.enabled && r.data.detections.length === 0 && <p class="muted">No detection in the last 7 days.</p>}
      {r.data && r.data.detections.length > 0 && (
        <table class="data">
          <thead>
            <tr>
              <th>Time</th>
              <th>Rule</th>
              <th>Subject</th>
              <th>Details</th>
            </tr>
          </thead>
          <tbody>
            {r.data.detections.map((d) => (
              <tr>
                <td>{field(d, 'time', 'start', 'Time')}</td>
                <td>{field(d, 'rule', 'name', 'Rule')}</td>
                <td>{field(d, 'subject', 'host', 'target', 'Subject')}</td>
                <td>{field(d, 'message', 'summary', 'details', 'Message')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
