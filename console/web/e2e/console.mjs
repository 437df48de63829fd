// The console in a real browser (Debian's Chromium, headless, driven by Playwright): sign in,
// build a three-task DAG by dragging and connecting, save, start, watch it succeed, read a
// log, build a schedule, run a backfill, and see none of another user's workflows. Run by
// tests/tests/console_browser.rs against a real cluster, workers and sched-console.
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { texts } from '../src/i18n.js';

const url = process.env.CONSOLE_URL;
const shots = process.env.SCREENSHOTS;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
// A context of its own: axe-core's runner needs one.
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const page = await context.newPage();
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
  await page.getByRole('heading', { name: 'Home' }).waitFor();
  await page.getByRole('link', { name: 'Workflows' }).click();
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

// JSON with its keys sorted, to compare values whatever order the API writes them in.
const canonical = (v) => JSON.stringify(v, (_, x) => (x && typeof x === 'object' && !Array.isArray(x)
  ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
const specOf = (name) => page.evaluate(async (n) => (await (await fetch(`/api/workflows/${n}`)).json()).spec, name);

await step('the task form: a code editor, policy fields, parameters, and an error on its field', async () => {
  await node('shell_2').click();
  await page.locator('.code-editor .cm-content').first().waitFor();
  await page.fill('#field-retries', '1');
  await page.fill('#field-timeout', 'soon');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('.field.invalid[data-field="timeout"] .field-error').waitFor();
  await node('shell_2').locator('.task-error').waitFor();
  await page.fill('#field-timeout', '1 min');
  await page.selectOption('#field-timeout-strategy', 'warn');
  await page.getByRole('button', { name: 'Add parameter' }).click();
  await page.getByLabel('Name 1').fill('rows');
  await page.getByLabel('Direction 1').selectOption('out');
  await page.getByLabel('Type 1').selectOption('integer');
  await page.getByLabel('Value 1').fill('0');
  const axe = await new AxeBuilder({ page }).include('.panel').withTags(['wcag2a', 'wcag2aa']).analyze();
  const bad = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) throw new Error(`task form: ${bad.map((v) => v.id).join(', ')}`);
  await shot('task-form');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved: ui_flow' }).waitFor();
  const task = (await specOf('ui_flow')).tasks.find((x) => x.name === 'shell_2');
  const want = { retries: 1, timeout: { after: '1 min', strategy: 'warn' }, out: [{ name: 'rows', type: 'integer', default: '0' }] };
  for (const [k, v] of Object.entries(want)) {
    if (canonical(task[k]) !== canonical(v)) throw new Error(`${k}: ${JSON.stringify(task[k])}`);
  }
  if (task.script !== 'echo hello from shell_2') throw new Error(`script ${task.script}`);
});

await step('forms for switch cases, conditions and dependent items', async () => {
  await page.goto(`${url}/#/edit/ui_logic`);
  await node('route').click();
  const when1 = page.getByRole('group', { name: 'Case 1' }).getByLabel('When');
  await when1.waitFor();
  if ((await when1.inputValue()) !== '${region} == "eu"') throw new Error(`case 1: ${await when1.inputValue()}`);
  await page.getByRole('button', { name: 'Add case' }).click();
  await page.getByRole('group', { name: 'Case 2' }).getByLabel('When').fill('${region} == "us"');
  await page.getByRole('group', { name: 'Then run 2' }).getByLabel('us').check();
  await shot('task-form-switch');
  await node('check').click();
  await page.getByRole('group', { name: 'Item 1.1' }).getByLabel('State').selectOption('failed');
  await node('wait_sql').click();
  await page.getByRole('group', { name: 'Item 1.1' }).getByLabel('Cycle').selectOption('hour');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved: ui_logic' }).waitFor();
  const tasks = Object.fromEntries((await specOf('ui_logic')).tasks.map((x) => [x.name, x]));
  const cases = tasks.route.cases.map((c) => `${c.when} -> ${c.then}`).join('; ');
  if (cases !== '${region} == "eu" -> eu; ${region} == "us" -> us') throw new Error(`cases: ${cases}`);
  if (tasks.check.conditions.groups[0].items[0].status !== 'failed') throw new Error(JSON.stringify(tasks.check.conditions));
  const item = tasks.wait_sql.groups[0].items[0];
  if (item.cycle !== 'hour' || item.date_value !== 'currentHour') throw new Error(JSON.stringify(item));
});

await step('a test run of the unsaved editor shows each result on its node', async () => {
  await page.goto(`${url}/#/edit/alices_sql`);
  await node('q').waitFor();
  await page.getByRole('button', { name: 'Test run' }).click();
  await node('q').locator('.task-test [data-state="succeeded"]').waitFor();
  const row = page.locator('.test-results tr[data-task="q"]');
  await row.waitFor();
  if (!(await row.innerText()).includes('[["1"]]')) throw new Error(`result: ${await row.innerText()}`);
  await shot('test-run');
  const axe = await new AxeBuilder({ page }).include('.panel').withTags(['wcag2a', 'wcag2aa']).analyze();
  const bad = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) throw new Error(`test run results: ${bad.map((v) => v.id).join(', ')}`);
});

await step('start it and watch every node turn succeeded', async () => {
  await page.goto(`${url}/#/workflows/ui_flow`);
  await page.getByRole('button', { name: 'Start' }).click();
  await page.getByRole('button', { name: 'Add parameter' }).click();
  await page.getByLabel('Name 1').fill('who');
  await page.getByLabel('Value 1').fill('the start form');
  await page.getByLabel('Failure strategy').selectOption('end');
  await shot('start-dialog');
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

await step('a dynamic task: one node with its progress, its elements a page at a time', async () => {
  await page.goto(`${url}/#/workflows/ui_fan`);
  await page.getByRole('button', { name: 'Start' }).click();
  await page.getByRole('button', { name: 'Run' }).click();
  await page.locator('h2 .badge[data-state="succeeded"]').waitFor({ timeout: 60000 });
  await page.locator('.react-flow__node').getByRole('img', { name: '3 / 3' }).waitFor();
  await page.getByRole('row', { name: /each/ }).getByRole('button', { name: 'Elements' }).click();
  await page.locator('.dialog.elements').getByRole('row').filter({ hasText: '{"f":"b"}' }).waitFor();
  await page.locator('.dialog.elements').scrollIntoViewIfNeeded();
  await shot('dynamic');
  await page.locator('.dialog.elements').getByRole('button', { name: '×' }).click();
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

await step('edit the schedule in place; a bad expression is refused on its field', async () => {
  await page.getByRole('link', { name: 'Schedules' }).click();
  const row = page.getByRole('row', { name: /ui_flow/ });
  await row.getByRole('button', { name: 'Edit' }).click();
  await page.fill('input[name=cron]', '0 99 4 * * ?');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('input[name=cron][aria-invalid=true]').waitFor();
  await page.fill('input[name=cron]', '0 45 4 * * ?');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('row', { name: /0 45 4 \* \* \?/ }).waitFor();
  await shot('schedules');
});

await step('triggers: lineage, a webhook made, shown once, disabled', async () => {
  await page.getByRole('link', { name: 'Triggers', exact: true }).click();
  await page.getByRole('img', { name: 'Lineage' }).waitFor();
  const lineage = await page.getByRole('img', { name: 'Lineage' }).textContent();
  if (!['ui_orders', 'dw.orders', 'ui_report'].every((w) => lineage.includes(w))) throw new Error(`lineage shows ${lineage}`);
  await page.getByLabel('Kind').selectOption('webhook');
  await page.getByLabel('Workflow', { exact: true }).fill('ui_report');
  await page.getByRole('button', { name: 'Create trigger' }).click();
  await page.locator('.dialog code.token', { hasText: 'whsec_' }).waitFor();
  const row = page.getByRole('row', { name: /webhook/ });
  await row.getByRole('button', { name: 'Disable' }).click();
  await row.getByRole('button', { name: 'Enable' }).waitFor();
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot('triggers');
});

await step('run a backfill and see its progress', async () => {
  await page.goto(`${url}/#/backfill/ui_flow`);
  await page.getByLabel('From', { exact: true }).fill('2024-03-01');
  await page.getByLabel('To', { exact: true }).fill('2024-03-03');
  await page.getByLabel('Mode').selectOption('parallel');
  // The engine's choices, its default first.
  const policies = await page.getByLabel('After a date fails').locator('option').allTextContents();
  if (policies.join() !== 'stop,continue') throw new Error(`on_failure offers ${policies}`);
  await page.getByLabel('After a date fails').selectOption('continue');
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

await step('runs: filters and pages come from the server', async () => {
  await page.getByRole('link', { name: 'Runs', exact: true }).click();
  await page.getByLabel('Workflow').fill('ui_flow');
  await page.getByLabel('Started as').selectOption('complement_data');
  await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 3);
  await page.getByLabel('Started as').selectOption('start_process');
  await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 1);
  await page.getByLabel('Started as').selectOption('');
  await page.getByRole('checkbox', { name: 'Select all on this page' }).check();
  await page.getByText('4 selected').waitFor();
  await shot('instances');
});

await step('task runs, filtered by task', async () => {
  await page.getByRole('link', { name: 'Task runs' }).click();
  await page.getByLabel('Task', { exact: true }).fill('shell_2');
  await page.waitForFunction(() => [...document.querySelectorAll('tbody tr')].length === 4
    && [...document.querySelectorAll('tbody tr')].every((r) => r.textContent.includes('shell_2')));
  await shot('task-instances');
});

await step('projects: the roles that own workflows, then one project\'s workflows', async () => {
  await page.getByRole('link', { name: 'Projects' }).click();
  await page.getByRole('row', { name: /alice/ }).click();
  await page.getByRole('heading', { name: 'Project: alice' }).waitFor();
  await page.getByRole('row', { name: /ui_flow/ }).getByRole('link', { name: 'Export YAML' }).waitFor();
  await shot('projects');
});

await step('a task group and an alert group, made in their forms', async () => {
  await page.getByRole('link', { name: 'Task groups' }).click();
  await page.fill('input[name=group-name]', 'etl_slots');
  await page.fill('input[name=group-size]', '2');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('row', { name: /etl_slots/ }).waitFor();
  await shot('task-groups');
  await page.getByRole('link', { name: 'Alert groups' }).click();
  await page.fill('input[name=alert-group-name]', 'oncall');
  await page.fill('input[name=channel-0-to]', 'not an address');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('alert').filter({ hasText: 'channels[0].to' }).waitFor();
  await page.fill('input[name=channel-0-to]', 'ops@example.com, dba@example.com');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('row', { name: /oncall/ }).waitFor();
  await shot('alert-groups');
  await page.getByRole('button', { name: 'Send a test oncall' }).click();
  await page.getByRole('status').filter({ hasText: /Test alert #\d+ queued to every channel of oncall/ }).waitFor();
  await page.getByRole('status').getByRole('link', { name: 'Alerts' }).click();
  await page.getByRole('row', { name: /test.*email.*ops@example\.com/ }).waitFor();
  await shot('alerts');
});

await step('an unknown run says so', async () => {
  await page.goto(`${url}/#/instances/999999`);
  await page.getByRole('alert').filter({ hasText: 'Not found' }).waitFor();
});

await step('home: charts and numbers of what ran', async () => {
  await page.getByRole('link', { name: 'Home' }).click();
  // The attempts' chart comes apart from the rest of the page, and both are drawn.
  await page.locator('.chart canvas').nth(1).waitFor();
  const attempts = await page.locator('.card').filter({ hasText: 'Task attempts in range' }).locator('.number').textContent();
  if (!(Number(attempts) > 0)) throw new Error(`attempts in range: ${attempts}`);
  await shot('home');
});

await step('an API token, shown once', async () => {
  await page.getByRole('link', { name: 'API tokens' }).click();
  await page.fill('input[name=token-name]', 'nightly-export');
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = await page.locator('code.token').textContent();
  if (!/^pgs_[0-9a-f]{64}$/.test(token)) throw new Error(`token ${token}`);
  await page.getByRole('row', { name: /nightly-export/ }).waitFor();
  await shot('tokens');
});

await step('workers: health, load and the groups they serve', async () => {
  await page.getByRole('link', { name: 'Workers' }).click();
  await page.getByRole('row', { name: /w1/ }).getByText('Healthy').waitFor();
  await page.getByRole('heading', { name: 'Worker groups' }).waitFor();
  await page.locator('table').nth(1).getByRole('row', { name: /default/ }).waitFor();
  await shot('workers');
});

await step('versions: side by side, and an old one made current again', async () => {
  await page.goto(`${url}/#/workflows/ui_flow`);
  await page.getByRole('button', { name: 'Diff 2' }).click();
  await page.locator('table.side-by-side tr[data-change="added"], table.side-by-side tr[data-change="changed"]').first().waitFor();
  await shot('versions');
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Make current 1' }).click();
  await page.getByRole('status').filter({ hasText: 'Version 1 saved as version 3.' }).waitFor();
  const task = (await specOf('ui_flow')).tasks.find((x) => x.name === 'shell_2');
  if (task.retries !== undefined || task.out !== undefined) throw new Error(`version 1 is not current: ${JSON.stringify(task)}`);
});

await step('a graph preview in the workflow list', async () => {
  await page.getByRole('link', { name: 'Workflows' }).click();
  await page.getByRole('row', { name: /ui_logic/ }).getByRole('button', { name: 'Graph preview' }).click();
  await page.locator('svg.dag-preview g[data-task="wait_sql"]').waitFor();
  if ((await page.locator('svg.dag-preview g').count()) !== 7) throw new Error('not 7 tasks drawn');
  await shot('workflow-preview');
});

await step('time to interactive: 1,000 tasks in the editor, a run of 10,000', async () => {
  let began = Date.now();
  await page.goto(`${url}/#/edit/ui_big`);
  await node('t999').waitFor({ state: 'attached' });
  const shown = Date.now() - began;
  began = Date.now();
  await node('t500').dispatchEvent('click');
  await page.locator('#field-name').waitFor();
  await page.fill('#field-description', 'edited at size');
  const edit = Date.now() - began;
  console.log(`measured: editor with 1000 tasks laid out and drawn in ${shown} ms; select a task and type in ${edit} ms`);
  await page.goto(`${url}/#/workflows/ui_huge`);
  await page.getByRole('button', { name: 'Start' }).click();
  await page.getByRole('button', { name: 'Run' }).click();
  await page.waitForURL(/#\/instances\/\d+/);
  const run = page.url();
  await page.goto(`${url}/#/home`);
  await page.getByRole('heading', { name: 'Home' }).waitFor();
  // Timed in the page, from the navigation to the first paint of each part, so that the
  // test's own polling (which waits while the page is busy) does not count.
  await page.evaluate(() => {
    window.opened = { at: performance.now() };
    const seen = (name, selector) => {
      if (!window.opened[name] && document.querySelector(selector)) {
        requestAnimationFrame(() => { window.opened[name] = performance.now() - window.opened.at; });
        window.opened[name] = -1;
      }
    };
    new MutationObserver(() => {
      seen('header', 'h2 .badge');
      seen('graph', '.react-flow__node');
      if (window.opened.header) seen('table', 'main table tbody tr');
    }).observe(document.body, { childList: true, subtree: true });
  });
  await page.goto(run);
  // Measured, not asserted: generous deadlines, so a loaded machine does not fail the walk.
  await page.locator('h2 .badge').waitFor({ timeout: 180000 });
  await page.locator('.react-flow__node').first().waitFor({ timeout: 180000 });
  await page.getByText('1–100 of 2000').first().waitFor({ timeout: 180000 });
  await page.waitForFunction(() => window.opened.header > 0 && window.opened.graph > 0 && window.opened.table > 0, null, { timeout: 180000 });
  const opened = await page.evaluate(() => window.opened);
  console.log(`measured: a run of 10000 tasks, its first window of 2000: header painted after ${Math.round(opened.header)} ms, tasks table ${Math.round(opened.table)} ms, graph ${Math.round(opened.graph)} ms`);
  // Shown a window of 2000 tasks at a time, in DAG order: t9999, of the last layer, is in the fifth.
  await page.getByText('here tasks 1 to 2000').waitFor();
  for (let shown = 2000; shown < 10000; shown += 2000) {
    await page.locator('.windows').getByRole('button', { name: 'Next' }).click();
    await page.getByText(`here tasks ${shown + 1} to ${shown + 2000}`).waitFor({ timeout: 60000 });
  }
  await page.getByText('1–100 of 2000').first().waitFor({ timeout: 60000 });
  await page.getByRole('textbox', { name: 'Find a task' }).fill('t9999');
  await page.getByRole('button', { name: 'Find', exact: true }).click();
  await page.locator('.react-flow__node.match').first().waitFor();
  await shot('instance-10000');
});

// Every page, in both languages: no serious accessibility violation (axe-core), and in
// Chinese no English word of the UI's own text left.
const pages = ['home', 'projects', 'projects/alice', 'workflows', 'workflows/ui_flow', 'edit/ui_flow', 'instances',
  'tasks', 'schedules', 'cron/ui_flow', 'backfill/ui_flow', 'workers', 'alerts', 'task-groups', 'alert-groups',
  'rights', 'tokens', 'triggers'];
async function audit(lang) {
  for (const p of pages) {
    await page.goto(`${url}/#/${p}`);
    await page.locator('main h2, main [role=alert]').first().waitFor();
    await page.waitForLoadState('networkidle');
    const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa']).analyze();
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    if (bad.length) {
      throw new Error(`${lang} #/${p}: ${bad.map((v) => `${v.id} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`).join('; ')}`);
    }
  }
}

await step('every page passes axe-core in English', () => audit('en'));

await step('Chinese UI text, complete', async () => {
  await page.getByRole('button', { name: '中文' }).click();
  await page.getByRole('link', { name: '工作流' }).waitFor();
  await page.goto(`${url}/#/workers`);
  await page.getByRole('heading', { name: 'Worker', exact: true }).waitFor();
  await shot('workers-zh');
  const missing = Object.keys(texts.en).filter((k) => !(k in texts.zh));
  if (missing.length) throw new Error(`untranslated: ${missing.join(', ')}`);
  const chinese = new Set(Object.values(texts.zh));
  const english = Object.values(texts.en)
    .filter((v) => typeof v === 'string' && /^[A-Z][a-z]+( [a-z]+)*$/.test(v) && v.length > 3 && !chinese.has(v));
  for (const p of pages) {
    await page.goto(`${url}/#/${p}`);
    await page.locator('main h2, main [role=alert]').first().waitFor();
    await page.waitForLoadState('networkidle');
    const shown = (await page.locator('header, main').allInnerTexts()).join('\n');
    const left = english.filter((w) => shown.split(/[\n\t]/).some((line) => line.trim() === w));
    if (left.length) throw new Error(`#/${p} still shows English: ${left.join(', ')}`);
  }
  await page.goto(`${url}/#/home`);
  await page.locator('.chart canvas').nth(1).waitFor();
  await shot('home-zh');
});

await step('every page passes axe-core in Chinese', () => audit('zh'));

await step('sign in as a sched_admin', async () => {
  await page.getByRole('button', { name: '退出' }).click();
  await page.fill('input[name=user]', process.env.ADMIN_USER);
  await page.fill('input[name=password]', process.env.ADMIN_PASSWORD);
  await page.click('button[type=submit]');
  await page.locator('header .who', { hasText: process.env.ADMIN_USER }).waitFor();
});

await step('a sched_admin sees every role\'s tokens', async () => {
  await page.goto(`${url}/#/tokens`);
  await page.locator('tbody tr', { hasText: 'nightly-export' }).filter({ hasText: 'alice' }).waitFor();
});

await step('a sched_admin sees every role\'s workflows', async () => {
  await page.goto(`${url}/#/workflows`);
  await page.getByRole('cell', { name: 'bobs_secret' }).waitFor();
});

await step('a sched_admin: every page passes axe-core in both languages', async () => {
  await audit('zh');
  await page.getByRole('button', { name: 'English' }).click();
  await page.getByRole('link', { name: 'Workflows' }).waitFor();
  await audit('en');
  await page.goto(`${url}/#/tokens`);
  await page.getByRole('row', { name: /nightly-export/ }).waitFor();
  await shot('tokens-admin');
  await page.goto(`${url}/#/rights`);
  await page.getByLabel('Kind').first().selectOption('worker_group');
  await page.fill('input[name=grant-role]', 'alice');
  await page.fill('input[name=grant-name]', 'etl');
  await page.getByRole('button', { name: 'Grant', exact: true }).click();
  await page.getByRole('row', { name: /Worker group.*etl.*alice/ }).waitFor();
  await shot('rights');
});

await browser.close();
console.log('all steps passed');
