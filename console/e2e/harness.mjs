// Shared by the end-to-end tests and `make screenshots`: builds and starts
// the fixture server (console/e2e/server), and Debian's Chromium through
// playwright-core with a fresh profile.
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// playwright-core is a dependency of console/web (one package.json).
const require = createRequire(new URL('../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, '..', '..');

export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

/**
 * startServer builds the fixture server (with the console as built in
 * console/ui/dist) and starts it; resolves with its ready line
 * {url, emptyUrl, token, now} and a stop function.
 */
export async function startServer({ timeoutMs = 120_000 } = {}) {
  const bin = join(mkdtempSync(join(tmpdir(), 'hostflow-e2e-bin-')), 'server');
  execFileSync('go', ['build', '-o', bin, './console/e2e/server'], { cwd: repo, stdio: 'inherit' });
  // stdin stays a pipe: the server exits when this process goes away.
  const proc = spawn(bin, ['-stdin-exit'], { cwd: repo, stdio: ['pipe', 'pipe', 'inherit'] });
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          proc.kill('SIGKILL');
          r();
        }, 10_000);
        proc.once('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    }
    rmSync(dirname(bin), { recursive: true, force: true });
  };
  try {
    const ready = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fixture server not ready after ${timeoutMs} ms`)), timeoutMs);
      proc.once('exit', (code) => reject(new Error(`fixture server exited with ${code}`)));
      createInterface({ input: proc.stdout }).once('line', (line) => {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(line));
        } catch (e) {
          reject(new Error(`unexpected ready line ${line}: ${e}`));
        }
      });
    });
    return { ...ready, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** launch starts headless Chromium with a fresh profile. */
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'hostflow-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1400, height: 900 },
    timezoneId: 'UTC',
    locale: 'en-GB',
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** chartOption reads the ECharts option of the chart named `name` on the page. */
export async function chartOption(page, name) {
  await page.waitForFunction(
    (n) => {
      const el = document.querySelector(`[data-chart="${n}"]`);
      const c = el && window.echarts?.getInstanceByDom(el);
      return !!c && (c.getOption()?.series ?? []).length > 0;
    },
    name,
    { timeout: 20_000 },
  );
  return page.evaluate((n) => {
    const o = window.echarts.getInstanceByDom(document.querySelector(`[data-chart="${n}"]`)).getOption();
    return {
      series: o.series.map((s) => ({ name: s.name, type: s.type, stack: s.stack ?? null, points: (s.data ?? []).length, nodes: (s.data ?? []).map((d) => d.name) })),
    };
  }, name);
}

/**
 * settled waits until nothing on the page is loading: no element marked
 * aria-busy (loading placeholders, cards without their value, charts not
 * drawn yet, sparklines waiting for data).
 */
export async function settled(page, timeout = 30_000) {
  try {
    await page.waitForFunction(() => document.querySelectorAll('[aria-busy="true"]').length === 0, null, { timeout });
  } catch (e) {
    const busy = await page.evaluate(() =>
      [...document.querySelectorAll('[aria-busy="true"]')].map((el) => el.dataset.chart ?? el.dataset.card ?? el.textContent.trim().slice(0, 40)),
    );
    throw new Error(`still loading after ${timeout} ms: ${busy.join(', ')}`, { cause: e });
  }
}

/** chartValues reads the values of one series of the chart `name`. */
export function chartValues(page, name, series) {
  return page.evaluate(
    ([n, s]) => {
      const o = window.echarts.getInstanceByDom(document.querySelector(`[data-chart="${n}"]`)).getOption();
      return o.series.find((x) => x.name === s).data.map((d) => d[1]);
    },
    [name, series],
  );
}
