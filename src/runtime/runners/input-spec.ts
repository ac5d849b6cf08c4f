/** A plugin's input declaration as the native preprocess takes it: checked once per task, not per frame. */
import type { InputDecl } from '../../plugins/manifest.ts';
import { preparePreprocessSpec, tensorBytes, type PreparedSpec } from '../media/preprocess-spec.ts';

export interface PreparedInput {
  spec: PreparedSpec;
  /** Bytes of one input tensor. */
  bytes: number;
}

/** Throws OptionError (the task fails with it) when the declaration is not a valid spec. */
export function preparedInput(i: InputDecl): PreparedInput {
  const spec = preparePreprocessSpec({ width: i.width, height: i.height, resize: i.resize, layout: i.layout, dtype: i.dtype, channels: i.channels,
    mean: i.mean as [number, number, number] | undefined, std: i.std as [number, number, number] | undefined, scale: i.scale, pad: i.pad });
  return { spec, bytes: tensorBytes(spec) };
}
