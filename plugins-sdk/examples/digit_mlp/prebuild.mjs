// Writes build/mlp.onnx: the whole untrained network (see initial.mjs).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeInitial } from './initial.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
writeInitial({ from: 0, to: 2 }, path.join(here, 'build', 'mlp.onnx'), { height: 20, width: 20 });
