// Mutation testing of the executor's outbox (npm run mutation; docs/MUTATION.md).
import { config } from './shared.mjs';

export default config('outbox', ['src/runtime/outbox.ts'], ['test/runtime/outbox.test.ts']);
