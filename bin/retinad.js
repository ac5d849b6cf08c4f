#!/usr/bin/env node
// Runs the compiled CLI (src/cli.ts → dist/cli.js): plain Node, no TypeScript loader, so an
// installed package needs no devDependencies. `prepare` builds dist/ after `npm ci` and before `npm pack`.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('retinad: dist/ is missing; in a checkout run `npm run build` (npm ci does it)\n');
  process.exit(1);
}
await import(cli.href);
