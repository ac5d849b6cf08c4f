/**
 * ER1 / tables 4 and 7: the accelerator probe is absent-safe, the decode capacity is measured
 * once in 1080P@1FPS units and cached, and both reports stay valid against their schemas.
 */
import t from 'tap';
import path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { ResourceMonitor } from '../../src/runtime/resources.ts';
import { accelerators } from '../../src/runtime/accelerators.ts';
import { videoPerf } from '../../src/runtime/video-perf.ts';
import { nativeDecoding } from '../../src/runtime/media/native.ts';
import { parse, TotalResource, AvailableResource } from '../../src/protocol/index.ts';

t.test('ER1: the probe never throws and says why a device is missing', async (t) => {
  const a = accelerators();
  t.ok(a.probe, 'the probe ran (every build of the addon has it)');
  if (!a.probe) return;
  t.ok(a.probe.cpu.flags.length > 0, `CPU flags: ${a.probe.cpu.flags.join(' ')}`);
  for (const k of ['nvml', 'cuda'] as const) {
    const p = a.probe[k];
    t.ok(p.available || (typeof p.reason === 'string' && p.reason.length > 0), `${k}: ${p.available ? 'present' : p.reason}`);
  }
  t.type(a.probe.vaapi.renderNodes, Array);
});

if (nativeDecoding()) t.test('ER1 / 9.2: decode capacity is measured once, in 1080P@1FPS units, then read from the cache', async (t) => {
  const dir = t.testdir({});
  const first = await videoPerf(dir);
  t.ok(first.length >= 1, `formats: ${first.map((p) => `${p.FormatName} ${p.decode1080pFps} fps on ${p.backend}`).join(', ')}`);
  t.ok(first.every((p) => p.decode1080pFps > 1), 'positive figures');
  const second = await videoPerf(dir);
  t.strictSame(second, first, 'same figures');
  // Read from the cache, not measured again: figures planted in the cache file come back as they are.
  const file = path.join(dir, 'video-perf.json');
  const cached = JSON.parse(readFileSync(file, 'utf8')) as { key: string; codecs: Array<{ decode1080pFps: number }> };
  const planted = { ...cached, codecs: cached.codecs.map((c) => ({ ...c, decode1080pFps: 12345.6 })) };
  writeFileSync(file, JSON.stringify(planted));
  t.strictSame((await videoPerf(dir)).map((p) => p.decode1080pFps), first.map(() => 12345.6), 'from the cache');
  // A cache from another machine or build is not used (here: measuring is switched off, so nothing).
  writeFileSync(file, JSON.stringify({ ...planted, key: 'another CPU|1|0' }));
  const prev = process.env.RETINAD_SKIP_SELF_BENCH;
  process.env.RETINAD_SKIP_SELF_BENCH = '1';
  try { t.strictSame(await videoPerf(dir), [], "another machine's cache is ignored"); } finally { if (prev === undefined) delete process.env.RETINAD_SKIP_SELF_BENCH; else process.env.RETINAD_SKIP_SELF_BENCH = prev; }
  writeFileSync(file, JSON.stringify(cached));

  const m = new ResourceMonitor({ deviceId: 'e1', deviceType: '1', productType: 'retinad', dataDir: dir });
  const before = await m.total();
  t.notOk(before.ResourceInfo.VideoProcessResource, 'not blocked on the benchmark');
  let notified = false;
  await m.measureVideo(() => (notified = true));
  await new Promise((r) => setImmediate(r));
  t.ok(notified, 'the session is told when figures exist');
  const total = await m.total();
  const tp = parse(TotalResource, total);
  t.ok(tp.ok, `table 4 valid: ${tp.ok || tp.message}`);
  t.equal(total.ResourceInfo.VideoProcessResource?.[0]?.Decoding?.MaxPerf, first[0]?.decode1080pFps);
  const avail = await m.available();
  t.ok(parse(AvailableResource, avail).ok, 'table 7 valid');
  t.ok((avail.ResourceInfo.VideoProcessResource?.[0]?.AvailDecodePerf ?? -1) >= 0);
});
