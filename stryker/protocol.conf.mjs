// Mutation testing of src/protocol/ (npm run mutation; docs/MUTATION.md).
import { config } from './shared.mjs';

// Restricted to the six files that decide what a message may contain: all of src/protocol/ is 581
// mutants, and at ~7-11 s a run of these four test files that is over an hour on the small
// machines this runs on. The rest (the other message schemas, built from the same helpers in
// fields.ts) can be added here when there is time: `--mutate 'src/protocol/**/*.ts'`.
const FILES = ['validate', 'fields', 'datetime', 'codes', 'task-request', 'command'];

export default config('protocol', FILES.map((f) => `src/protocol/${f}.ts`), [
  'test/protocol/messages.test.ts',
  'test/protocol/codecs.test.ts',
  'test/protocol/standard-tables.test.ts',
  'test/api/task-request-reply.test.ts',
]);
