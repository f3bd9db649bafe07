import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEMO_KEYS } from '../../sample-app/api-key.config.js';
import { createSampleApp } from '../../sample-app/create-sample-app.js';
import { useTemporarySampleDatabase } from '../support/sample-app.js';

const artifacts = join(import.meta.dirname, '..', '..', 'test-artifacts');
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A request the page sent to the API, with the credentials it carried. */
interface SentRequest {
  path: string;
  apiKey: string | undefined;
  authorization: string | undefined;
}

describe.each(['express', 'fastify'])('Swagger UI of the sample app on %s, in Chromium', (adapter) => {
  let app: INestApplication;
  let browser: Browser;
  let page: Page;
  const sent: SentRequest[] = [];
  useTemporarySampleDatabase();

  beforeAll(async () => {
    app = await createSampleApp(adapter, { logger: false });
    await app.listen(0, '127.0.0.1');
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('request', (request) => {
      const path = new URL(request.url()).pathname;
      if (path.startsWith('/docs')) return;
      const headers = request.headers();
      sent.push({ path, apiKey: headers['x-api-key'], authorization: headers.authorization });
    });
    await page.goto(`${await app.getUrl()}/docs`);
    await page.locator('.scheme-container button.authorize').waitFor();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  /** Opens an operation, executes it with "Try it out" and returns the status Swagger UI shows. */
  async function execute(operation: string, path: string): Promise<string> {
    const block = page.locator(`#operations-${operation}`);
    if (!(await block.evaluate((element) => element.classList.contains('is-open'))))
      await block.locator('.opblock-summary').first().click();
    const tryOut = block.locator('button.try-out__btn');
    if ((await tryOut.textContent())?.trim() === 'Try it out') await tryOut.click();
    const clear = block.locator('button.btn-clear');
    if (await clear.isVisible()) await clear.click();
    const response = page.waitForResponse((res) => new URL(res.url()).pathname === path);
    await block.locator('button.execute').click();
    await response;
    const status = block.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor();
    return (await status.textContent())!.trim().slice(0, 3);
  }

  it('executes a @Public() operation without authorizing (200), sending no key', async () => {
    expect(await execute('Catalogue-CatalogueController_list', '/products')).toBe('200');
    expect(sent.at(-1)).toEqual({ path: '/products', apiKey: undefined, authorization: undefined });
  }, 60_000);

  it('gets 401 from a guarded operation before Authorize', async () => {
    expect(await execute('Account-AccountController_whoami', '/me')).toBe('401');
    expect(sent.at(-1)).toEqual({ path: '/me', apiKey: undefined, authorization: undefined });
  }, 60_000);

  it('sends the key entered in the Authorize dialog (200), and gets 403 where the key lacks the scope', async () => {
    await page.locator('.scheme-container button.authorize').click();
    const dialog = page.locator('.modal-ux');
    const headerScheme = dialog.locator('.auth-container').filter({ hasText: 'api-key (apiKey)' });
    await headerScheme.locator('input').fill(DEMO_KEYS.DEMO_READER_KEY);
    await headerScheme.locator('button.authorize').click();
    await headerScheme.locator('button', { hasText: 'Logout' }).waitFor();
    mkdirSync(artifacts, { recursive: true });
    const screenshot = join(artifacts, `swagger-authorize-${adapter}.png`);
    await page.screenshot({ path: screenshot });
    console.log(`Authorize dialog screenshot (${adapter}): ${screenshot}`);
    await headerScheme.locator('button.btn-done').click();

    expect(await execute('Account-AccountController_whoami', '/me')).toBe('200');
    expect(sent.at(-1)).toEqual({ path: '/me', apiKey: DEMO_KEYS.DEMO_READER_KEY, authorization: undefined });
    expect(await execute('Admin-AdminController_stats', '/admin/stats')).toBe('403');
    expect(sent.at(-1)).toEqual({ path: '/admin/stats', apiKey: DEMO_KEYS.DEMO_READER_KEY, authorization: undefined });
  }, 60_000);

  /** In the Authorize dialog: logs `scheme` out, or authorizes it with `key`. */
  async function authorize(changes: { scheme: string; key: string | null }[]): Promise<void> {
    await page.locator('.scheme-container button.authorize').click();
    const dialog = page.locator('.modal-ux');
    for (const { scheme, key } of changes) {
      const container = dialog.locator('.auth-container').filter({ hasText: scheme });
      if (key === null) {
        await container.locator('button', { hasText: 'Logout' }).click();
      } else {
        await container.locator('input').fill(key);
        await container.locator('button.authorize').click();
        await container.locator('button', { hasText: 'Logout' }).waitFor();
      }
    }
    await dialog.locator('button.btn-done').first().click();
  }

  it('sends the bearer scheme alone (200) once the header scheme is logged out', async () => {
    await authorize([
      { scheme: 'api-key (apiKey)', key: null },
      { scheme: 'api-key-bearer (http, Bearer)', key: DEMO_KEYS.DEMO_READER_KEY },
    ]);
    expect(await execute('Account-AccountController_whoami', '/me')).toBe('200');
    expect(sent.at(-1)).toEqual({
      path: '/me',
      apiKey: undefined,
      authorization: `Bearer ${DEMO_KEYS.DEMO_READER_KEY}`,
    });
  }, 60_000);

  it('sends both schemes at once, the same key twice, and gets 200', async () => {
    await authorize([{ scheme: 'api-key (apiKey)', key: DEMO_KEYS.DEMO_READER_KEY }]);
    expect(await execute('Account-AccountController_whoami', '/me')).toBe('200');
    expect(sent.at(-1)).toEqual({
      path: '/me',
      apiKey: DEMO_KEYS.DEMO_READER_KEY,
      authorization: `Bearer ${DEMO_KEYS.DEMO_READER_KEY}`,
    });
  }, 60_000);
});
