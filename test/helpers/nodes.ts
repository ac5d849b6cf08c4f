/** In-process nodes for tests: an executor on a real HTTP port, and a peer that collects task_result bodies. */
import http from 'node:http';
import path from 'node:path';
import os from 'node:os';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { Executor, type ExecutorOptions } from '../../src/runtime/executor.ts';
import { createExecutorServer } from '../../src/api/executor-server.ts';

const root = path.resolve(import.meta.dirname, '..', '..');

/** Tests read clips and packages from the checkout and temp dirs, and talk over loopback. */
export const TEST_EXECUTOR_OPTIONS: Pick<ExecutorOptions, 'mediaDirs' | 'packageDirs' | 'allowPrivateUrls'> = {
  mediaDirs: [root, os.tmpdir()], packageDirs: [root, os.tmpdir()], allowPrivateUrls: true,
};

/** A node that accepts every command and keeps the task_result bodies it receives. */
export async function startPeer(): Promise<{ url: string; received: Array<Record<string, unknown>>; close(): void }> {
  const received: Array<Record<string, unknown>> = [];
  const srv = http.createServer((req, res) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => {
      const j = JSON.parse(s || '{}');
      if (j.CommandType === 'task_result') received.push(j.MessageBody);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ CommandType: j.CommandType, CommandIdx: j.CommandIdx, StatusCode: '0' }));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`, received, close: () => srv.close() };
}

/** An executor in this process, trusting the example publisher key (and any extra PEMs). */
export async function startExecutor(dir: string, deviceId: string, o: Partial<ExecutorOptions> & { trust?: string[] } = {}): Promise<{ ex: Executor; url: string; close(): Promise<void> }> {
  const keys = path.join(dir, deviceId, 'trusted-keys');
  mkdirSync(keys, { recursive: true });
  copyFileSync(path.join(root, 'plugins-sdk', 'examples', 'build', 'keys', 'publisher.pub'), path.join(keys, 'examples.pub'));
  (o.trust ?? []).forEach((pem, i) => writeFileSync(path.join(keys, `extra-${i}.pub`), pem));
  const log = pino({ level: 'silent' });
  const ex = new Executor({ deviceId, dataDir: path.join(dir, deviceId), commandUrl: 'http://unused', log, pluginWorkers: 2, ...TEST_EXECUTOR_OPTIONS, ...o });
  const app = createExecutorServer(ex, { log });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { ex, url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, close: async () => { await ex.close(); await app.close(); } };
}
