/**
 * Updating a package while a task runs it: new tasks get the new version; the running task keeps
 * the version it was dispatched with to its end (it is not switched at a frame boundary: its
 * TaskDispatchInfo names the version, and results must say truthfully which one produced them).
 */
import t from 'tap';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RetinaClient } from '../../src/net/client.ts';
import { parse, AlgorithmResQueryReply } from '../../src/protocol/index.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { waitFor } from '../helpers/cluster.ts';
import { fixtureManifest, fixtureWasm, testKeys } from '../helpers/plugins.ts';
import { buildPackage } from '../../src/plugins/package-file.ts';
import type { PluginManifest } from '../../src/plugins/manifest.ts';
import { startExecutor, startPeer } from '../helpers/nodes.ts';

/**
 * The echo fixture writes the literal "VERSION" (a UTF-16 string in its data segment) into every
 * result; each package gets its own 7-character marker there, so the two versions' code differs
 * and a result shows which code produced it — not only which version the host says it ran.
 */
function echoPackage(version: string, marker: string): Buffer {
  const wasm = Buffer.from(fixtureWasm('echo'));
  const at = wasm.indexOf(Buffer.from('VERSION', 'utf16le'));
  if (at < 0 || marker.length !== 7) throw new Error('echo fixture has no "VERSION" marker to replace');
  Buffer.from(marker, 'utf16le').copy(wasm, at);
  const m = { ...fixtureManifest('echo'), AlgVersion: version } as Omit<PluginManifest, 'files'>;
  return buildPackage(m, new Map([['files/plugin.wasm', wasm]]), testKeys.privatePem);
}

const codeOf = (r: Record<string, unknown>) => ((r.TaskResultData as { AnalysisResult?: Array<{ ResultData?: { Version?: string } }> } | undefined)?.AnalysisResult?.[0]?.ResultData?.Version);

t.test('a running task keeps its version across an update', async (t) => {
  const dir = t.testdir({});
  const src = await slowSource(path.join(dir, 'slow.ts'), 6);
  const peer = await startPeer();
  const { ex, url, close } = await startExecutor(dir, 'edge-u', { trust: [testKeys.publicPem] });
  const client = new RetinaClient({ senderId: 'sched' });
  t.teardown(async () => { await close(); await client.close(); peer.close(); src.close(); });
  t.equal((await ex.plugins.install(echoPackage('1.0.0', 'code100'))).active, '1.0.0');
  const dispatch = (id: string, version: string, url0 = src.url) => client.command(url, { CommandType: 'task_dispatch', DeviceID: 'edge-u', MessageBody: { TaskDispatchList: [{
    TaskID: id, TaskAttr: 0, AlgModelInfo: { AlgID: 9001, AlgVersion: version }, InputInfo: { StreamURL: url0, TaskFrameRate: 5 }, DstDeviceList: [{ DeviceID: 'peer', OutputURL: peer.url }] }] } });
  t.equal((await dispatch('u-1', '1.0.0')).StatusCode, '0');
  await waitFor('first results', async () => (peer.received.filter((r) => r.TaskID === 'u-1').length >= 3 ? true : undefined), 20_000);
  const upd = await ex.plugins.install(echoPackage('1.1.0', 'code110'));
  t.equal(upd.active, '1.1.0', 'new tasks now get 1.1.0');
  const q = parse(AlgorithmResQueryReply, await client.command(url, { CommandType: 'algorithm_res_query', MessageBody: {} }));
  const infos = q.ok ? (q.value.AlgResourceList[0]?.AlgInfoList ?? []).filter((a) => a.AlgID === 9001) : [];
  t.strictSame(infos.map((a) => [a.AlgVersion, a.AlgStatus]), [['1.0.0', 0], ['1.1.0', 1]], 'both listed: 1.0.0 in use, 1.1.0 unused');
  await waitFor('task end', async () => (ex.taskStatus('u-1')?.ExecutionStatus === 0 ? true : undefined), 30_000);
  const versions = new Set(peer.received.filter((r) => r.TaskID === 'u-1').map((r) => r.AlgVersion));
  t.strictSame([...versions], ['1.0.0'], `every result of the running task came from 1.0.0 (${peer.received.filter((r) => r.TaskID === 'u-1').length} results)`);
  const codes = peer.received.filter((r) => r.TaskID === 'u-1').map(codeOf);
  t.strictSame([...new Set(codes)], ['code100'], `and 1.0.0's code produced every one, before and after the update (${codes.length} results)`);
  const video = (await import('../helpers/media.ts')).clip(path.join(dir, 'c.mp4'), { seconds: 1 });
  t.equal((await dispatch('u-2', '1.1.0', pathToFileURL(video).href)).StatusCode, '0');
  await waitFor('new task', async () => (peer.received.some((r) => r.TaskID === 'u-2') ? true : undefined), 20_000);
  t.equal(peer.received.find((r) => r.TaskID === 'u-2')?.AlgVersion, '1.1.0', 'a new task runs the new version');
  t.equal(codeOf(peer.received.find((r) => r.TaskID === 'u-2')!), 'code110', "with 1.1.0's code");
});
