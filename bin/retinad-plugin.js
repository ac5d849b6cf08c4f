#!/usr/bin/env node
// `retinad-plugin …`: the plugin author's tool, compiled (src/plugin-cli.ts → dist/plugin-cli.js).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/plugin-cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('retinad-plugin: dist/ is missing; in a checkout run `npm run build` (npm ci does it)\n');
  process.exit(1);
}
await import(cli.href);
