/** The command line's flags, as `parseArgs` reads them (src/cli.ts checks their values). */
import { parseArgs } from 'node:util';

/** Every flag the command line takes (node:util parseArgs, strict). */
const OPTIONS = {
  listen: { type: 'string' }, 'device-id': { type: 'string' }, 'data-dir': { type: 'string' }, scheduler: { type: 'string' },
  token: { type: 'string' }, advertise: { type: 'string' }, 'max-tasks': { type: 'string' }, 'device-type': { type: 'string' },
  longitude: { type: 'string' }, latitude: { type: 'string' }, keepalive: { type: 'string' }, 'max-retries': { type: 'string' },
  clip: { type: 'string' }, out: { type: 'string' }, from: { type: 'string' }, help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' },
  'token-file': { type: 'string' }, insecure: { type: 'boolean' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'tls-ca': { type: 'string' },
  'max-intake': { type: 'string' }, 'max-concurrent-tasks': { type: 'string' }, 'task-order': { type: 'string' }, 'max-results-per-task': { type: 'string' }, initiators: { type: 'string' }, 'mqtt-url': { type: 'string' }, 'mqtt-topic-prefix': { type: 'string' }, 'mqtt-password-file': { type: 'string' }, 'media-dir': { type: 'string', multiple: true }, 'package-dir': { type: 'string', multiple: true }, peer: { type: 'string', multiple: true }, 'allow-private-urls': { type: 'boolean' },
  'trusted-keys': { type: 'string' }, 'plugin-dev-mode': { type: 'boolean' }, 'plugin-workers': { type: 'string' }, 'plugin-threads': { type: 'string' }, 'plugin-max-batch': { type: 'string' }, 'plugin-max-memory': { type: 'string' },
  upstream: { type: 'string' }, 'upstream-approval': { type: 'boolean' }, 'upstream-advertise': { type: 'string' }, 'command-channel': { type: 'boolean' },
  store: { type: 'string' }, results: { type: 'string' }, 'lease-ttl': { type: 'string' }, 'etcd-data-dir': { type: 'string' }, 'etcd-name': { type: 'string' }, 'etcd-peer-url': { type: 'string' },
  config: { type: 'string' }, 'metrics-public': { type: 'boolean' }, quick: { type: 'boolean' }, plugin: { type: 'string' }, providers: { type: 'boolean' },
} as const;

/** Parses argv after the command; positionals only where the command takes them. */
export function parseFlags(args: string[], positionals: boolean) {
  return parseArgs({ args, strict: true, options: OPTIONS, allowPositionals: positionals });
}
export type Values = ReturnType<typeof parseFlags>['values'];
