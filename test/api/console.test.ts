/**
 * Issue 16 item 3: the console, driven in Debian's headless Chromium (puppeteer-core) against a
 * real scheduler and executor: it asks for a token, then shows the devices and their state, a
 * running task (a live HTTP stream that keeps it running) with its subtask graph and status
 * history, and the task's frames — and follows the task to its end when it is stopped, without
 * a reload. Screenshots are kept in test-artefacts/console/.
 */
import { mkdirSync, copyFileSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import puppeteer from 'puppeteer-core';
import { startCluster, waitFor } from '../helpers/cluster.ts';
import { clip, misbehavingServer } from '../helpers/media.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const ARTEFACTS = path.join(root, 'test-artefacts', 'console');

t.test('issue 16: the console shows devices, a task\'s states and graph, and its frames, live, in headless Chromium', async (t) => {
  const dir = t.testdir({});
  const video = clip(path.join(dir, 'v.ts'), { seconds: 20, size: '640x360' });
  // A live source: the first 40 % of the stream, then the camera goes quiet (the task keeps running).
  const live = await misbehavingServer(video, 'stall', Math.round(statSync(video).size * 0.4));
  const c = await startCluster(path.join(dir, 'c'), 1);
  const browser = await puppeteer.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking'] });
  t.teardown(async () => { await browser.close(); await c.stop(); live.close(); });
  mkdirSync(ARTEFACTS, { recursive: true });
  const S = c.scheduler.url;
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  // No data without a token: the page asks for one.
  await page.goto(`${S}/console`);
  await page.waitForSelector('#login:not([hidden])');
  t.equal((await c.client.send('GET', `${S}/System/TaskList`, undefined, { authorization: '' })).status, 401, 'the data behind it needs the token');

  const r = await c.client.send('POST', `${S}/System/TaskRequest/`, { TaskName: 'lobby camera', TaskType: 1,
    InitiationInfo: { DeviceID: 'ops', CustomInfo: { Inputs: [{ StreamURL: live.url }], AlgType: 'frame_extraction', TaskFrameRate: 2 } } });
  const taskId = (r.body as { TaskID: string }).TaskID;
  await waitFor('first results', async () => (((await c.client.send('GET', `${S}/System/TaskResult/${taskId}`)).body as { TaskResultList: unknown[] }).TaskResultList.length >= 3 ? true : undefined), 60_000);
  const control = (Control: number) => c.client.command(S, { CommandType: 'task_ops_control', DeviceID: 'ops', MessageBody: { OpsControlList: [{ DeviceID: 'sched', TaskID: taskId, Control }] } });

  await page.type('#token', c.token);
  await page.click('#go');
  await page.waitForSelector('#devices tr[data-device="edge-1"] td.on', { timeout: 15_000 });
  t.pass('edge-1 is listed online');
  await page.waitForFunction((id) => document.querySelector(`#tasks tr[data-task="${id}"]`)?.textContent?.includes('running'), { timeout: 15_000 }, taskId);
  t.pass('the task is listed, running');
  await page.waitForFunction(() => document.querySelectorAll('#results .res[data-drawn]').length >= 3, { timeout: 15_000 });
  const frames = await page.$$eval('#results .res canvas', (cs) => cs.map((el) => {
    const cv = el as HTMLCanvasElement;
    const px = cv.getContext('2d')!.getImageData(cv.width / 2, cv.height / 2, 1, 1).data;
    return { w: cv.width, h: cv.height, lit: px[0]! + px[1]! + px[2]! > 0 };
  }));
  t.ok(frames.length >= 3 && frames.every((f) => f.w === 640 && f.h === 360), `${frames.length} frames shown at their size`);
  t.ok(frames.some((f) => f.lit), 'and they are pictures, not empty canvases');
  t.match(await page.$eval('#graph', (e) => e.textContent ?? ''), /edge-1.*→ scheduler/, 'the subtask graph: on edge-1, results to the scheduler');
  t.match(await page.$eval('#history', (e) => e.textContent ?? ''), /queued[\s\S]*running/, 'the status history: queued, running');
  await page.screenshot({ path: path.join(ARTEFACTS, '1-running.png') });
  if (process.env.RETINAD_UPDATE_DOCS === '1') copyFileSync(path.join(ARTEFACTS, '1-running.png'), path.join(root, 'docs', 'console.png'));

  t.match(await control(1), { StatusCode: '0' }, 'stopped');
  await page.waitForFunction((id) => !document.querySelector(`#tasks tr[data-task="${id}"]`)?.textContent?.includes('running'), { timeout: 30_000 }, taskId);
  const final = ((await c.client.send('GET', `${S}/System/TaskInfo/${taskId}`)).body as { TaskInfo: { ExecutionStatus: number } }).TaskInfo.ExecutionStatus;
  const shown = await page.$eval(`#tasks tr[data-task="${taskId}"] .st`, (e) => e.textContent);
  t.equal(shown, ['done', 'running', 'paused', 'queued', 'failed'][final], `the page followed the stop to "${shown}" without a reload`);
  const count = await page.$eval('#rcount', (e) => Number((e.textContent ?? '').replace(/\D/g, '')));
  const stored = ((await c.client.send('GET', `${S}/System/TaskResult/${taskId}?limit=500`)).body as { TaskResultList: unknown[] }).TaskResultList.length;
  t.equal(count, stored, `every stored result counted on the page (${count})`);
  await page.screenshot({ path: path.join(ARTEFACTS, '2-stopped.png') });
  t.strictSame(errors, [], 'no script errors on the page');
});
