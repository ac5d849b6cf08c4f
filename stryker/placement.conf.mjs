// Mutation testing of the scheduler's placement (npm run mutation; docs/MUTATION.md).
import { config } from './shared.mjs';

export default config('placement', ['src/scheduler/placement/**/*.ts'], [
  'test/scheduler/placement.test.ts',
  'test/scheduler/retries.test.ts',
]);
