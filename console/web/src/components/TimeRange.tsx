// Time range picker: presets, free start/end input (now-24h, RFC 3339,
// "2026-01-02 15:04"), shift arrows, optional auto refresh.
import { useEffect, useState } from 'preact/hooks';
import { presets, resolve, shift } from '../time';

interface Props {
  start: string;
  end: string;
  onChange: (start: string, end: string) => void;
  refresh?: number;
  refreshes?: number[];
  onRefresh?: (seconds: number) => void;
}

export function TimeRange({ start, end, onChange, refresh, refreshes, onRefresh }: Props) {
  const [s, setS] = useState(start);
  const [e, setE] = useState(end);
  useEffect(() => {
    setS(start);
    setE(end);
  }, [start, end]);
  const preset = presets.find((p) => p.start === start && (end === 'now' || end === ''));
  const submit = (ev: Event) => {
    ev.preventDefault();
    if (!invalid(s) && !invalid(e)) onChange(s.trim(), e.trim() || 'now');
  };
  const move = (d: -1 | 1) => {
    const r = shift(start, end, d);
    if (r) onChange(r.start, r.end);
  };
  return (
    <form class="timerange" onSubmit={submit} data-timerange>
      <label>
        Range
        <select
          value={preset?.start ?? ''}
          onChange={(ev) => {
            const v = (ev.target as HTMLSelectElement).value;
            if (v) onChange(v, 'now');
          }}
          name="preset"
        >
          {!preset && <option value="">Custom</option>}
          {presets.map((p) => (
            <option value={p.start}>{p.label}</option>
          ))}
        </select>
      </label>
      <div class="timerange-custom">
        <button type="button" class="ghost" onClick={() => move(-1)} title="Earlier by one range" aria-label="Earlier">
          ◀
        </button>
        <div class="timerange-inputs">
          <TimeInput name="start" value={s} set={setS} submit={submit} />
          <span class="arrow" aria-hidden="true">→</span>
          <TimeInput name="end" value={e} set={setE} submit={submit} />
        </div>
        <button type="button" class="ghost" onClick={() => move(1)} title="Later by one range" aria-label="Later">
          ▶
        </button>
        <button type="submit" hidden />
      </div>
      {onRefresh && refreshes && (
        <label>
          Refresh
          <select value={String(refresh ?? 0)} onChange={(ev) => onRefresh(parseInt((ev.target as HTMLSelectElement).value, 10))} name="refresh">
            {refreshes.map((r) => (
              <option value={String(r)}>{r === 0 ? 'Off' : r < 60 ? `${r} s` : `${r / 60} min`}</option>
            ))}
          </select>
        </label>
      )}
    </form>
  );
}

const invalid = (v: string) => v !== '' && resolve(v) === null;

function TimeInput({ name, value, set, submit }: { name: string; value: string; set: (v: string) => void; submit: (e: Event) => void }) {
  return (
    <input
      name={name}
      aria-label={name === 'start' ? 'Start' : 'End'}
      class={invalid(value) ? 'invalid' : ''}
      value={value}
      onInput={(ev) => set((ev.target as HTMLInputElement).value)}
      onBlur={submit}
      title="now-24h, -7d, 2026-01-02T15:04:05Z, 2026-01-02 15:04, Unix seconds"
    />
  );
}
