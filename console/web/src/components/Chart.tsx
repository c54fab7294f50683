// A chart: loads the ECharts chunk on first use and keeps one instance per
// element, updated in place when the option changes.
import { useEffect, useRef } from 'preact/hooks';
import type { ECharts } from 'echarts/core';
import { dark } from '../theme';

type Loaded = typeof import('./../charts/echarts').default;
let loading: Promise<Loaded> | null = null;
export function loadECharts(): Promise<Loaded> {
  loading ??= import('../charts/echarts').then((m) => m.default);
  return loading;
}

interface Props {
  option: Record<string, unknown> | null;
  height?: number;
  /** data-chart names the chart for tests and styling */
  name: string;
  onClick?: (seriesName: string) => void;
}

export function Chart({ option, height = 320, name, onClick }: Props) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<ECharts | null>(null);
  const click = useRef(onClick);
  click.current = onClick;
  const latest = useRef(option);
  latest.current = option;

  useEffect(() => {
    let disposed = false;
    const observer = new ResizeObserver(() => chart.current?.resize());
    loadECharts().then((echarts) => {
      if (disposed || !el.current) return;
      chart.current = echarts.init(el.current, undefined, { renderer: 'canvas' });
      chart.current.on('click', (p) => click.current?.(String((p as { seriesName?: string }).seriesName ?? '')));
      draw(chart.current, el.current, latest.current);
      observer.observe(el.current);
    });
    return () => {
      disposed = true;
      observer.disconnect();
      chart.current?.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    if (chart.current && el.current) draw(chart.current, el.current, option);
  }, [option, dark.value]);

  // Busy until an option is drawn (the screenshots wait for every chart).
  return <div class="chart" data-chart={name} ref={el} style={{ height: `${height}px` }} aria-busy="true" />;
}

function draw(chart: ECharts, el: HTMLElement, option: Record<string, unknown> | null) {
  if (option) chart.setOption(option, { notMerge: true });
  else chart.clear();
  if (option) el.removeAttribute('aria-busy');
  else el.setAttribute('aria-busy', 'true');
}
