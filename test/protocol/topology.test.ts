/** M2, M6: the condition a conditional stage waits for, judged over a result's ResultData. */
import t from 'tap';
import { conditionMet, type StageCondition } from '../../src/protocol/index.ts';

const motion = [{ ResultData: { Motion: true, Boxes: [{ Zone: 2, Text: '' }, { Zone: 1, Text: 'AB123' }] } }];
const still = [{ ResultData: { Motion: false, Boxes: [] } }];

t.test('M6: conditions over ResultData paths, arrays meaning "any element"', async (t) => {
  const c = (x: Partial<StageCondition>): StageCondition => ({ Field: 'Motion', Op: 'eq', ...x });
  t.ok(conditionMet(c({ Value: true }), motion), 'motion');
  t.notOk(conditionMet(c({ Value: true }), still), 'no motion');
  t.ok(conditionMet(c({ Field: 'Boxes.Zone', Value: 2 }), motion), 'motion in zone 2');
  t.notOk(conditionMet(c({ Field: 'Boxes.Zone', Value: 3 }), motion), 'not in zone 3');
  t.ok(conditionMet(c({ Field: 'Boxes.Text', Op: 'nonEmpty' }), motion), 'a plate was read (one box has text)');
  t.notOk(conditionMet(c({ Field: 'Boxes.Text', Op: 'nonEmpty' }), [{ ResultData: { Boxes: [{ Text: ' ' }] } }]), 'blank text is no plate');
  t.notOk(conditionMet(c({ Field: 'Boxes', Op: 'nonEmpty' }), still), 'an empty array reaches nothing');
  t.ok(conditionMet(c({ Field: 'Boxes', Op: 'exists' }), motion));
  t.ok(conditionMet(c({ Field: 'Boxes.Text', Op: 'contains', Value: '123' }), motion));
  t.ok(conditionMet(c({ Field: 'Boxes.Zone', Op: 'gte', Value: 2 }), motion));
  t.notOk(conditionMet(c({ Field: 'Boxes.Zone', Op: 'gt', Value: 2 }), motion));
  t.notOk(conditionMet(c({ Field: 'Motion', Op: 'gt', Value: 0 }), motion), 'a number comparison with a non-number never holds');
  t.notOk(conditionMet(c({ Value: true }), undefined), 'no AnalysisResult, no match');
});
