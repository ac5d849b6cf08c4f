#!/usr/bin/env node
// Runs the TypeScript CLI directly (tsx's loader): no build step between a checkout and `npx retinad`.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
