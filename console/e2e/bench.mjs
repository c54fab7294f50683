// Load-time benchmark of the console over the e2e fixture (not a test:
// timings on a shared machine are noisy). For each page, N loads in a
// fresh tab with the HTTP cache warm: first contentful paint and the time
// until its 24 h chart is drawn, median and max.
//   cd console/web && node ../e2e/bench.mjs [N]
// Against a running collector instead of the fixture (e.g. one over a
// store of 20 M flows), with a host of that store:
//   HOSTFLOW_BENCH_URL=http://127.0.0.1:8080/ HOSTFLOW_BENCH_HOST=host-1 \
//   HOSTFLOW_BENCH_TOKEN=hf_... node ../e2e/bench.mjs [N]
// HOSTFLOW_BENCH_PAGES (e.g. visualize,host) picks pages, and
// HOSTFLOW_BENCH_QUERY (e.g. start=2036-06-01T00:00:00Z&end=...) is added
// to their URLs, for a store whose 24 h are not the last 24 h.
import { chartOption, launch, startServer } from './harness.mjs';

const n = parseInt(process.argv[2] ?? '7', 10);
const allPages = [
  { name: 'home', path: '/', chart: 'home-traffic' },
  { name: 'visualize', path: '/visualize', chart: 'visualize' },
  { name: 'host', path: `/hosts/${process.env.HOSTFLOW_BENCH_HOST ?? 'web-1'}`, chart: 'host-traffic' },
];
const picked = process.env.HOSTFLOW_BENCH_PAGES?.split(',');
const pages = allPages.filter((pg) => !picked || picked.includes(pg.name));
const query = process.env.HOSTFLOW_BENCH_QUERY ? `?${process.env.HOSTFLOW_BENCH_QUERY}` : '';

const external = process.env.HOSTFLOW_BENCH_URL;
const server = external
  ? { url: external, token: process.env.HOSTFLOW_BENCH_TOKEN ?? '', stop: async () => {} }
  : await startServer();
const browser = await launch();
const stat = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)].toFixed(0)} ms, max ${s[s.length - 1].toFixed(0)} ms`;
};
try {
  for (const pg of pages) {
    const fcp = [];
    const drawn = [];
    for (let i = 0; i <= n; i++) {
      const p = await browser.context.newPage();
      await p.addInitScript((t) => localStorage.setItem('hostflow.token', t), server.token);
      const t0 = Date.now();
      await p.goto(server.url.replace(/\/$/, '') + pg.path + query);
      await chartOption(p, pg.chart);
      const t1 = Date.now();
      const paint = await p.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN);
      if (i > 0) {
        // The first load fills the HTTP cache; it is not counted.
        drawn.push(t1 - t0);
        fcp.push(paint);
      }
      await p.close();
    }
    console.log(`${pg.name}: first contentful paint ${stat(fcp)}; 24 h chart drawn ${stat(drawn)} (n=${n})`);
  }
} finally {
  await browser.close();
  await server.stop();
}
