// The ECharts build the console uses, loaded on demand (a separate chunk):
// only the chart types and components drawn, canvas renderer.
import * as echarts from 'echarts/core';
import { LineChart, SankeyChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([LineChart, SankeyChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, CanvasRenderer]);

// Exposed for the end-to-end tests and for users poking at a chart from
// the developer tools (echarts.getInstanceByDom(el).getOption()).
(window as unknown as { echarts: typeof echarts }).echarts = echarts;

export default echarts;
