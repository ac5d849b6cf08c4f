// ESLint 9 flat config: a small rule set, each rule here because it catches a real bug that
// `tsc --noEmit` does not. docs/CONTRIBUTING.md ("Linting: rules and why") explains them.
// `npm run lint` runs it; `npm test` runs it too, as one counted test.
import { readFileSync } from 'node:fs';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** .gitignore's patterns as flat-config ignores: what git does not track (builds, outputs) is not linted. */
function gitignored() {
  return readFileSync(new URL('.gitignore', import.meta.url), 'utf8').split('\n').map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negated = l.startsWith('!');
      const p = negated ? l.slice(1) : l;
      // As in git: a slash at the start or in the middle anchors the pattern at the root.
      const glob = p.startsWith('/') ? p.slice(1) : p.slice(0, -1).includes('/') ? p : `**/${p}`;
      return negated ? `!${glob}` : glob;
    });
}

/** devDependencies: absent where the package is installed with --omit=dev, so src/ must not import them. */
const DEV_ONLY = ['tap', 'fast-check', 'tsx', 'typescript', 'eslint', 'typescript-eslint', '@stryker-mutator/*'];

export default defineConfig(
  {
    ignores: [
      ...gitignored(),
      // AssemblyScript (the plugin SDK, its examples, the test fixture plugins), compiled by asc to
      // wasm: TypeScript syntax with other types and semantics, outside tsconfig.json.
      '**/assembly/',
    ],
  },

  // Rules that need no types: every JavaScript and TypeScript file.
  {
    files: ['**/*.{js,mjs,ts,mts}'],
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `==` converts types first ('' == 0, null == undefined); `x == null` is the one idiom kept.
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // A case that runs on into the next is almost always a missing break; say `// falls through` when it is meant.
      'no-fallthrough': 'error',
      // A `let` never assigned again reads as "this changes later"; const says it does not.
      'prefer-const': 'error',
      // return/throw in `finally` silently replaces the error or value of the try block.
      'no-unsafe-finally': 'error',
      // x === x is a NaN test written by mistake (use Number.isNaN) or a typo for another variable.
      'no-self-compare': 'error',
    },
  },

  // TypeScript: the rules that need the type checker (the same tsconfig.json as `tsc --noEmit`).
  {
    files: ['**/*.{ts,mts}'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      // A promise nobody awaits or catches: its rejection becomes an unhandledRejection that kills
      // the process, and the caller goes on before the work is done. Deliberate fire-and-forget is
      // written `void promise` with a comment saying why it is safe.
      '@typescript-eslint/no-floating-promises': ['error', {
        // tap queues t.test() subtests itself and awaits them in order; the promise it returns is for chaining only.
        allowForKnownSafeCalls: [{ from: 'package', package: '@tapjs/test', name: ['test', 'todo', 'skip', 'only'] }],
      }],
      // An async function where a plain callback is expected (an event handler, forEach, setTimeout):
      // nobody waits for it and its rejection is lost. Also `if (promise)`, which is always true.
      '@typescript-eslint/no-misused-promises': 'error',
      // `await` on something that is not a promise is a wrong belief about an API (it waits for nothing).
      '@typescript-eslint/await-thenable': 'error',
      // Throwing a string or a plain object loses the stack trace and breaks `err instanceof Error` handlers.
      '@typescript-eslint/only-throw-error': 'error',
      // Shows which imports load a module at run time: `type` ones are erased, and using such a name
      // as a value is a compile error, so a module loaded lazily on purpose (onnxruntime-node in the
      // sandbox worker) cannot be pulled in at startup by accident. Inline style, as the code has it.
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      // tsc already reports unused locals and parameters (noUnusedLocals, noUnusedParameters).
      'no-unused-vars': 'off',
    },
  },

  // The daemon itself: what ships.
  {
    files: ['src/**/*.ts'],
    rules: {
      // `any` switches the type checker off for everything it touches; at an exported API it
      // spreads to every caller. Use `unknown` and narrow, or a real type.
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-imports': ['error', {
        paths: DEV_ONLY.filter((p) => !p.includes('*')).map((name) => ({ name, message: 'a devDependency: not installed with the published package (npm install --omit=dev).' })),
        patterns: [
          { group: DEV_ONLY.filter((p) => p.includes('*')), message: 'a devDependency: not installed with the published package (npm install --omit=dev).' },
          { group: ['**/test/**'], message: 'test code (helpers, fixtures) is not part of the daemon and is not published.' },
        ],
      }],
    },
  },
);
