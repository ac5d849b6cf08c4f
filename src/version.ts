/**
 * `retinad version [--json]`: what this installation is and what it will use — the package
 * version, the native addon's build (or why it did not load), the decoder backend `auto` picks
 * and why, and the accelerators the probe sees. Loads nothing heavier than the addon itself, so
 * it answers in well under a second and is safe to run on a busy edge server.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { nativeBuildInfo } from './runtime/backend.ts';
import { chooseBackend } from './runtime/media/frame-source.ts';
import { accelerators } from './runtime/accelerators.ts';
import type { NativeBuildInfo, ProbeResult } from './runtime/media/native.ts';
import type { ProviderSupport } from './plugins/providers.ts';

/** Everything `retinad version --json` prints. */
export interface VersionReport {
  name: string;
  version: string;
  node: { version: string; napi: number; platform: string; arch: string };
  addon: { loaded: true; build: NativeBuildInfo } | { loaded: false; reason: string };
  /** What `auto` resolves to; `override` is RETINAD_DECODER when set (it wins over `auto`). */
  decoder: { auto: string; reason: string; override?: string };
  accelerators: {
    gpus: Array<{ name: string; memoryMB?: number }>;
    driverVersion?: string;
    nvml: { available: boolean; reason?: string } | null;
    cuda: ProbeResult['cuda'] | null;
    vaapi: ProbeResult['vaapi'] | null;
    cpuFlags: string[];
    /** Why nothing was probed (the probe lives in the addon). */
    reason?: string;
  };
  /** With --providers: what the installed ONNX Runtime creates sessions with (plugins/ort-support.ts). */
  executionProviders?: ProviderSupport;
}

// package.json is one level above both src/ (from source) and dist/ (installed).
function packageJson(): { name: string; version: string } {
  return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
}

/** Gathers the report; never throws for a missing addon or driver, it says why instead. */
export function versionReport(): VersionReport {
  const pkg = packageJson();
  const n = nativeBuildInfo();
  let decoder: VersionReport['decoder'];
  try {
    const c = chooseBackend('auto');
    decoder = { auto: c.backend, reason: c.reason };
  } catch (err) {
    decoder = { auto: 'none', reason: (err as Error).message };
  }
  const override = process.env.RETINAD_DECODER;
  if (override) decoder.override = override;
  const acc = accelerators();
  const gpus = acc.probe?.nvml.available ? acc.probe.nvml.gpus ?? [] : [];
  return {
    name: pkg.name,
    version: pkg.version,
    node: { version: process.version, napi: Number(process.versions.napi), platform: process.platform, arch: os.arch() },
    addon: n.info ? { loaded: true, build: n.info } : { loaded: false, reason: n.error ?? 'unknown' },
    decoder,
    accelerators: {
      gpus: gpus.map((g) => ({ name: String(g.name ?? 'NVIDIA GPU'), ...(g.memoryTotalMB !== undefined ? { memoryMB: Number(g.memoryTotalMB) } : {}) })),
      ...(acc.driverVersion ? { driverVersion: acc.driverVersion } : {}),
      nvml: acc.probe ? { available: acc.probe.nvml.available, ...(acc.probe.nvml.reason ? { reason: acc.probe.nvml.reason } : {}) } : null,
      cuda: acc.probe?.cuda ?? null,
      vaapi: acc.probe?.vaapi ?? null,
      cpuFlags: acc.probe?.cpu.flags ?? [],
      ...(acc.probe ? {} : { reason: n.info ? 'the addon probe failed' : 'no native addon, so no probe' }),
    },
  };
}

/** The report as a few aligned lines for a person. */
export function formatVersion(r: VersionReport): string {
  const lines = [`${r.name} ${r.version}`];
  const row = (k: string, v: string) => lines.push(`${k.padEnd(13)}${v}`);
  row('node', `${r.node.version} (N-API ${r.node.napi}) ${r.node.platform}-${r.node.arch}`);
  if (r.addon.loaded) {
    const b = r.addon.build;
    row('addon', `loaded: retinad_native ${b.addonVersion}, N-API ${b.napiVersion}, compiler ${b.compiler}`);
    row('ffmpeg', b.ffmpeg ? `libavcodec ${b.ffmpeg.avcodec}, libavformat ${b.ffmpeg.avformat}, libavutil ${b.ffmpeg.avutil}, libswscale ${b.ffmpeg.swscale}` : 'not compiled in (no FFmpeg dev libraries at build time)');
  } else {
    row('addon', `not loaded: ${r.addon.reason}`);
  }
  row('decoder', `auto → ${r.decoder.auto} (${r.decoder.reason})${r.decoder.override ? `; RETINAD_DECODER=${r.decoder.override} overrides auto` : ''}`);
  const a = r.accelerators;
  if (a.reason) {
    row('accelerators', `not probed: ${a.reason}`);
  } else {
    row('gpu', a.gpus.length ? `${a.gpus.map((g) => `${g.name}${g.memoryMB ? ` ${g.memoryMB} MB` : ''}`).join(', ')}${a.driverVersion ? `, driver ${a.driverVersion}` : ''}` : a.nvml?.available ? 'none seen by NVML' : `none: NVML unavailable (${a.nvml?.reason ?? 'unknown'})`);
    const c = a.cuda;
    if (c) row('cuda', c.available ? `driver API ${c.driverApiVersion ?? '?'}, ${c.deviceCount ?? 0} device(s), NVDEC ${c.nvdec?.available ? (c.nvdec.codecs ?? []).map((x) => x.format).join(' ') || 'yes' : 'no'}, NVENC ${c.nvenc ? 'yes' : 'no'}` : `unavailable: ${c.reason ?? 'unknown'}`);
    const v = a.vaapi;
    if (v) row('vaapi', v.libva ? `libva, render nodes: ${v.renderNodes.join(' ') || 'none'}` : 'no libva');
    row('cpu', a.cpuFlags.join(' ') || 'no vector extensions reported');
  }
  const eps = r.executionProviders;
  if (eps) row('onnxruntime', Object.entries(eps).map(([p, s]) => (s.ok ? `${p} yes` : `${p} no (${s.reason ?? 'unknown'})`)).join('; '));
  return `${lines.join('\n')}\n`;
}

/** `retinad version [--json] [--providers]`; --providers loads ONNX Runtime (seconds, not milliseconds) to try its providers as the plugin pool does. */
export async function printVersion(json: boolean, providers = false): Promise<void> {
  const r = versionReport();
  if (providers) r.executionProviders = await (await import('./plugins/ort-support.ts')).providerSupport();
  process.stdout.write(json ? `${JSON.stringify(r, null, 2)}\n` : formatVersion(r));
}
