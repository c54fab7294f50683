// API v1 client: JSON over fetch, the token from localStorage sent as a
// Bearer header. A 401 raises the token prompt (see App).
import { signal } from '@preact/signals';

const TOKEN_KEY = 'hostflow.token';

export function getToken(): string {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function setToken(token: string) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
  authRequired.value = null;
  epoch.value++;
}

/** Set when the API answered 401: the message to show in the token prompt. */
export const authRequired = signal<string | null>(null);
/** Bumped when the token changes or on a reload (the r key): pages fetch again. */
export const epoch = signal(0);

export class APIError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Params = Record<string, string | number | boolean | undefined | null>;

export function query(params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '' || v === false) continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

function headers(): HeadersInit {
  const t = getToken();
  return t ? { Authorization: 'Bearer ' + t } : {};
}

export async function request(path: string, params: Params = {}, signal?: AbortSignal): Promise<Response> {
  const resp = await fetch('/api/v1/' + path + query(params), { headers: headers(), signal });
  if (resp.ok) return resp;
  let msg = resp.statusText;
  try {
    msg = (await resp.json()).error ?? msg;
  } catch {
    // not JSON: keep the status text
  }
  if (resp.status === 401) authRequired.value = msg;
  throw new APIError(resp.status, msg);
}

export async function get<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  return (await request(path, params, signal)).json() as Promise<T>;
}

// Shapes of the answers (console/routes.go).

export interface Column {
  name: string;
  label: string;
  group: string;
  filter?: string;
  dimension: boolean;
  mainOnly: boolean;
  mirror?: string;
  operators?: string[];
}
export interface Schema {
  columns: Column[];
  units: string[];
}
export interface Status {
  flowsPerSecond: number;
  exporters: number;
  hosts: number;
  lastFlow?: string;
}
export interface Stats {
  Min: number;
  Max: number;
  Avg: number;
  P95: number;
  Last: number;
  Total: number;
}
export interface Series {
  labels: string[];
  other?: boolean;
  values: number[];
  stats: Stats;
}
export interface TimeSeries {
  start: string;
  end: string;
  step: number;
  table: string;
  unit: string;
  dimensions: string[];
  times: string[];
  series: Series[];
  reverse?: Series[];
  previous?: Series;
}
export interface TopN {
  rows: { labels: string[]; other?: boolean; value: number; percent: number }[];
  unit: string;
}
export interface Sankey {
  dimensions: string[];
  nodes: { dimension: number; label: string }[];
  links: { source: number; target: number; value: number }[];
  reverse?: Sankey;
}
export interface FlowsPage {
  columns: string[];
  rows: unknown[][];
  next: number;
  end: string;
}
export interface Top {
  label: string;
  bps: number;
}
export interface Health {
  time: string;
  load1: number;
  cpus: number;
  cpuBusyPct: number;
  memTotal: number;
  memAvailable: number;
  diskMaxUsedPct: number;
  uptimeSeconds: number;
  tcpRetrans: number;
  tcpRetransPct: number;
  netErrors: number;
  netDrops: number;
  udpBufErrors: number;
}
export interface Interface {
  name: string;
  kind: string;
  speed: number;
  inBps: number;
  outBps: number;
  inPct: number;
  outPct: number;
  inErrors: number;
  outErrors: number;
  inDiscards: number;
  outDiscards: number;
}
export interface Host {
  host: string;
  exporterAddress: string;
  inBps: number;
  outBps: number;
  inPps: number;
  outPps: number;
  flows: number;
  topProcesses: Top[];
  topPeers: Top[];
  newPeers: Top[];
  newPeerCount: number;
  health?: Health;
  interfaces: Interface[];
  /** CPU busy % over the range (null: no sample), with cpu-points */
  cpuSeries?: (number | null)[];
}
/** A series of host counters: one value per time, null where none. */
export type Gaps = (number | null)[];
export interface InterfaceSeries {
  name: string;
  kind: string;
  speed: number;
  inBps: Gaps;
  outBps: Gaps;
  inPct: Gaps;
  outPct: Gaps;
}
/** GET /api/v1/hosts/{host}/health */
export interface HostHealthSeries {
  host: string;
  start: string;
  end: string;
  step: number;
  times: string[];
  samples: number;
  cpuBusyPct: Gaps;
  load1: Gaps;
  cpus: Gaps;
  memUsed: Gaps;
  memUsedPct: Gaps;
  diskMaxUsedPct: Gaps;
  tcpRetransPerSec: Gaps;
  tcpRetransPct: Gaps;
  netErrorsPerSec: Gaps;
  netDropsPerSec: Gaps;
  interfaces: InterfaceSeries[];
}
export interface FilterValidation {
  valid: boolean;
  normalized?: string;
  error?: { message: string; offset: number; line: number; column: number };
}
export interface Completion {
  start: number;
  end: number;
  candidates: { text: string; kind: string; detail?: string }[];
}

let schemaPromise: Promise<Schema> | null = null;

/** The schema, fetched once per page load (retried after a failure). */
export function schema(): Promise<Schema> {
  if (!schemaPromise) {
    schemaPromise = get<Schema>('schema').catch((e) => {
      schemaPromise = null;
      throw e;
    });
  }
  return schemaPromise;
}
