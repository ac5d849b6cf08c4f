/**
 * A role started as a child gets the parent's Node flags but not the modules the parent preloads
 * (a test runner's mocks and process tracking, an instrumentation hook given to the parent): those
 * would run again, on every import, in each child. A CLI run from source gets tsx's loader instead.
 */
import t from 'tap';
import { childExecArgv } from '../src/child-role.ts';

t.test('preloads are dropped in every spelling; other flags are kept; a .ts CLI gets tsx', async (t) => {
  const argv = ['--import=file:///x/mock.mjs', '--enable-source-maps', '--import', 'file:///x/processinfo.mjs', '--max-semi-space-size=32',
    '--require', './otel.cjs', '-r', 'x.cjs', '--loader', 'y.mjs', '--experimental-loader=z.mjs', '--require=w.cjs', '--stack-size=2000'];
  const source = '/x/src/cli.ts';
  const out = childExecArgv(argv, source);
  const tsx = import.meta.resolve('tsx');
  t.strictSame(out, ['--enable-source-maps', '--max-semi-space-size=32', '--stack-size=2000', '--import', tsx], 'flags kept in order, then tsx (a CLI run from source)');
  t.strictSame(childExecArgv([], source), ['--import', tsx], 'no flags: only the loader');
  t.strictSame(childExecArgv(['--import', tsx], source), ['--import', tsx], 'tsx given by the parent is not doubled');
  t.strictSame(childExecArgv(argv, '/x/dist/cli.js'), ['--enable-source-maps', '--max-semi-space-size=32', '--stack-size=2000'], 'a compiled CLI runs on plain Node: no loader');
});
