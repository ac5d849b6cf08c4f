/**
 * Node arguments that run the CLIs: from source (src/*.ts through tsx), so tests exercise the
 * code beside them and never a dist/ that may be stale; or, under `npm test`, the compiled CLIs
 * it built from that source as it started (RETINAD_CHILD_CLI, .test-dist/cli.js: no loader to
 * start in each child). test/package.test.ts runs bin/ → dist/ instead, from an installed package.
 */
import path from 'node:path';

const src = path.resolve(import.meta.dirname, '..', '..', 'src');
const built = process.env.RETINAD_CHILD_CLI;
// Resolved here, so a child started from another working directory still finds the loader.
const tsx = import.meta.resolve('tsx');

/** `node ...retinad ARGS` runs `retinad ARGS`. */
export const retinad: readonly string[] = built ? [built] : ['--import', tsx, path.join(src, 'cli.ts')];

/** `node ...retinadPlugin ARGS` runs `retinad-plugin ARGS`. */
export const retinadPlugin: readonly string[] = built ? [path.join(path.dirname(built), 'plugin-cli.js')] : ['--import', tsx, path.join(src, 'plugin-cli.ts')];
