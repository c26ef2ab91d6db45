// The chat page at GET / in a real browser (Debian's chromium through playwright-core, headless, no
// network beyond loopback): a question streams an answer, the speed line shows, and Stop ends a long reply.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../helpers/server.js';
import { model } from '../helpers/shared.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium is required at ${CHROMIUM}: apt-get install chromium (.ci/run installs it)`);
  server = await startServer(['-m', model('real/SmolLM2-135M-Instruct.Q4_1.gguf'), '-t', '2', '-c', '2048', '--temp', '0']);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-default-apps', '--disable-sync', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  expect(await server?.stop()).toBe(0);
});

describe('the chat page', () => {
  it('streams an answer, shows the speed, and stops a long reply', async () => {
    const page = await browser.newPage();
    await page.goto(server.url + '/');
    await expect.poll(() => page.textContent('#title')).toContain('SmolLM2');
    await page.fill('#msg', 'What is the capital of France?');
    await page.press('#msg', 'Enter');
    await expect.poll(() => page.textContent('#log'), { timeout: 30_000 }).toContain('Paris');
    await expect.poll(() => page.textContent('#status'), { timeout: 30_000 }).toMatch(/\d+ tokens, [\d.]+ t\/s/);
    // a long reply, stopped
    await page.fill('#msg', 'Write a very long story about a dragon and a knight, with many chapters.');
    await page.press('#msg', 'Enter');
    await expect.poll(async () => ((await page.textContent('#log')) ?? '').length, { timeout: 30_000 }).toBeGreaterThan(200);
    await page.click('#stop');
    await expect.poll(() => page.textContent('#status'), { timeout: 10_000 }).toBe('stopped');
    expect(await page.isEnabled('#send')).toBe(true);
    await page.screenshot({ path: process.env.LLAMA4_PAGE_SHOT ?? '/tmp/llama4-page.png' });
    // the server freed the slot
    await expect.poll(async () => (await (await fetch(server.url + '/metrics')).text()).match(/llamacpp:requests_processing (\d+)/)?.[1]).toBe('0');
  });
});
