/**
 * EE2, gradient exchange: an edge's change to the weights, whole or top-k, survives the wire and
 * added to the base gives the trained weights (whole) or keeps exactly the k largest changes
 * (sparse); every malformed delta is refused naming the field and the rule (generated).
 */
import t from 'tap';
import fc from 'fast-check';
import { applyDelta, deltaFromWire, deltaToWire, weightDelta } from '../../src/plugins/weight-delta.ts';
import { BlobError } from '../../src/plugins/train-blob.ts';
import type { ClassifierWeights } from '../../src/plugins/onnx-writer.ts';
import { FC_SEED } from '../helpers/seed.ts';

const head = (dim: number, classes: number, f: (i: number) => number): ClassifierWeights => ({
  dim, classes, weights: Float32Array.from({ length: dim * classes }, (_, i) => f(i)), bias: Float32Array.from({ length: classes }, (_, i) => f(dim * classes + i)),
});
const flat = (w: ClassifierWeights) => [...w.weights, ...w.bias];
const f32 = fc.float({ min: -100, max: 100, noNaN: true, noDefaultInfinity: true });

t.test('EE2: a whole change added to the base gives the trained weights; top-k keeps the k largest', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 2, max: 5 }), fc.array(f32, { minLength: 80, maxLength: 80 }), fc.array(f32, { minLength: 80, maxLength: 80 }),
    fc.double({ min: 0.01, max: 1, noNaN: true }), (dim, classes, a, b, share) => {
      const base = head(dim, classes, (i) => a[i]!), trained = head(dim, classes, (i) => b[i]!);
      const n = dim * classes + classes;
      // Whole: the base plus the change is the trained head, to float32 rounding.
      const whole = applyDelta(base, deltaFromWire('d', deltaToWire(weightDelta(base, trained)), dim, classes));
      flat(whole).forEach((v, i) => { if (Math.abs(v - flat(trained)[i]!) > 1e-3 * Math.max(1, Math.abs(flat(trained)[i]!))) throw new Error(`whole ${i}: ${v} vs ${flat(trained)[i]}`); });
      // Sparse: ceil(share·n) positions, each change at least as large as every one left out.
      const d = weightDelta(base, trained, share);
      const wire = deltaToWire(d);
      const back = deltaFromWire('d', wire, dim, classes);
      const k = share === 1 ? n : Math.max(1, Math.ceil(n * share));
      if (back.values.length !== k) throw new Error(`kept ${back.values.length}, want ${k}`);
      if (back.indices) {
        const kept = new Set(back.indices);
        const change = flat(trained).map((v, i) => Math.abs(Math.fround(v - flat(base)[i]!)));
        const minKept = Math.min(...[...kept].map((i) => change[i]!));
        const maxLeft = Math.max(-1, ...change.filter((_, i) => !kept.has(i)));
        if (maxLeft > minKept) throw new Error(`left out a change of ${maxLeft} while keeping ${minKept}`);
        const out = applyDelta(base, back);
        flat(out).forEach((v, i) => { const want = kept.has(i) ? flat(trained)[i]! : flat(base)[i]!; if (Math.abs(v - want) > 1e-3 * Math.max(1, Math.abs(want))) throw new Error(`sparse ${i}`); });
      }
    }), { seed: FC_SEED, numRuns: 200 });
  t.pass(`200 generated heads and shares (seed ${FC_SEED})`);
});

t.test('EE2: malformed deltas are refused, naming the field (generated)', async (t) => {
  const dim = 4, classes = 3, n = dim * classes + classes;
  const b64 = (a: ArrayLike<number>, T: typeof Float32Array | typeof Uint32Array) => Buffer.from(new T(Array.from(a)).buffer).toString('base64');
  const bad = fc.oneof(
    fc.constantFrom(null, 7, 'x', [], {}),
    fc.record({ Values: fc.integer() }),
    fc.record({ Values: fc.constant(b64(new Array(n - 1).fill(0), Float32Array)) }), // dense, one short
    fc.record({ Values: fc.constant(Buffer.from([1, 2, 3]).toString('base64')) }), // not whole float32s
    fc.record({ Values: fc.constant(b64([NaN, ...new Array(n - 1).fill(0)], Float32Array)) }),
    fc.integer({ min: 1, max: 5 }).map((k) => ({ Values: b64(new Array(k).fill(1), Float32Array), Indices: b64(new Array(k + 1).fill(0).map((_, i) => i), Uint32Array) })), // unpaired
    fc.integer({ min: n, max: 1e6 }).map((p) => ({ Values: b64([1], Float32Array), Indices: b64([p], Uint32Array) })), // past the head
    fc.integer({ min: 0, max: n - 1 }).map((p) => ({ Values: b64([1, 1], Float32Array), Indices: b64([p, p], Uint32Array) })), // repeated
    fc.record({ Values: fc.constant(b64([1], Float32Array)), Indices: fc.integer() }),
  );
  let refused = 0;
  fc.assert(fc.property(bad, (w) => {
    try {
      deltaFromWire('TrainedModel.Delta', w, dim, classes);
    } catch (err) {
      if (!(err instanceof BlobError) || !/^TrainedModel\.Delta/.test(err.message)) throw err;
      refused++;
      return;
    }
    throw new Error(`accepted ${JSON.stringify(w)}`);
  }), { seed: FC_SEED, numRuns: 300 });
  t.equal(refused, 300, 'every one of 300 generated malformed deltas refused with a BlobError naming TrainedModel.Delta');
});
