/** EC5: the edge's sample store is bounded (the oldest go first), survives a restart, and refuses bad set names. */
import t from 'tap';
import { SampleStore } from '../../src/runtime/sample-store.ts';
import { decodeSamples } from '../../src/plugins/train-blob.ts';

t.test('EC5: a sample set keeps at most maxPerSet samples, the newest, on disk across a restart', async (t) => {
  const dir = t.testdir({});
  const s = new SampleStore(dir, 3);
  for (let i = 0; i < 5; i++) s.add('hard', Float32Array.from([i / 10, 0]), i % 2, 2);
  t.equal(s.count('hard'), 3, 'bounded at 3');
  const back = decodeSamples(new SampleStore(dir, 3).read('hard')!.bytes);
  t.strictSame(Array.from(back.features.filter((_, i) => i % 2 === 0)).map((x) => Math.round(x * 10)), [2, 3, 4], 'the three newest, read back by a new store');
  t.strictSame(Array.from(back.labels), [0, 1, 0]);
  t.throws(() => s.add('../etc', new Float32Array(2), 0, 2), /sample set "\.\.\/etc": letters, digits, _ and - only/);
  t.throws(() => s.add('hard', new Float32Array(3), 0, 2), /3 features, the set holds 2/);
  t.equal(s.read('none'), undefined);
});
