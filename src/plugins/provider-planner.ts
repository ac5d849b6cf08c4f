/**
 * The pool's memory of where each installed model runs: chosen once per model (providers.ts, from
 * the manifest, the probe and ort-support.ts), then corrected by what the worker really did (a
 * session can still fail on a provider that loads, e.g. an operator it lacks). Logs each model's
 * provider once, with the reason when it is not what the manifest asked for.
 */
import type { Logger } from '../log.ts';
import type { AcceleratorPreference } from '../protocol/index.ts';
import type { LoadedPlugin } from './loaded-plugin.ts';
import { chooseProvider, providerLabel, type HostAccelerators, type ProviderChoice, type ProviderSupport } from './providers.ts';
import type { ProviderUse } from './worker-task.ts';

export class ProviderPlanner {
  private readonly chosen = new Map<string, ProviderChoice>(); // model path → choice
  private readonly used = new Map<string, ProviderUse>(); // model path → what ran, with why
  /** Models placed per GPU, so several GPUs share the models. */
  private readonly assigned = new Map<number, number>();
  private support: Promise<ProviderSupport> | undefined;

  constructor(private readonly host: HostAccelerators, private readonly probe: () => Promise<ProviderSupport>, private readonly log?: Logger) {}

  /** The choice for every model of `p` (made once per model). */
  async plan(p: LoadedPlugin): Promise<ReadonlyMap<string, ProviderChoice>> {
    const todo = p.models.filter((m) => !this.chosen.has(m.path));
    if (todo.length) {
      this.support ??= this.probe();
      const support = await this.support;
      const pref: AcceleratorPreference = p.manifest.resources?.accelerator ?? 'cpu';
      for (const m of todo) {
        if (this.chosen.has(m.path)) continue; // another call chose it while this one waited
        const c = chooseProvider(pref, this.host, support, this.assigned);
        if (c.deviceId !== undefined) this.assigned.set(c.deviceId, (this.assigned.get(c.deviceId) ?? 0) + 1);
        this.chosen.set(m.path, c);
      }
    }
    return new Map(p.models.map((m) => [m.path, this.chosen.get(m.path)!]));
  }

  /** Completes the worker's report (one use per model path in `sent`) with what was asked and why, and logs a model's provider the first time (or when it changes). */
  record(p: LoadedPlugin, sent: readonly string[], uses: readonly ProviderUse[]): ProviderUse[] {
    // The worker answers in the order the models were sent.
    return uses.map((u, i) => {
      const m = p.models.find((x) => x.path === sent[i]);
      const c = m && this.chosen.get(m.path);
      const requested = c?.requested ?? p.manifest.resources?.accelerator ?? 'cpu';
      const asChosen = !c || (c.provider === u.provider && c.deviceId === u.deviceId);
      const reason = asChosen ? c?.reason ?? 'as asked' : `${c.reason}; the session failed (${u.fallbacks.join('; ')}), running on ${providerLabel(u)}`;
      const full: ProviderUse = { ...u, ...(m ? { ModelID: m.ModelID } : {}), requested, reason };
      if (m) this.remember(p, m.path, full);
      return full;
    });
  }

  private remember(p: LoadedPlugin, path: string, u: ProviderUse): void {
    const before = this.used.get(path);
    this.used.set(path, u);
    if (before && before.provider === u.provider && before.deviceId === u.deviceId) return;
    const fields = { AlgID: p.manifest.AlgID, AlgVersion: p.manifest.AlgVersion, ModelID: u.ModelID, model: u.model, requested: u.requested, provider: providerLabel(u), reason: u.reason };
    // Asked for an accelerator and did not get one: an operator wants to hear of it.
    const fellBack = u.requested !== 'cpu' && u.requested !== 'any' && u.provider === 'cpu';
    if (fellBack) this.log?.warn(fields, `model ${u.model} asks for ${u.requested}, runs on cpu: ${u.reason}`);
    else this.log?.info(fields, `model ${u.model} runs on ${providerLabel(u)}`);
  }

  /** What each model of `p` ran on (or, before its first call, what was chosen), by model path. */
  current(p: LoadedPlugin): ProviderUse[] {
    const out: ProviderUse[] = [];
    for (const m of p.models) {
      const u = this.used.get(m.path);
      const c = this.chosen.get(m.path);
      if (u) out.push(u);
      else if (c) out.push({ model: m.path.split('/').pop() ?? m.path, ModelID: m.ModelID, provider: c.provider, ...(c.deviceId !== undefined ? { deviceId: c.deviceId } : {}), fallbacks: [], requested: c.requested, reason: c.reason });
    }
    return out;
  }
}
