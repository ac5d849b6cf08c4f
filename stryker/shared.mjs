// Settings the three mutation-testing configs share (`npm run mutation`; docs/MUTATION.md).
// Each target's config names only what it mutates and the test files that exercise it, so a
// mutant costs one short `scripts/test.mjs` run instead of the whole suite.
import { existsSync } from 'node:fs';

/**
 * The sandbox lives on tmpfs where there is one: the outbox tests write SQLite databases and
 * every delivery is a transaction, so on a real disk the fsyncs make one run of
 * test/runtime/outbox.test.ts take ~100 s instead of ~5 s. STRYKER_TMP overrides it.
 */
function tempDir(target) {
  if (process.env.STRYKER_TMP) return `${process.env.STRYKER_TMP}/${target}`;
  return existsSync('/dev/shm') ? `/dev/shm/retinad-stryker-${process.env.USER ?? 'user'}/${target}` : `.stryker-tmp/${target}`;
}

/**
 * @param {string} target  names the report file and the sandbox folder
 * @param {string[]} mutate  the files to mutate
 * @param {string[]} tests  the test files to run against each mutant
 * @returns {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export function config(target, mutate, tests) {
  return {
    mutate,
    testRunner: 'command',
    commandRunner: {
      // One pass only: the second pass rebuilds the FFmpeg-less addon and reruns media tests,
      // none of which touch these files. scripts/test.mjs exits 1 when any test fails or a file
      // crashes, 0 otherwise; that exit code is all the command runner reads.
      // --bail: a mutant is killed by its first failing test, so killed mutants cost less than a
      // full run; only survivors run everything.
      command: `RETINAD_TEST_SECOND_PASS=0 node scripts/test.mjs --bail ${tests.join(' ')}`,
    },
    // The command runner reports no per-test coverage, so every mutant runs the whole command.
    coverageAnalysis: 'off',
    // The sandbox is a copy of the checkout (node_modules symlinked). native/build is not in
    // Stryker's always-ignored list, so the addon scripts/test.mjs probes is copied with it; the
    // big folders no test here reads are left out to keep the copy quick.
    // (plugins-sdk stays: the scheduler tests load its example packages and keys.)
    ignorePatterns: ['/bench', '/docs', '/native/build-lite', '/native/src', '/data', '/.tap', '/scratch', '/dist'],
    tempDirName: tempDir(target),
    cleanTempDir: 'always',
    // Two workers at most: each runs tap with two jobs of its own, and the machines this runs on
    // are small. The machine is shared and its load varies, so a mutant counts as timed out only
    // well past the dry run's duration.
    concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 2),
    timeoutFactor: 2.5,
    timeoutMS: 30_000,
    dryRunTimeoutMinutes: 10,
    reporters: ['clear-text', 'json', 'progress'],
    jsonReporter: { fileName: `reports/mutation/${target}.json` },
    clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
    // Mutation testing measures the tests; it does not gate anything (see README).
    thresholds: { high: 90, low: 75, break: null },
  };
}
