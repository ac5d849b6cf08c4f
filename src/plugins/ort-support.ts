/**
 * What the installed ONNX Runtime can run on: one session per provider on a tiny model, once per
 * process. Asking the build (listSupportedBackends) is not enough: the npm package lists cuda
 * and tensorrt whether or not their shared libraries, CUDA and cuDNN are installed, and only
 * creating a session shows that they load.
 */
import './ort-env.ts';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../protocol/index.ts';
import { matmulModel } from './peak.ts';
import type { ProviderSupport } from './providers.ts';

let cached: Promise<ProviderSupport> | undefined;

/** The first line of an error, short enough for a log line and a status report. */
const firstLine = (err: unknown) => (String((err as Error)?.message ?? err).split('\n')[0] ?? '').slice(0, 200);

/** Tries each provider once (cached for the process); never rejects. */
export function providerSupport(): Promise<ProviderSupport> {
  cached ??= probe();
  return cached;
}

async function probe(): Promise<ProviderSupport> {
  const out = {} as ProviderSupport;
  let ort: typeof import('onnxruntime-node');
  try {
    ort = await import('onnxruntime-node');
  } catch (err) {
    for (const p of EXECUTION_PROVIDERS) out[p] = { ok: false, reason: `onnxruntime-node does not load: ${firstLine(err)}` };
    return out;
  }
  const listed = new Set(ort.listSupportedBackends?.().map((b) => b.name) ?? []);
  const model = matmulModel(2);
  for (const p of EXECUTION_PROVIDERS) out[p] = await tryProvider(ort, p, listed, model);
  return out;
}

async function tryProvider(ort: typeof import('onnxruntime-node'), p: ExecutionProvider, listed: ReadonlySet<string>, model: Uint8Array): Promise<{ ok: boolean; reason?: string }> {
  if (listed.size && !listed.has(p)) return { ok: false, reason: `not in this onnxruntime-node build (it has ${[...listed].join(', ')})` };
  try {
    // Severity 4 (fatal only): a provider that does not load is an expected answer here, not an error to print.
    const s = await ort.InferenceSession.create(model, { executionProviders: [p], logSeverityLevel: 4 });
    await s.release();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: firstLine(err) };
  }
}

/** The providers that loaded, CPU first. */
export function supportedProviders(s: ProviderSupport): ExecutionProvider[] {
  return EXECUTION_PROVIDERS.filter((p) => s[p].ok);
}
