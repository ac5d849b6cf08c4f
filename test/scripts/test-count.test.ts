/**
 * The counter behind `npm test`'s closing line (scripts/tap-count.mjs), fed TAP recorded from
 * tap 21 `--reporter=tap` (YAML trimmed): nesting, skips with and without bodies, todo, an
 * uncaught error, a killed file, a file that failed to import, a bail-out and a cut stream.
 */
import t from 'tap';
import { TapCounter, closingLine, countTap, parsePoint } from '../../scripts/tap-count.mjs';

// Six files. a: nested leaves, skipped/todo subtests, an own assertion; b: an uncaught error
// (tap reports it twice); c: assertions only; d: only skipped subtests; e: killed by SIGKILL;
// f: failed to import.
const recorded = `TAP version 14
1..6
# Subtest: test/a.test.ts
    # Subtest: leaf pass
        ok 1 - should be equal
        ok 2 - should be equal
        1..2
    ok 1 - leaf pass # time=3.595ms
    
    ok 2 - skipped sub # SKIP no gpu here
    ok 3 - todo sub # TODO later
    # Subtest: nested
        # Subtest: inner a
            ok 1 - should be equal
            1..1
        ok 1 - inner a # time=2.216ms
        
        # Subtest: inner b fails
            not ok 1 - one is two
              ---
              compare: ===
              source: |
                t.test('inner b fails', async (t) => { t.equal(1, 2, 'one is two'); });
                not ok 9 - looks like TAP inside YAML
                # Subtest: also not a subtest
              ...
            
            1..1
        not ok 2 - inner b fails # time=14.95ms
          ---
          at:
            fileName: test/a.test.ts
          ...
        
        # Subtest: inner skip
            ok 1 - inside skip # SKIP
            1..1
        ok 3 - inner skip # time=1.107ms
        
        # Subtest: inner plan skip
            1..0 # nothing to do
        ok 4 - inner plan skip # SKIP nothing to do
        
        # Subtest: deeper
            # Subtest: deepest
                ok 1 - deep ok
                1..1
            ok 1 - deepest # time=1.185ms
            
            1..1
        ok 5 - deeper # time=4.138ms
        
        1..5
    not ok 4 - nested # time=29.854ms
    
    ok 5 - top-level assertion
    1..5
    # time=53.305ms
not ok 1 - test/a.test.ts # time=53.305ms
  ---
  externalID: test/a.test.ts
  exitCode: 1
  signal: null
  ...

# Subtest: test/b.test.ts
    # Subtest: before crash
        ok 1 - should be equal
        1..1
    ok 1 - before crash # time=3.807ms
    
    # Subtest: crashy
        not ok 1 - boom
          ---
          tapCaught: uncaughtException
          ...
        
        1..1
    not ok 2 - crashy # time=28.419ms
    
    not ok 3 - crashy # time=28.419ms
    
    1..3
    # time=1017.067ms
not ok 2 - test/b.test.ts # time=1017.067ms
  ---
  exitCode: 1
  signal: null
  ...

# Subtest: test/c.test.ts
    ok 1 - only
    ok 2 - assertions
    1..2
    # time=4.506ms
ok 3 - test/c.test.ts # time=4.506ms

# Subtest: test/d.test.ts
    ok 1 - all skipped a # SKIP needs chromium
    ok 2 - all skipped b # SKIP
    1..2
    # time=5.065ms
ok 4 - test/d.test.ts # time=5.065ms

# Subtest: test/e.test.ts
    # Subtest: first
        ok 1 - should be equal
        1..1
    ok 1 - first # time=3.793ms
    
    # test count(1) != plan(null)
not ok 5 - test/e.test.ts # time=967.781ms
  ---
  exitCode: null
  signal: SIGKILL
  ...

# Subtest: test/f.test.ts
    1..0 # no tests found
not ok 6 - test/f.test.ts # time=1097ms
  ---
  exitCode: 1
  signal: null
  ...

# No coverage generated
# { total: 17, pass: 8, fail: 3, todo: 1, skip: 5 }
# time=2927.021ms
`;

t.test('counts leaf subtests, skips with reasons, todos and crashed files', async (t) => {
  const c = countTap(recorded);
  // passed: leaf pass, inner a, deepest, a's own assertion, before crash, c (a leaf file), first
  t.equal(c.passed, 7);
  t.same([...c.failures].sort(byName), [
    { name: 'test/a.test.ts > nested > inner b fails', reason: 'one is two' },
    { name: 'test/b.test.ts > crashy', reason: 'boom' }, // not twice
    { name: 'test/e.test.ts', reason: 'signal SIGKILL' },
    { name: 'test/f.test.ts', reason: 'exitCode 1' },
  ].sort(byName), 'each failure once, crashes included');
  t.equal(c.failed, 4);
  t.same([...c.skips].sort(byName), [
    { name: 'test/a.test.ts > nested > inner plan skip', kind: 'skip', reason: 'nothing to do' },
    { name: 'test/a.test.ts > nested > inner skip > inside skip', kind: 'skip', reason: '' },
    { name: 'test/a.test.ts > skipped sub', kind: 'skip', reason: 'no gpu here' },
    { name: 'test/a.test.ts > todo sub', kind: 'todo', reason: 'later' },
    { name: 'test/d.test.ts > all skipped a', kind: 'skip', reason: 'needs chromium' },
    { name: 'test/d.test.ts > all skipped b', kind: 'skip', reason: '' },
  ]);
  t.equal(c.skipped, 6, 'a file whose subtests are all skipped counts as skipped, not passed');
  t.equal(c.bailOut, null);
  t.equal(closingLine(c), '7 passed, 4 failed, 6 skipped');
});

t.test('the same counts however the stream is cut into chunks', async (t) => {
  const whole = countTap(recorded);
  for (const size of [1, 7, 4096]) {
    const counter = new TapCounter();
    for (let i = 0; i < recorded.length; i += size) counter.write(recorded.slice(i, i + size));
    t.same(counter.end(), whole, `chunks of ${size}`);
  }
});

t.test('a bail-out leaves the running subtest without a result: a failure', async (t) => {
  const c = countTap(`TAP version 14
1..1
# Subtest: test/g.test.ts
    # Subtest: a
        ok 1 - should be equal
        1..1
    ok 1 - a # time=11.673ms
    
    # Subtest: bail
        Bail out! db is gone
Bail out! db is gone
# No coverage generated
Bail out! db is gone
`);
  t.equal(c.passed, 1);
  t.same(c.failures, [{ name: 'test/g.test.ts > bail', reason: 'no result: the run stopped inside it' }]);
  t.equal(c.bailOut, 'db is gone');
});

t.test('a bare bail-out with nothing failing still fails the run', async (t) => {
  const c = countTap('TAP version 14\n1..1\nBail out! out of disk\n');
  t.equal(c.failed, 1);
  t.match(c.failures[0], { name: '(bail out)', reason: 'out of disk' });
});

t.test('a runner that dies mid-stream: open subtests and the unmet plan fail', async (t) => {
  const cut = recorded.slice(0, recorded.indexOf('        # Subtest: deeper'));
  const c = countTap(cut);
  t.equal(c.passed, 2, 'leaf pass, inner a');
  t.ok(c.failures.some((f) => f.name === 'test/a.test.ts > nested > inner b fails'));
  t.equal(c.failures.length, 1, 'the cut subtests have a failure under them already');
  const c2 = countTap(recorded.slice(0, recorded.indexOf('# Subtest: test/e.test.ts')));
  t.equal(c2.failed, 2, 'a and b failures; the unmet plan adds nothing when failures exist');
  const empty = countTap('');
  t.same(empty.failures, [{ name: '(TAP stream)', reason: 'ended without a plan: the runner did not finish' }]);
  const onlyPlan = countTap('TAP version 14\n1..2\n# Subtest: test/x.test.ts\n    ok 1 - fine\n    1..1\nok 1 - test/x.test.ts\n');
  t.same(onlyPlan.failures, [{ name: '(TAP stream)', reason: 'planned 2 files, got results for 1' }]);
  t.equal(onlyPlan.passed, 1);
  const killed = countTap('TAP version 14\n1..1\n# Subtest: test/x.test.ts\n    # Subtest: slow\n        ok 1 - started\n');
  t.same(killed.failures, [{ name: 'test/x.test.ts > slow', reason: 'no result: the run stopped inside it' }]);
});

t.test('buffered subtests (`ok N - name {` … `}`) count like the others', async (t) => {
  const c = countTap(`TAP version 14
1..1
ok 1 - test/h.test.ts {
    ok 1 - one {
        ok 1 - fine
        1..1
    }
    not ok 2 - two {
        not ok 1 - broken
        1..1
    }
    ok 3 - three # SKIP later
    1..3
}
`);
  t.equal(c.passed, 1);
  t.same(c.failures, [{ name: 'test/h.test.ts > two', reason: 'broken' }]);
  t.same(c.skips, [{ name: 'test/h.test.ts > three', kind: 'skip', reason: 'later' }]);
});

t.test('test point lines', async (t) => {
  t.match(parsePoint('ok 4 - inner plan skip # SKIP nothing to do'), { ok: true, name: 'inner plan skip', directive: 'skip', reason: 'nothing to do' });
  t.match(parsePoint('not ok 3 - todo sub # TODO later'), { ok: false, directive: 'todo', reason: 'later' });
  t.match(parsePoint('ok 1 - issue \\#7 \\\\ fixed # time=3ms'), { ok: true, name: 'issue #7 \\ fixed', directive: null });
  t.match(parsePoint('ok 2 # skip'), { name: '', directive: 'skip', reason: '' });
  t.match(parsePoint('ok 1 - a subtest {'), { name: 'a subtest', buffered: true });
  t.equal(parsePoint('okay then'), null);
  t.equal(parsePoint('# Subtest: x'), null);
  t.equal(closingLine({ passed: 3, failed: 0, skipped: 0 }), '3 passed, 0 failed', 'no skipped part when none');
});

function byName(a: { name: string }, b: { name: string }): number {
  return a.name.localeCompare(b.name, 'en');
}
