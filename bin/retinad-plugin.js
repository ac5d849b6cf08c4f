#!/usr/bin/env node
// `retinad-plugin …`: the plugin author's tool (plugins-sdk/cli.ts), run through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../plugins-sdk/cli.ts');
