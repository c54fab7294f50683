// `make screenshots`: a screenshot of each console page over the e2e
// fixture, saved to docs/screenshots/ (light; the home page also dark).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chartOption, launch, repo, settled, startServer } from './harness.mjs';

const out = join(repo, 'docs', 'screenshots');
mkdirSync(out, { recursive: true });

const shots = [
  { file: 'home.png', path: '/', chart: 'home-traffic', wait: '[data-detections] tbody tr', full: true },
  { file: 'home-dark.png', path: '/', chart: 'home-traffic', dark: true },
  { file: 'visualize.png', path: '/visualize?dimensions=DstAS&bidirectional=true&filter=SrcAddr%20%3C%3C%2010.0.0.0%2F8', chart: 'visualize' },
  { file: 'visualize-sankey.png', path: '/visualize?graph=sankey&dimensions=HostName,ProcessName,DstAS', chart: 'visualize' },
  { file: 'visualize-filter.png', path: "/visualize?graph=lines&dimensions=HostName&filter=Proto%20%3D%20tcp%20AND%20DstPort%20%3D%20%27x%27", typeFilter: true },
  { file: 'hosts.png', path: '/hosts', wait: '[data-hosts-table] .spark path[d^="M"]' },
  { file: 'host.png', path: '/hosts/web-1', chart: 'health-usage', full: true },
  { file: 'flows.png', path: "/flows?filter=HostName%20%3D%20%27web-1%27", wait: '[data-flows-table] tbody tr' },
  { file: 'docs.png', path: '/help/filter', wait: '.markdown h1' },
  { file: 'onboarding.png', path: '/', empty: true, wait: '[data-empty]' },
];

const server = await startServer();
const browser = await launch();
try {
  for (const s of shots) {
    const page = await browser.context.newPage();
    await page.addInitScript(
      ([token, dark]) => {
        localStorage.setItem('hostflow.token', token);
        localStorage.setItem('hostflow.theme', dark ? 'dark' : 'light');
      },
      [server.token, !!s.dark],
    );
    await page.goto((s.empty ? server.emptyUrl : server.url).replace(/\/$/, '') + s.path);
    if (s.chart) await chartOption(page, s.chart);
    if (s.wait) await page.locator(s.wait).first().waitFor({ timeout: 20_000 });
    if (s.typeFilter) {
      // The inline error of a wrong value.
      await page.click('[data-filter-editor] .cm-content');
      await page.keyboard.press('End');
      await page.keyboard.type(' ');
      await page.locator('.filter-error').waitFor({ timeout: 20_000 });
      await page.keyboard.press('Escape');
    }
    // Every widget, card and chart loaded (waitForLoadState('networkidle')
    // returned at once: that state is reached once, early, per page load).
    await settled(page);
    await page.waitForTimeout(200); // the charts' canvas paint
    await page.screenshot({ path: join(out, s.file), fullPage: !!s.full });
    console.log(`docs/screenshots/${s.file}`);
    await page.close();
  }
} finally {
  await browser.close();
  await server.stop();
}
