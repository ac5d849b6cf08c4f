/**
 * Node arguments that run the CLIs from source (src/*.ts through tsx): tests exercise the code
 * beside them, never a dist/ that may be stale. test/package.test.ts runs bin/ → dist/ instead,
 * from an installed package.
 */
import path from 'node:path';

const src = path.resolve(import.meta.dirname, '..', '..', 'src');
// Resolved here, so a child started from another working directory still finds the loader.
const tsx = import.meta.resolve('tsx');

/** `node ...retinad ARGS` runs `retinad ARGS`. */
export const retinad: readonly string[] = ['--import', tsx, path.join(src, 'cli.ts')];

/** `node ...retinadPlugin ARGS` runs `retinad-plugin ARGS`. */
export const retinadPlugin: readonly string[] = ['--import', tsx, path.join(src, 'plugin-cli.ts')];
