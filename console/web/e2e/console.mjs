// The console in a real browser (Debian's Chromium, headless, driven by Playwright): sign in,
// build a three-task DAG by dragging and connecting, save, start, watch it succeed, read a
// log, build a schedule, run a backfill, and see none of another user's workflows. Run by
// tests/tests/console_browser.rs against a real cluster, workers and sched-console.
import { chromium } from 'playwright-core';

const url = process.env.CONSOLE_URL;
const shots = process.env.SCREENSHOTS;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
page.setDefaultTimeout(30000);

async function step(name, fn) {
  try {
    await fn();
    console.log('ok', name);
  } catch (err) {
    await page.screenshot({ path: `${shots}/failed-${name}.png`, fullPage: true }).catch(() => {});
    console.log('FAILED', name, err.message);
    await browser.close();
    process.exit(1);
  }
}
const shot = (name) => page.screenshot({ path: `${shots}/${name}.png` });
const node = (task) => page.locator(`.react-flow__node:has([data-task="${task}"])`);

async function connect(from, to) {
  const a = await node(from).locator('.react-flow__handle-right').boundingBox();
  const b = await node(to).locator('.react-flow__handle-left').boundingBox();
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 5 });
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 5 });
  await page.mouse.up();
}

await step('sign in as a sched_user', async () => {
  await page.goto(url);
  await page.fill('input[name=user]', process.env.CONSOLE_USER);
  await page.fill('input[name=password]', process.env.CONSOLE_PASSWORD);
  await page.click('button[type=submit]');
  await page.getByRole('heading', { name: 'Workflows' }).waitFor();
});

await step("another user's workflows are not visible", async () => {
  await page.getByRole('cell', { name: 'alices_sql' }).waitFor();
  if (await page.getByText('bobs_secret').count()) throw new Error("bob's workflow is listed");
  await shot('workflows');
});

await step('build a three-task DAG by dragging and connecting', async () => {
  await page.getByRole('button', { name: 'New workflow' }).click();
  await page.fill('#workflow-name', 'ui_flow');
  const canvas = page.locator('.canvas');
  const palette = page.locator('.palette-item[data-type="shell"]');
  for (const position of [{ x: 120, y: 200 }, { x: 480, y: 110 }, { x: 480, y: 330 }]) {
    await palette.dragTo(canvas, { targetPosition: position });
  }
  for (const task of ['shell_1', 'shell_2', 'shell_3']) {
    await node(task).click();
    await page.fill('#field-script', `echo hello from ${task}`);
  }
  await connect('shell_1', 'shell_2');
  await connect('shell_1', 'shell_3');
  const edges = await page.locator('.react-flow__edge').count();
  if (edges !== 2) throw new Error(`${edges} edges drawn`);
});

await step('a validation error shows on the node it names', async () => {
  await node('shell_3').click();
  await page.fill('#field-script', '');
  await page.getByRole('button', { name: 'Save' }).click();
  await node('shell_3').locator('.task-error').waitFor();
  await page.fill('#field-script', 'echo hello from shell_3');
});

await step('save', async () => {
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved: ui_flow' }).waitFor();
  await page.getByRole('button', { name: 'Auto-layout' }).click();
  await shot('editor');
});

await step('start it and watch every node turn succeeded', async () => {
  await page.goto(`${url}/#/workflows/ui_flow`);
  await page.getByRole('button', { name: 'Start' }).click();
  await page.getByRole('button', { name: 'Run' }).click();
  await page.waitForFunction(() => document.querySelectorAll('.react-flow__node.state-succeeded').length === 3, null, { timeout: 60000 });
  await page.locator('h2 .badge[data-state="succeeded"]').waitFor();
  await shot('instance');
});

await step('open a log', async () => {
  await page.getByRole('row', { name: /shell_2/ }).getByRole('button', { name: 'Log' }).click();
  await page.locator('.dialog.log pre').filter({ hasText: 'hello from shell_2' }).waitFor();
  await page.locator('.dialog.log').scrollIntoViewIfNeeded();
  await shot('log');
  await page.locator('.dialog.log').getByRole('button', { name: '×' }).click();
});

await step('build a schedule in the cron builder and see the next fire times', async () => {
  await page.goto(`${url}/#/cron/ui_flow`);
  await page.fill('#cron-tz', 'Asia/Shanghai');
  await page.fill('#cron-expr', '0 30 2 * * ?');
  await page.locator('#cron-next li').nth(9).waitFor();
  await page.getByLabel('hour value').fill('4');
  await page.waitForFunction(() => document.querySelector('#cron-expr').value === '0 30 4 * * ?');
  await page.locator('#cron-next li').first().filter({ hasText: '04:30:00' }).waitFor();
  const said = await page.locator('#cron-describe').textContent();
  if (!said.includes('04:30')) throw new Error(`described as ${said}`);
  await page.getByRole('button', { name: 'Save schedule' }).click();
  await page.getByRole('status').waitFor();
  await shot('cron');
});

await step('run a backfill and see its progress', async () => {
  await page.goto(`${url}/#/backfill/ui_flow`);
  await page.getByLabel('From').fill('2024-03-01');
  await page.getByLabel('To').fill('2024-03-03');
  await page.getByLabel('Mode').selectOption('parallel');
  // The dates are the enabled schedule's fires in the range's days, read in the schedule's
  // zone: three at 04:30 Shanghai, as in DolphinScheduler.
  await page.getByRole('button', { name: 'Preview dates' }).click();
  await page.locator('table.preview tbody tr').nth(2).waitFor();
  const previewed = await page.locator('table.preview tbody tr').count();
  const zones = await page.locator('table.preview tbody tr td:nth-child(4)').allTextContents();
  if (previewed !== 3 || zones.some((z) => z !== 'Asia/Shanghai')) throw new Error(`preview ${previewed} dates in ${zones}`);
  await shot('backfill-preview');
  await page.getByRole('button', { name: 'Run' }).click();
  await page.locator('h2 .badge[data-state="succeeded"]').waitFor({ timeout: 90000 });
  const count = (await page.locator('.count').textContent()).trim();
  const rows = await page.locator('tbody tr').count();
  if (count !== `${rows}/${rows}` || rows !== 3) throw new Error(`progress ${count} over ${rows} dates`);
  await shot('backfill');
});

await step('Chinese UI text', async () => {
  await page.getByRole('button', { name: '中文' }).click();
  await page.getByRole('link', { name: '工作流' }).waitFor();
  await page.goto(`${url}/#/workers`);
  await page.getByRole('heading', { name: 'Worker' }).waitFor();
  await shot('workers-zh');
});

await browser.close();
console.log('all steps passed');
