/**
 * The plugin manifest: what an algorithm package declares about itself (tables 14, 15, 20 in
 * the standard's words, plus what the host needs to run it safely). One schema, one type.
 */
import { ACCELERATOR_PREFERENCES, Arr, Int32, JsonObject, Obj, Opt, StrEnum, StrLt, StrMax, Type, type Static } from '../protocol/index.ts';

export { HOST_ABI_VERSION } from './abi.ts';

const Sha256 = () => Type.String({ pattern: '^[0-9a-f]{64}$' });
const RelPath = () => Type.String({ minLength: 1, maxLength: 200, pattern: '^files/[A-Za-z0-9._/-]+$' });

export const TensorDecl = Obj({
  name: StrMax(128, { minLength: 1 }),
  /** Dimensions; -1 (or a name) marks a dynamic one. */
  shape: Arr(Type.Union([Type.Integer({ minimum: -1 }), Type.String({ maxLength: 32 })]), { maxItems: 8 }),
  type: Type.Union([Type.Literal('float32'), Type.Literal('uint8'), Type.Literal('int64'), Type.Literal('int32')]),
});

export const ModelDecl = Obj({
  ModelID: Int32(),
  ModelVersion: StrLt(20, { minLength: 1 }),
  file: RelPath(),
  sha256: Sha256(),
  inputs: Arr(TensorDecl, { minItems: 1 }),
  outputs: Arr(TensorDecl, { minItems: 1 }),
  /** Runs on the frame tensor (default) or on each crop of the crop stage. */
  stage: Opt(Type.Union([Type.Literal('frame'), Type.Literal('crop')])),
});

/** How the host turns a frame into the plugin's input (native preprocess). */
export const InputDecl = Obj({
  width: Type.Integer({ minimum: 1, maximum: 8192 }),
  height: Type.Integer({ minimum: 1, maximum: 8192 }),
  resize: Opt(Type.Union([Type.Literal('letterbox'), Type.Literal('stretch')])),
  layout: Opt(Type.Union([Type.Literal('nchw'), Type.Literal('nhwc')])),
  dtype: Opt(Type.Union([Type.Literal('float32'), Type.Literal('uint8')])),
  channels: Opt(Type.Union([Type.Literal('rgb'), Type.Literal('bgr')])),
  mean: Opt(Arr(Type.Number(), { minItems: 3, maxItems: 3 })),
  std: Opt(Arr(Type.Number(), { minItems: 3, maxItems: 3 })),
  scale: Opt(Type.Number()),
  /** Letterbox fill, pixel value 0–255. */
  pad: Opt(Type.Integer({ minimum: 0, maximum: 255 })),
  /** Also hand the plugin the previous frame's input (stateless temporal plugins, e.g. motion). */
  previousFrame: Opt(Type.Boolean()),
  /**
   * false: the plugin's export gets a zero-length tensor at [0] — for plugins that read only
   * their models' outputs, which saves copying the input (4.9 MB at 640×640 float32) into WASM.
   */
  frameToPlugin: Opt(Type.Boolean()),
});

export const PluginManifest = Obj({
  abi: Type.Integer({ minimum: 1, maximum: 1000 }),
  AlgID: Int32({ minimum: 1 }),
  AlgType: StrLt(128, { minLength: 1 }),
  AlgVersion: StrLt(20, { minLength: 1, pattern: '^[0-9A-Za-z.+-]+$' }),
  TaskType: Opt(Int32({ minimum: 1, maximum: 10 })),
  Description: Opt(StrMax(512)),
  publisher: Obj({ name: StrMax(128, { minLength: 1 }) }),
  entry: Obj({ wasm: RelPath() }),
  models: Opt(Arr(ModelDecl, { maxItems: 16 })),
  input: InputDecl,
  /**
   * A second stage on regions the first one found (e.g. recognise the text in each detected
   * box): the host crops every ResultData.Boxes entry from the frame, preprocesses it as
   * `input`, runs the crop-stage models and calls `export`; its JSON is merged into the box.
   */
  cropStage: Opt(Obj({ input: InputDecl, export: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' }), maxCrops: Opt(Type.Integer({ minimum: 1, maximum: 256 })) })),
  /**
   * DEC2: the tiers a trained version of this package's network is cut for. The package's model
   * is a whole dense network (network-onnx.ts); when the scheduler publishes a trained version of
   * it, layers [from, to) also go out as the next version of AlgID — a package whose model is that
   * part, made to run on executors of DeviceType (0 device: features; 1 edge: recognition).
   */
  tierParts: Opt(Arr(Obj({
    AlgID: Int32({ minimum: 1 }),
    DeviceType: Type.Integer({ minimum: 0, maximum: 2 }),
    layers: Arr(Type.Integer({ minimum: 0, maximum: 8 }), { minItems: 2, maxItems: 2 }),
  }), { minItems: 1, maxItems: 4 })),
  /** JSON schema of AlgArgs (checked at dispatch). */
  algArgsSchema: Opt(JsonObject()),
  resources: Opt(Obj({
    memoryMB: Opt(Type.Integer({ minimum: 1, maximum: 1 << 20 })),
    threads: Opt(Type.Integer({ minimum: 1, maximum: 256 })),
    /**
     * Where the models would rather run (absent: cpu). A preference, not a requirement: what the
     * probe and the installed ONNX Runtime cannot give falls back to CPU, and says why (providers.ts).
     */
    accelerator: Opt(StrEnum(ACCELERATOR_PREFERENCES, 16)),
  })),
  limits: Obj({
    /** Cap of the plugin's linear memory, 64 KiB pages. */
    wasmMemoryPages: Type.Integer({ minimum: 1, maximum: 65536 }),
    /** A call that runs longer replaces its worker; the frame is reported with ExceptionCode 50. */
    callDeadlineMs: Type.Integer({ minimum: 1, maximum: 600_000 }),
    /** Largest output one call may return. */
    maxOutputBytes: Opt(Type.Integer({ minimum: 16, maximum: 64 << 20 })),
  }),
  files: Arr(Obj({ path: RelPath(), sha256: Sha256(), size: Type.Integer({ minimum: 0 }) }), { minItems: 1, maxItems: 256 }),
});
export type PluginManifest = Static<typeof PluginManifest>;
export type InputDecl = Static<typeof InputDecl>;
