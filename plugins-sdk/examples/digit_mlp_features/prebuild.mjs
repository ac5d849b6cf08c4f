// Writes build/features.onnx: layer 1 of the untrained digit network (see ../digit_mlp/initial.mjs).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeInitial } from '../digit_mlp/initial.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
writeInitial({ from: 0, to: 1 }, path.join(here, 'build', 'features.onnx'), { height: 20, width: 20 });
