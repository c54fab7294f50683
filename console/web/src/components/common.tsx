// Small shared pieces: loading and error states, cards, bars.
import type { ComponentChildren } from 'preact';
import { APIError } from '../api';
import { pct } from '../format';

export function Loading({ what }: { what: string }) {
  return (
    <div class="loading" aria-busy="true">
      Loading {what}…
    </div>
  );
}

export function ErrorBox({ error }: { error: Error }) {
  if (error instanceof APIError && error.status === 401) return null; // the token prompt is up
  return (
    <div class="error-box" role="alert">
      {error instanceof APIError ? error.message : `Cannot reach the API: ${error.message}`}
    </div>
  );
}

/** Card is a titled value; an undefined value is still loading ("…", aria-busy). */
export function Card({ title, value, hint, tone }: { title: string; value: ComponentChildren; hint?: ComponentChildren; tone?: 'ok' | 'warn' | 'crit' }) {
  const loading = value === undefined;
  return (
    <div class={`card ${tone ?? ''}`} data-card={title} aria-busy={loading ? 'true' : undefined}>
      <div class="card-title">{title}</div>
      <div class="card-value">{loading ? '…' : value}</div>
      {hint && <div class="card-hint">{hint}</div>}
    </div>
  );
}

/** Meter is a horizontal bar of a percentage with warning thresholds. */
export function Meter({ value, warn = 70, crit = 90, label = false }: { value: number; warn?: number; crit?: number; label?: boolean }) {
  const tone = value >= crit ? 'crit' : value >= warn ? 'warn' : 'ok';
  const bar = (
    <span class={`meter ${tone}`} title={pct(value)}>
      <span style={{ width: `${Math.min(100, Math.max(0, value))}%` }} />
    </span>
  );
  if (!label) return bar;
  return (
    <span class="meter-label">
      {bar} {pct(value)}
    </span>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty" data-empty>
      <h3>{title}</h3>
      {children}
    </div>
  );
}
