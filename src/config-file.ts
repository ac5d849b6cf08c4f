/**
 * `--config FILE`: the roles' flags as a YAML or JSON file, one section per role. Keys are the
 * flags' names in camelCase (`--max-tasks` → `maxTasks`); a flag given on the command line wins
 * over the file. The file is checked against a TypeBox schema, and every bad key or value is
 * named by its path (`config: executor.maxTasks: must be an integer 1..1024`).
 */
import { readFileSync, statSync } from 'node:fs';
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';

const str = (description: string) => Type.String({ minLength: 1, description });
const int = (minimum: number, maximum: number, description: string) => Type.Integer({ minimum, maximum, description });
const bool = (description: string) => Type.Boolean({ description });
const list = (description: string) => Type.Array(Type.String({ minLength: 1 }), { description });
/** n10,6 coordinates: YAML reads 116.397128 as a number, so both forms are taken. */
const coord = (description: string) => Type.Union([Type.String(), Type.Number()], { description });

/** Flags both roles take. */
const COMMON = {
  listen: str('HOST:PORT to listen on'),
  dataDir: str('data directory'),
  token: str('node token (prefer tokenFile)'),
  tokenFile: str('file holding the node token (mode 600)'),
  advertise: str('URL peers use to reach this node'),
  deviceId: str('DeviceID'),
  trustedKeys: str('directory of trusted publisher keys'),
  pluginDevMode: bool('accept unsigned plugin packages'),
  tlsCert: str('PEM certificate to serve HTTPS'),
  tlsKey: str('PEM private key to serve HTTPS'),
  tlsCa: str('PEM CA to verify peers'),
  insecure: bool('allow an open API beyond loopback'),
  metricsPublic: bool('serve /metrics without the token'),
  allowPrivateUrls: bool('let URLs point at loopback and this node\'s own addresses'),
};

export const ExecutorConfig = Type.Object({
  ...COMMON,
  // One URL, "A,B", or a list: the scheduler's replicas in the order they are tried.
  scheduler: Type.Union([str('scheduler URL'), list('scheduler replicas\' URLs, tried in order')], { description: 'scheduler URL, or its replicas\' URLs' }),
  commandChannel: bool('NAT: receive the scheduler\'s commands over a WebSocket too'),
  maxTasks: int(1, 1024, 'tasks running at once'),
  deviceType: int(0, 2, 'DeviceType 0|1|2'),
  longitude: coord('n10,6 longitude'),
  latitude: coord('n10,6 latitude'),
  pluginWorkers: int(1, 256, 'plugin worker threads'),
  pluginThreads: int(1, 256, 'ONNX intra-op threads per worker'),
  pluginMaxBatch: int(1, 64, 'most frames per inference'),
  pluginMaxMemory: int(1, 4096, 'cap on one plugin\'s memory, MiB'),
  // Repeatable flags are lists here, named like their flag (--media-dir → mediaDir).
  mediaDir: list('directories file:// sources may be read from'),
  packageDir: list('directories file:// packages may be read from'),
  peer: list('executors trusted with the node token'),
}, { additionalProperties: false });

export const SchedulerConfig = Type.Object({
  ...COMMON,
  keepalive: int(1, 3600, 'KeepaliveInterval, seconds'),
  maxRetries: int(0, 100, 'SB10 re-dispatches'),
  maxIntake: int(1, 100_000, 'TaskRequests in flight before 503'),
  maxResultsPerTask: int(1, 1_000_000_000, 'results kept per task'),
  maxConcurrentTasks: int(1, 1_000_000, 'SB5 tasks running at once (default: no limit)'),
  taskOrder: str('order waiting tasks start in: priority, ageing, round-robin, or an ES module exporting strategy (M5)'),
  initiators: str('file of initiators\' credentials and policies'),
  mqttUrl: str('MQTT broker for results and status (mqtt://host:1883)'),
  mqttTopicPrefix: str('MQTT topic prefix (default retinad)'),
  mqttPasswordFile: str('file holding the MQTT password'),
  upstream: str('upper scheduler URL (cascade: this scheduler registers there as a device)'),
  deviceType: int(1, 2, 'DeviceType of this scheduler\'s level upstream, 1|2'),
  longitude: coord('n10,6 longitude (registered upstream)'),
  latitude: coord('n10,6 latitude (registered upstream)'),
  upstreamAdvertise: str('CommandURL registered upstream, when the upper scheduler reaches this one by another address'),
  upstreamApproval: bool('B.3: every TaskRequest here is approved by the upper scheduler first'),
  commandChannel: bool('NAT: receive the upper scheduler\'s commands over a WebSocket too'),
}, { additionalProperties: false });

export const ConfigFile = Type.Object({
  executor: Type.Optional(Type.Partial(ExecutorConfig)),
  scheduler: Type.Optional(Type.Partial(SchedulerConfig)),
}, { additionalProperties: false });

export class ConfigError extends Error {}

/** What a value must be, in the words of the error message. */
function expected(s: TSchema): string {
  if (s.type === 'integer') return `must be an integer ${s.minimum}..${s.maximum}`;
  if (s.type === 'boolean') return 'must be true or false';
  if (s.type === 'array') return 'must be a list of non-empty strings';
  if (s.type === 'string') return 'must be a non-empty string';
  if (s.anyOf) return (s.anyOf as TSchema[]).some((x) => x.type === 'array') ? 'must be a URL or a list of URLs' : 'must be a string or a number';
  return 'must be a mapping of keys to values';
}

/** Every problem of a parsed file, each naming its key path. */
export function checkConfig(doc: unknown): string[] {
  if (doc === null || doc === undefined) return [];
  const out: string[] = [];
  for (const e of Value.Errors(ConfigFile, doc)) {
    const keys = e.path.split('/').filter(Boolean);
    const at = keys.join('.') || '(top level)';
    const [section] = keys.slice(0, -1);
    const last = keys.at(-1);
    // An extra key: TypeBox reports it on the key's own path with the object's schema.
    if (e.schema.type === 'object' && e.schema.additionalProperties === false && last !== undefined && !(last in (e.schema.properties ?? {}))) {
      const known = Object.keys((section !== undefined ? sectionSchema(section)?.properties : ConfigFile.properties) ?? {});
      out.push(`${at}: unknown key (known: ${known.join(', ')})`);
      continue;
    }
    out.push(`${at}: ${expected(e.schema)} (got ${JSON.stringify(e.value)})`);
  }
  return [...new Set(out)];
}

function sectionSchema(name: string): TSchema | undefined {
  return name === 'executor' ? ExecutorConfig : name === 'scheduler' ? SchedulerConfig : undefined;
}

/** camelCase key → the flag's kebab name (`maxTasks` → `max-tasks`). */
export const flagOf = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * Reads FILE and returns the role's section as flag values (strings, or booleans for switches),
 * keyed by flag name, ready to sit under the command line's own.
 */
export function loadConfig(file: string, role: 'executor' | 'scheduler'): Record<string, string | boolean | string[]> {
  let text: string;
  let mode: number;
  try {
    text = readFileSync(file, 'utf8');
    mode = statSync(file).mode;
  } catch (err) {
    throw new ConfigError(`config: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let doc: unknown;
  try {
    doc = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config: ${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`);
  }
  const problems = checkConfig(doc);
  if (problems.length) throw new ConfigError(problems.map((p) => `config: ${p}`).join('\n'));
  const section = ((doc ?? {}) as Record<string, Record<string, unknown> | undefined>)[role] ?? {};
  if (section.token !== undefined && mode & 0o004) throw new ConfigError(`config: ${role}.token: ${file} is readable by every user; chmod 640 it or use tokenFile`);
  const out: Record<string, string | boolean | string[]> = {};
  for (const [k, v] of Object.entries(section)) out[flagOf(k)] = typeof v === 'boolean' ? v : Array.isArray(v) ? v.map(String) : String(v);
  return out;
}
