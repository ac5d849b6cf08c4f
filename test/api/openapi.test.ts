/**
 * Issue 16 item 4: `GET /openapi.json` is generated from the schemas the routes validate with;
 * it is a valid OpenAPI 3.1 document (checked by swagger-parser, not by us), it describes every
 * route the README lists, and it is public like `/System/Time`, while the routes stay guarded.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import SwaggerParser from '@apidevtools/swagger-parser';
import { createSchedulerServer } from '../../src/api/scheduler-server.ts';
import { createExecutorServer } from '../../src/api/executor-server.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { Executor } from '../../src/runtime/executor.ts';
import * as P from '../../src/protocol/index.ts';
import { TEST_EXECUTOR_OPTIONS } from '../helpers/nodes.ts';

const log = pino({ level: 'silent' });
const root = path.resolve(import.meta.dirname, '..', '..');

interface Doc { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }>> }

/**
 * `METHOD /path` pairs of the README's route table (`/Keepalive` after `/System/Register` means
 * `/System/Keepalive`), each with the role its row names (scheduler, executor or both).
 */
function readmeRoutes(): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = [];
  for (const line of readFileSync(path.join(root, 'README.md'), 'utf8').split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cell = line.split('|')[1] ?? '';
    const role = (line.split('|')[2] ?? '').trim();
    let method = '';
    let base = '';
    for (const m of cell.matchAll(/`(?:(GET|POST|PATCH) )?(\/[^`?]*)[^`]*`/g)) {
      if (m[1]) method = m[1];
      let p = (m[2] ?? '').replace(/\/$/, '');
      if (!p.startsWith('/System/')) p = base + p; else base = p.slice(0, p.lastIndexOf('/'));
      out.push([method, p, role]);
    }
  }
  return out;
}

t.test('issue 16: /openapi.json is valid OpenAPI 3.1, public, and describes every route the README lists', async (t) => {
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 1, log });
  const sApp = createSchedulerServer(s, { log, token: 'node-token' });
  const e = new Executor({ ...TEST_EXECUTOR_OPTIONS, deviceId: 'exec', dataDir: t.testdir({}), commandUrl: 'http://unused', log });
  const eApp = createExecutorServer(e, { log, token: 'node-token' });
  t.teardown(async () => { await sApp.close(); await eApp.close(); await s.close(); await e.close(); });

  const docs: Record<string, Doc> = {};
  for (const [role, app] of [['scheduler', sApp], ['executor', eApp]] as const) {
    const r = await app.inject({ method: 'GET', url: '/openapi.json' });
    t.equal(r.statusCode, 200, `${role}: served without a token`);
    const doc = r.json() as Doc;
    t.equal(doc.openapi, '3.1.0');
    // swagger-parser validates against the OpenAPI 3.1 meta-schema (it mutates: give it a copy).
    await t.resolves(SwaggerParser.validate(structuredClone(doc) as never), `${role}: the document validates as OpenAPI`);
    docs[role] = doc;
    t.equal((await app.inject({ method: 'GET', url: '/System/Command' })).statusCode, 401, `${role}: the routes it describes still need a token`);
    const page = await app.inject({ method: 'GET', url: '/docs/' });
    t.equal(page.statusCode, 200, `${role}: the docs page is served`);
    t.match(page.body, /<html/i);
  }
  const sched = docs.scheduler!;
  const exec = docs.executor!;
  const listed = readmeRoutes();
  t.ok(listed.length >= 12, `the README lists ${listed.length} routes`);
  for (const [method, p, role] of listed) {
    if (p === '/openapi.json' || p === '/docs') continue; // the description itself (checked above)
    const key = p.replace(/\{(\w+)\}/g, '{$1}');
    t.ok(['scheduler', 'executor', 'both'].includes(role), `${method} ${key}: the README names its role (${role})`);
    const where = role === 'both' ? [sched, exec] : role === 'executor' ? [exec] : [sched];
    for (const d of where) t.ok(d.paths[key]?.[method.toLowerCase()], `${method} ${key} is described`);
  }
  // The document's request schema is the one the route validates with: table 17's members, all of them.
  const taskRequest = sched.paths['/System/TaskRequest']?.post?.requestBody?.content['application/json']?.schema;
  t.strictSame(Object.keys(taskRequest?.properties ?? {}).sort(), Object.keys(P.TaskBasicInfo.properties).sort(), 'TaskRequest body = table 17');
  const keepalive = JSON.stringify(sched.paths['/System/Keepalive']);
  t.match(keepalive, /"x-maxBytes":20/, 'byte lengths are carried as x-maxBytes');
});
