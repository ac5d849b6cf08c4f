// Writes build/head.onnx: layer 2 of the untrained digit network (see ../digit_mlp/initial.mjs),
// reading the 64 features as an 8×8 frame (a sample set's rows are frames).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeInitial } from '../digit_mlp/initial.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
writeInitial({ from: 1, to: 2 }, path.join(here, 'build', 'head.onnx'), { height: 8, width: 8 });
