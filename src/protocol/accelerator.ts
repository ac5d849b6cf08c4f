/**
 * Accelerators and execution providers in the project's words. Tables 4 and 7 give the whole box
 * (Chip, TotalComputeMemory, AvailableComputeMemory) and leave per-device detail to the vendor
 * (ExtendInfo: 厂商根据需要自定义返回其他资源信息); this is the shape our executors put there
 * (`ExtendInfo.Accelerators`, `ExtendInfo.ExecutionProviders`) and the scheduler's placement
 * reads. One schema for the writer and the reader, since they meet only through protocol/.
 */
import { Arr, Int32, Long, Obj, Opt, StrEnum, StrMax, type Static } from './fields.ts';

/** What a plugin manifest (`resources.accelerator`) or a task (Constraints.Accelerator) may ask for. */
export const ACCELERATOR_PREFERENCES = ['cpu', 'cuda', 'tensorrt', 'openvino', 'any'] as const;
export type AcceleratorPreference = (typeof ACCELERATOR_PREFERENCES)[number];

/** ONNX Runtime execution providers retinad knows how to choose (ONNX Runtime's own names). */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt', 'openvino'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

/** Kinds of device the probe can name: NVIDIA GPUs (NVML/CUDA), VA-API render nodes, NPUs (/dev/accel). */
export const ACCELERATOR_KINDS = ['gpu', 'vaapi', 'npu'] as const;

/**
 * One accelerator in ExtendInfo.Accelerators. In TotalResource it carries the Total* figures,
 * in AvailableResource the live ones (NVML, read at each report).
 */
export const AcceleratorInfo = Obj({
  /** The device index (CUDA/NVML index for a GPU; the node's order otherwise). */
  Index: Int32({ minimum: 0 }),
  Kind: StrEnum(ACCELERATOR_KINDS, 8),
  Name: StrMax(128),
  Uuid: Opt(StrMax(96)),
  /** Providers this executor's ONNX Runtime can run on this device (found by creating a session). */
  ExecutionProviders: Arr(StrEnum(EXECUTION_PROVIDERS, 16), { maxItems: 8 }),
  TotalMemoryMB: Opt(Long({ minimum: 0 })),
  /** Hardware decode engines (NVDEC) and the formats they decode. */
  DecodeEngines: Opt(Int32({ minimum: 0 })),
  DecodeFormats: Opt(Arr(StrMax(16), { maxItems: 16 })),
  AvailableMemoryMB: Opt(Long({ minimum: 0 })),
  /** Percent of the last sample period a kernel ran (NVML), 0–100. */
  UtilizationGpu: Opt(Int32({ minimum: 0, maximum: 100 })),
  /** Percent of the last sample period the decode engines were busy (NVML), 0–100. */
  UtilizationDecoder: Opt(Int32({ minimum: 0, maximum: 100 })),
  /** Hardware decode sessions this executor has open on the device now. */
  DecodeSessions: Opt(Int32({ minimum: 0 })),
});
export type AcceleratorInfo = Static<typeof AcceleratorInfo>;

/** ExtendInfo.Accelerators: every accelerator the executor found. */
export const AcceleratorList = Arr(AcceleratorInfo, { maxItems: 64 });
