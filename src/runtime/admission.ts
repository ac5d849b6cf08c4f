/**
 * EB2: whether this executor can run a dispatched task, and if not, why — in a message that
 * names the field, what is wrong with it and what is allowed. One set of checks for built-in
 * algorithms and plugins alike; only the algorithm's own arguments are checked its own way
 * (transcode options, or the plugin's AlgArgs schema).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { parseRetinaDateTime, type TaskDispatchInfo } from '../protocol/index.ts';
import type { LoadedPlugin } from '../plugins/registry.ts';
import { fusionArgs } from './runners/fusion.ts';
import type { AlgorithmEntry } from './algorithms.ts';
import type { AlgorithmCatalogue } from './catalogue.ts';
import type { ExecTask } from './exec-task.ts';
import { transcodeOptionsFromArgs } from './media/transcode.ts';
import { HOST_ALG_ARGS } from './task-update.ts';

const SUPPORTED_SCHEMES = /^(file|rtsp|rtsps|rtmp|http|https):/i;

export interface AdmissionOptions {
  catalogue: AlgorithmCatalogue;
  task(id: string): ExecTask | undefined;
}

export class Admission {
  /** Compiled AlgArgs schemas, by AlgID@AlgVersion (a package version never changes). */
  private readonly argsValidators = new Map<string, ValidateFunction>();

  constructor(private readonly o: AdmissionOptions) {}

  /** EB2: why this executor cannot run `t`, or null when it can. */
  check(t: TaskDispatchInfo, o: { updating?: boolean } = {}): string | null {
    // Table 20 types TaskFrameRate as a bare int; the frame sampler keeps 0 (every frame) to 1000 fps.
    const fps = t.InputInfo.TaskFrameRate;
    if (fps !== undefined && (fps < 0 || fps > 1000)) return `InputInfo.TaskFrameRate: must be 0 (every frame) to 1000 frames per second here (is ${fps})`;
    const { AlgID, AlgVersion } = t.AlgModelInfo;
    const found = this.o.catalogue.resolve(AlgID, AlgVersion);
    if (!found.ok) return `AlgModelInfo: ${found.problem}`;
    const builtin: AlgorithmEntry | undefined = found.run.builtin;
    const plugin: LoadedPlugin | undefined = found.run.plugin;
    const url = t.InputInfo.StreamURL;
    // A plugin stage may work on another task's results instead of a stream (EB4).
    const downstream = !!plugin && !url && (t.Dependencies?.length ?? 0) > 0;
    if (builtin?.kind === 'fusion') {
      // The fusion stage reads no stream: it is fed by the stages it depends on.
      if (!t.Dependencies?.length) return `Dependencies: ${builtin.AlgType} fuses the results of other subtasks and needs at least one`;
    } else if (!url && !downstream) {
      return plugin ? 'InputInfo.StreamURL: is required (or Dependencies, for a stage that works on another task\'s results)' : `InputInfo.StreamURL: is required for ${builtin!.AlgType}`;
    }
    if (downstream && !plugin!.manifest.cropStage) return `Dependencies: ${plugin!.manifest.AlgType} has no crop stage to run on upstream results`;
    if (url && !SUPPORTED_SCHEMES.test(url)) return `InputInfo.StreamURL: scheme of "${url.slice(0, 64)}" is not supported (file, rtsp, rtsps, rtmp, http, https)`;
    const models = modelsProblem(t, plugin);
    if (models) return models;
    const args = plugin ? this.pluginArgsProblem(plugin, t) : builtinArgsProblem(builtin!, t);
    if (args) return args;
    const existing = this.o.task(t.TaskID);
    if (existing && !existing.finished && !o.updating) return `TaskID: task "${t.TaskID}" already exists here with other work (algorithm, input or dependencies) and is not finished`;
    for (const w of t.ExecutionCond?.TimeRange ?? []) {
      const s = w.StartTime ? parseRetinaDateTime(w.StartTime) : -Infinity;
      const e = w.EndTime ? parseRetinaDateTime(w.EndTime) : Infinity;
      if (e <= s) return 'ExecutionCond.TimeRange: EndTime must be after StartTime';
    }
    return null;
  }

  /** The task's AlgArgs against the plugin's schema; the host's own arguments are not the plugin's to accept. */
  private pluginArgsProblem(p: LoadedPlugin, t: TaskDispatchInfo): string | null {
    const schema = p.manifest.algArgsSchema;
    if (!schema) return null;
    const key = `${p.manifest.AlgID}@${p.manifest.AlgVersion}`;
    let v = this.argsValidators.get(key);
    if (!v) {
      v = new Ajv({ allErrors: true, strict: false }).compile(schema);
      this.argsValidators.set(key, v);
    }
    const own = Object.fromEntries(Object.entries(t.InputInfo.AlgArgs ?? {}).filter(([k]) => !HOST_ALG_ARGS.has(k)));
    return v(own) ? null : `InputInfo.AlgArgs: ${(v.errors ?? []).map((e) => `${e.instancePath || '(args)'} ${e.message}`).join('; ')}`;
  }
}

/**
 * Table 20 ModelList: every model the dispatch names must be one this algorithm runs, at that
 * version (the scheduler fills it from the package; a mismatch means another build of the
 * algorithm than the one this executor holds).
 */
function modelsProblem(t: TaskDispatchInfo, plugin: LoadedPlugin | undefined): string | null {
  const wanted = t.AlgModelInfo.ModelList ?? [];
  if (!wanted.length) return null;
  const have = plugin?.manifest.models ?? [];
  for (const m of wanted) {
    const h = have.find((x) => x.ModelID === m.ModelID);
    if (!h) return `AlgModelInfo.ModelList: ModelID ${m.ModelID} is not a model of AlgID ${t.AlgModelInfo.AlgID} ${t.AlgModelInfo.AlgVersion} here (it runs ${have.length ? have.map((x) => `${x.ModelID} ${x.ModelVersion}`).join(', ') : 'no model'})`;
    if (h.ModelVersion !== m.ModelVersion) return `AlgModelInfo.ModelList: ModelID ${m.ModelID} is version ${h.ModelVersion} here, not ${m.ModelVersion}`;
  }
  return null;
}

/** A built-in algorithm's own arguments: transcoding options must make sense for its input. */
function builtinArgsProblem(alg: AlgorithmEntry, t: TaskDispatchInfo): string | null {
  if (alg.kind === 'fusion') { const a = fusionArgs(t.InputInfo.AlgArgs ?? {}); return typeof a === 'string' ? a : null; }
  if (alg.kind !== 'transcode') return null;
  try {
    transcodeOptionsFromArgs(t.InputInfo.StreamURL!, t.InputInfo.AlgArgs ?? {});
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
