/**
 * The web console in a real headless Chromium (Debian's package, playwright-core) against a
 * sandbox whose manager has an api_token, running a real evacuation: the fleet view, a dry
 * run's plan confirmed into a job, the job progressing with its chart growing, a limit change
 * and a pause from the console (checked through the API), a mutating action without the token
 * refused, and the audit verdict at the end. Screenshots of the fleet, plan and job views go
 * to artifacts/screenshots/ (REBALANCER_SCREENSHOTS_DIR elsewhere), CI's artifacts.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { JobListEntry, JobStatus } from '../../src/api/manager.ts';
import { sleep } from '../../src/async/index.ts';
import { E2ESandbox } from '../manager/e2e/sandbox.ts';
import { chromiumMissing, launchChromium } from '../support/browser.ts';

const TOKEN = 'console-test-token-0123456789';
const SCREENSHOTS =
  process.env.REBALANCER_SCREENSHOTS_DIR ??
  join(new URL('../..', import.meta.url).pathname, 'artifacts', 'screenshots');
const missing = await chromiumMissing();
if (missing && process.env.REBALANCER_REQUIRE_CHROMIUM === '1') {
  throw new Error(`the console tests must run here: ${missing}`);
}

describe('the web console in a real browser', { skip: missing }, () => {
  let e2e: E2ESandbox;
  let browser: Browser;
  let page: Page;

  before(async () => {
    e2e = await E2ESandbox.start(
      'console',
      {
        domain: 'console.test',
        shards: 2,
        sharks: 4,
        datacenters: 2,
        sharkCapacityBytes: 1024 ** 3,
      },
      { api_token: TOKEN, progress_history_seconds: 1 },
    );
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    await mkdir(SCREENSHOTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await e2e?.stop();
  });

  /** The manager's API, as an operator's script would call it. */
  async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
    const res = await fetch(`${e2e.managerUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, ...init.headers },
    });
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
    return (await res.json()) as T;
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  }

  const jobState = () => page.getByTestId('job-state').textContent();
  const chartPoints = async () =>
    Number(await page.getByTestId('rate-chart').getAttribute('data-points'));

  test('an evacuation planned, confirmed, throttled, paused and audited from the console', async () => {
    const evac = e2e.shark(1);
    await e2e.putObjects(
      Array.from({ length: 300 }, (_, i) => ({ sharks: [evac, e2e.shark(i % 2 === 0 ? 2 : 4)] })),
    );
    await e2e.setMakoFaults({ latencyMs: 300 });

    await page.goto(`${e2e.managerUrl}/ui/`);
    await page.locator(`[data-shark="${evac}"]`).waitFor();
    for (let n = 1; n <= 4; n++) {
      const bar = page.locator(`[data-shark="${e2e.shark(n)}"] [role="progressbar"]`);
      assert.ok(Number(await bar.getAttribute('aria-valuenow')) >= 0);
    }
    assert.equal(await page.locator('[data-datacenter]').count(), 2);
    await page.screenshot({ path: join(SCREENSHOTS, 'fleet.png'), fullPage: true });

    // Without the token, a dry run is refused and nothing is created.
    await page.getByRole('link', { name: 'New evacuation' }).click();
    await page.getByLabel('Shark').fill(evac);
    // Planned at 10 objects/s: the evacuation started from the plan keeps the limit.
    await page.getByLabel('Objects per second').fill('10');
    await page.getByRole('button', { name: 'Plan (dry run)' }).click();
    await page.getByRole('alert').filter({ hasText: 'Unauthorized' }).waitFor();
    assert.deepEqual(await api<JobListEntry[]>('/jobs'), []);

    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Save token' }).click();
    await page.getByRole('button', { name: 'Plan (dry run)' }).click();
    const plan = page.getByTestId('plan');
    await plan.waitFor({ timeout: 60_000 });
    assert.equal(await jobState(), 'Planned');
    await plan.getByText(e2e.shark(3)).first().waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'plan.png'), fullPage: true });
    const [planned] = await api<JobListEntry[]>('/jobs');
    assert.ok(planned);

    page.once('dialog', (dialog) => void dialog.accept());
    await plan.getByRole('button', { name: 'Start evacuation' }).click();
    const job = await until('the real job', async () => {
      const jobs = await api<JobListEntry[]>('/jobs');
      return jobs.find((j) => j.id !== planned.id)?.id;
    });
    await page.waitForURL(`**/ui/#/jobs/${job}`);

    // The plan's limit reached the job; a change from the console does too.
    assert.equal((await api<JobStatus>(`/jobs/${job}`)).limits?.objects_per_second, 10);
    await page.getByLabel('Objects per second').fill('12');
    await page.getByRole('button', { name: 'Apply limits' }).click();
    await until('the limit', async () => {
      const s = await api<JobStatus>(`/jobs/${job}`);
      return s.limits?.objects_per_second === 12 ? true : undefined;
    });
    await e2e.clearMakoFaults();
    const objects = page.getByRole('progressbar', { name: 'Objects' });
    await until('progress', async () =>
      Number(await objects.getAttribute('aria-valuenow')) > 0 ? true : undefined,
    );

    await page.getByRole('button', { name: 'Pause' }).click();
    await until('Paused', async () =>
      (await api<JobStatus>(`/jobs/${job}`)).state === 'Paused' ? true : undefined,
    );
    await page.getByTestId('job-state').filter({ hasText: 'Paused' }).waitFor();
    await page.getByTestId('events').getByText('paused').first().waitFor();
    await page.getByRole('button', { name: 'Resume' }).click();
    await until('Running', async () =>
      (await api<JobStatus>(`/jobs/${job}`)).state === 'Running' ? true : undefined,
    );

    // Progress and the chart grow while it runs, at the limit.
    const points = await until('a chart', async () => {
      const n = await chartPoints();
      return n >= 2 ? n : undefined;
    });
    await until('a growing chart', async () => ((await chartPoints()) > points ? true : undefined));
    await page.getByTestId('activity').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'job-running.png'), fullPage: true });
    // Everything was posted paced: a few seconds' worth settles at about 12/s.
    const done = async () => (await api<JobStatus>(`/jobs/${job}`)).progress?.objects_done ?? 0;
    const before = await done();
    await sleep(6000);
    const paced = ((await done()) - before) / 6;
    assert.ok(paced > 0 && paced <= 18, `about 12 objects/s: ${paced}`);

    await page.getByLabel('Objects per second').fill('');
    await page.getByRole('button', { name: 'Apply limits' }).click();
    await page.getByTestId('job-state').filter({ hasText: 'Complete' }).waitFor({
      timeout: 120_000,
    });
    const verdict = page.getByTestId('audit-verdict');
    await verdict.filter({ hasText: 'safe to remove: yes' }).waitFor({ timeout: 60_000 });
    const finished = await api<JobStatus>(`/jobs/${job}`);
    assert.equal(finished.results.Complete, 300);
    assert.equal(finished.audit?.verdict, 'safe');
    await page.screenshot({ path: join(SCREENSHOTS, 'job.png'), fullPage: true });

    // An audit started from the fleet view gives its own verdict.
    await page.getByRole('link', { name: 'Fleet' }).click();
    await page.getByRole('button', { name: `Audit ${evac}` }).click();
    await page.getByTestId('audit-verdict').filter({ hasText: 'safe to remove: yes' }).waitFor({
      timeout: 60_000,
    });
    const audits = (await api<JobListEntry[]>('/jobs')).filter((j) => j.action === 'Audit');
    assert.equal(audits.length, 1);
  });
});
