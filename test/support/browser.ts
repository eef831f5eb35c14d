/**
 * A real headless Chromium for the console's tests: Debian's `chromium` package driven by
 * playwright-core (which downloads nothing). The flags keep it off the network this machine
 * does not have (background services, component updates, sync); as root it needs --no-sandbox.
 * `REBALANCER_TEST_CHROMIUM` names another binary.
 */
import { access } from 'node:fs/promises';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.REBALANCER_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they can. */
export async function chromiumMissing(): Promise<string | undefined> {
  try {
    await access(CHROMIUM);
    return undefined;
  } catch {
    return `${CHROMIUM} not found: apt-get install -y chromium (.ci/run does)`;
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}
