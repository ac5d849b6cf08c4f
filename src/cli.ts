/**
 * `retinad executor | scheduler | demo | version` — the command line. Flags are checked here and
 * a bad one is reported by name before anything starts.
 */
// Before anything can load ONNX Runtime: no telemetry to Microsoft unless the operator asks for it.
import './plugins/ort-env.ts';
import { readFileSync, statSync } from 'node:fs';
// Only what checks flags is imported up front: each role's module is loaded when that role
// starts, so `retinad executor` never loads the scheduler, etcd or MQTT code (a faster start).
import { parseListen, type TlsArgs } from './role-process.ts';
import type { SchedulerArgs } from './scheduler-role.ts';
import { parseEtcdUrl } from './etcd-url.ts';
import { parseFlags, type Values } from './cli-options.ts';
import { createSecureContext } from 'node:tls';
import { DEVICE_TYPE_VALUES, isLatitude, isLongitude, utf8Bytes, type DeviceType } from './protocol/index.ts';
import { ConfigError, loadConfig } from './config-file.ts';
import { HELP } from './cli-help.ts';

class UsageError extends Error {}

function need(v: string | undefined, flag: string): string {
  if (v === undefined || v === '') throw new UsageError(`${flag}: is required`);
  return v;
}

function listen(v: string | undefined): string {
  const l = need(v, '--listen');
  try {
    parseListen(l);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return l;
}

function int(v: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`${flag}: must be an integer ${min}..${max} (got "${v}")`);
  return Number(v);
}

function deviceId(v: string | undefined, flag: string): string {
  const id = need(v, flag);
  if (utf8Bytes(id) > 20) throw new UsageError(`${flag}: DeviceID must be at most 20 UTF-8 bytes (got ${utf8Bytes(id)})`);
  return id;
}

function url(v: string | undefined, flag: string): string | undefined {
  if (v === undefined) return undefined;
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    return v.replace(/\/+$/, '');
  } catch {
    throw new UsageError(`${flag}: "${v}" is not an http(s) URL`);
  }
}

/** `--scheduler URL[,URL…]`: the scheduler, or its replicas in the order they are tried (a config file may give a list). */
function urls(v: string | string[] | undefined, flag: string): string[] | undefined {
  if (v === undefined) return undefined;
  const list = (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim());
  if (list.some((s) => !s)) throw new UsageError(`${flag}: an empty URL in "${list.join(',')}" (give URL[,URL…])`);
  if (list.length > 16) throw new UsageError(`${flag}: at most 16 URLs (got ${list.length})`);
  const out = list.map((s) => url(s, flag)!);
  const origins = out.map((u) => new URL(u).origin);
  const twice = origins.findIndex((o, i) => origins.indexOf(o) !== i);
  if (twice >= 0) throw new UsageError(`${flag}: ${origins[twice]} is given twice (each replica is its own host:port)`);
  return out;
}

/** The MQTT sink's settings: a broker URL (mqtt:, mqtts:, ws:, wss:), a topic prefix, a password from a file. */
function mqttArgs(url: string | undefined, prefix: string | undefined, passwordFile: string | undefined): { url: string; prefix?: string; password?: string } | undefined {
  if (url === undefined) {
    if (prefix !== undefined || passwordFile !== undefined) throw new UsageError('--mqtt-topic-prefix, --mqtt-password-file: need --mqtt-url');
    return undefined;
  }
  let u: URL;
  try { u = new URL(url); } catch { throw new UsageError(`--mqtt-url: "${url}" is not a URL (mqtt://host:1883)`); }
  if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(u.protocol)) throw new UsageError('--mqtt-url: scheme must be mqtt, mqtts, ws or wss');
  if (u.password) throw new UsageError('--mqtt-url: put the password in --mqtt-password-file, not in the URL (it would show in ps)');
  if (prefix !== undefined && !/^[A-Za-z0-9_./-]{1,64}$/.test(prefix)) throw new UsageError('--mqtt-topic-prefix: 1..64 of A-Z a-z 0-9 _ . / - (no MQTT wildcards)');
  let password: string | undefined;
  if (passwordFile !== undefined) {
    try { password = readFileSync(passwordFile, 'utf8').trim(); } catch (err) { throw new UsageError(`--mqtt-password-file: cannot read ${passwordFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`); }
  }
  return { url, ...(prefix !== undefined ? { prefix } : {}), ...(password !== undefined ? { password } : {}) };
}

/**
 * The node token from --token, --token-file or $RETINAD_TOKEN. A file keeps it out of `ps`; a
 * file others can read is refused. Without a token the API is open, so a node listening beyond
 * loopback without one refuses to start unless --insecure says that is intended.
 */
function nodeToken(flag: string | undefined, file: string | undefined, listenAt: string | undefined, insecure: boolean): string | undefined {
  if (flag !== undefined && file !== undefined) throw new UsageError('--token-file: give either --token or --token-file, not both');
  let token = flag ?? process.env.RETINAD_TOKEN ?? undefined;
  if (file !== undefined) {
    let st;
    try {
      st = statSync(file);
      token = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new UsageError(`--token-file: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (st.mode & 0o004) throw new UsageError(`--token-file: ${file} is readable by every user; chmod 600 it`);
    if (!token) throw new UsageError(`--token-file: ${file} is empty`);
  }
  if (token !== undefined && !/^[\x21-\x7e]{16,256}$/.test(token)) throw new UsageError('--token: must be 16 to 256 printable ASCII characters without spaces');
  if (!token && !insecure && listenAt !== undefined) {
    const host = (() => { try { return parseListen(listenAt).host; } catch { return '127.0.0.1'; } })();
    if (!/^(127\.\d+\.\d+\.\d+|localhost|::1)$/i.test(host)) {
      throw new UsageError(`--listen: ${host} is reachable from the network and no token is set (--token-file, --token or $RETINAD_TOKEN); add --insecure to run an open API anyway`);
    }
  }
  return token || undefined;
}

/** Directories given with a repeatable flag: each must exist and be a directory. */
function dirs(list: string[] | undefined, flag: string): string[] {
  return (list ?? []).map((d) => {
    let st;
    try { st = statSync(d); } catch { throw new UsageError(`${flag}: ${d} does not exist`); }
    if (!st.isDirectory()) throw new UsageError(`${flag}: ${d} is not a directory`);
    return d;
  });
}

/** --tls-cert/--tls-key (serve HTTPS) and --tls-ca (verify peers), read and checked by name. */
function tlsArgs(cert: string | undefined, key: string | undefined, ca: string | undefined): TlsArgs {
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--tls-cert: --tls-cert and --tls-key go together');
  const pem = (file: string, flag: string, re: RegExp) => {
    let b: Buffer;
    try { b = readFileSync(file); } catch (err) { throw new UsageError(`${flag}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`); }
    if (!re.test(b.toString('latin1'))) throw new UsageError(`${flag}: ${file} is not a PEM ${flag === '--tls-key' ? 'private key' : 'certificate'}`);
    return b;
  };
  const out: TlsArgs = {};
  if (cert !== undefined && key !== undefined) {
    out.tls = { cert: pem(cert, '--tls-cert', /-----BEGIN CERTIFICATE-----/), key: pem(key, '--tls-key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/) };
    try { createSecureContext(out.tls); } catch (err) { throw new UsageError(`--tls-key: does not fit --tls-cert (${(err as Error).message})`); }
  }
  if (ca !== undefined) out.tlsCa = pem(ca, '--tls-ca', /-----BEGIN CERTIFICATE-----/);
  return out;
}

/** `--store etcd://host:port[,…]`, checked here so that a typo stops the start with the rule. */
function storeUrl(v: string | undefined): string {
  if (v === undefined) return '';
  try { parseEtcdUrl(v); } catch (err) { throw new UsageError((err as Error).message); }
  return v;
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  const { values: flags, positionals } = parseFlags(rest, cmd === 'plugin' || cmd === 'scheduler');
  // The config file's section sits under the command line: a flag given here wins.
  const role = cmd === 'executor' || cmd === 'scheduler' ? cmd : null;
  if (flags.config !== undefined && !role) throw new UsageError(`--config: only for executor and scheduler (not "${cmd}")`);
  const fromFile = flags.config !== undefined && role ? loadConfig(flags.config, role) : {};
  const values = { ...fromFile, ...flags } as Values;
  try {
    await run(cmd, values, positionals);
  } catch (err) {
    // A bad value that came from the file is named by its key there, not by a flag never typed.
    const [, key, detail] = (err instanceof UsageError ? /^--([a-z-]+): ([\s\S]*)$/.exec(err.message) : null) ?? [];
    if (key !== undefined && detail !== undefined && role && key in fromFile && !(key in flags)) {
      throw new ConfigError(`config: ${role}.${key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())}: ${detail}`);
    }
    throw err;
  }
}

/** Cascade (5.2): `--upstream URL` makes this scheduler a device of the upper one, of DeviceType 1 (edge) or 2 (cloud). */
function upstreamArgs(values: Values): SchedulerArgs['upstream'] {
  const rest = (['device-type', 'longitude', 'latitude', 'upstream-approval', 'upstream-advertise'] as const).filter((k) => values[k] !== undefined);
  if (values.upstream === undefined) {
    if (rest.length) throw new UsageError(`--${rest[0]}: for a scheduler only with --upstream (it describes this scheduler to the upper one)`);
    return undefined;
  }
  if (values['device-id'] === undefined) throw new UsageError('--upstream: needs --device-id (the DeviceID this scheduler registers with upstream)');
  const dt = values['device-type'] ?? '1';
  if (dt !== '1' && dt !== '2') throw new UsageError(`--device-type: a scheduler's level is 1 (edge) or 2 (cloud) (got "${dt}")`);
  if (values.longitude !== undefined && !isLongitude(values.longitude)) throw new UsageError('--longitude: must be n10,6 like 116.397128');
  if (values.latitude !== undefined && !isLatitude(values.latitude)) throw new UsageError('--latitude: must be n10,6 like 39.916527');
  return { url: url(values.upstream, '--upstream')!, deviceType: dt, longitude: values.longitude, latitude: values.latitude, approval: values['upstream-approval'] === true,
    ...(values['upstream-advertise'] !== undefined ? { commandUrl: url(values['upstream-advertise'], '--upstream-advertise') } : {}) };
}

/** `--command-channel` (NAT): only with the scheduler it opens the channel to. */
function channelFlag(on: boolean | undefined, peer: string | undefined, needs: string): boolean {
  if (on && peer === undefined) throw new UsageError(`--command-channel: needs ${needs} (the scheduler the channel is opened to)`);
  return on === true;
}

/** Runs one command with its checked flags. */
async function run(cmd: string | undefined, values: Values, positionals: string[]): Promise<void> {
  if (values.help || !cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(HELP);
    return;
  }
  // SB9: `scheduler backup` / `scheduler restore` work on a data directory or an etcd store, not on a node.
  if (cmd === 'scheduler' && positionals.length) {
    const { schedulerStateCommand } = await import('./scheduler/backup-cli.ts');
    await schedulerStateCommand(positionals, { dataDir: values['data-dir'], out: values.out, from: values.from, store: values.store === undefined ? undefined : parseEtcdUrl(storeUrl(values.store)),
      results: values.results, etcdDataDir: values['etcd-data-dir'], etcdName: values['etcd-name'], etcdPeerUrl: values['etcd-peer-url'] });
    return;
  }
  for (const k of ['etcd-data-dir', 'etcd-name', 'etcd-peer-url'] as const) if (values[k] !== undefined) throw new UsageError(`--${k}: only for \`retinad scheduler restore\` of an etcd store backup`);
  const token = cmd === 'executor' || cmd === 'scheduler' ? nodeToken(values.token, values['token-file'], values.listen, values.insecure === true) : undefined;
  switch (cmd) {
    case 'executor': {
      const dt = values['device-type'];
      if (dt !== undefined && !(DEVICE_TYPE_VALUES as readonly string[]).includes(dt)) throw new UsageError(`--device-type: must be 0, 1 or 2 (got "${dt}")`);
      if (values.longitude !== undefined && !isLongitude(values.longitude)) throw new UsageError('--longitude: must be n10,6 like 116.397128');
      if (values.latitude !== undefined && !isLatitude(values.latitude)) throw new UsageError('--latitude: must be n10,6 like 39.916527');
      const { runExecutor } = await import('./executor-role.ts');
      await runExecutor({
        listen: listen(values.listen), deviceId: deviceId(values['device-id'], '--device-id'), dataDir: need(values['data-dir'], '--data-dir'),
        scheduler: urls(values.scheduler as string | string[] | undefined, '--scheduler'), token, advertise: url(values.advertise, '--advertise'),
        maxTasks: int(values['max-tasks'], '--max-tasks', 1, 1024), deviceType: dt as DeviceType | undefined,
        longitude: values.longitude, latitude: values.latitude,
        trustedKeys: values['trusted-keys'], pluginDevMode: values['plugin-dev-mode'],
        pluginWorkers: int(values['plugin-workers'], '--plugin-workers', 1, 256), pluginThreads: int(values['plugin-threads'], '--plugin-threads', 1, 256),
        pluginMaxBatch: int(values['plugin-max-batch'], '--plugin-max-batch', 1, 64), pluginMaxMemoryMB: int(values['plugin-max-memory'], '--plugin-max-memory', 1, 4096), metricsPublic: values['metrics-public'],
        mediaDirs: dirs(values['media-dir'], '--media-dir'), packageDirs: dirs(values['package-dir'], '--package-dir'),
        peers: (values.peer ?? []).map((p) => url(p, '--peer')!), allowPrivateUrls: values['allow-private-urls'] === true,
        commandChannel: channelFlag(values['command-channel'], values.scheduler, '--scheduler'),
        ...tlsArgs(values['tls-cert'], values['tls-key'], values['tls-ca']),
      });
      return;
    }
    case 'plugin': {
      const { runPluginCommand } = await import('./plugins/cli.ts');
      await runPluginCommand(positionals, { dataDir: need(values['data-dir'], '--data-dir'), trustedKeys: values['trusted-keys'], devMode: values['plugin-dev-mode'] });
      return;
    }
    case 'scheduler': {
      if (values.store === undefined && (values.results !== undefined || values['lease-ttl'] !== undefined)) throw new UsageError('--results, --lease-ttl: only with --store etcd://…');
      const start = values.store === undefined ? (await import('./scheduler-role.ts')).runScheduler : (await import('./replica-role.ts')).runSchedulerReplica;
      await start({ store: storeUrl(values.store), results: values.results, leaseTtlSec: int(values['lease-ttl'], '--lease-ttl', 2, 60),
        upstream: upstreamArgs(values), commandChannel: channelFlag(values['command-channel'], values.upstream, '--upstream'),
        listen: listen(values.listen), dataDir: need(values['data-dir'], '--data-dir'), token,
        deviceId: values['device-id'] === undefined ? undefined : deviceId(values['device-id'], '--device-id'),
        advertise: url(values.advertise, '--advertise'), keepaliveSec: int(values.keepalive, '--keepalive', 1, 3600),
        maxRetries: int(values['max-retries'], '--max-retries', 0, 100), maxIntake: int(values['max-intake'], '--max-intake', 1, 100_000),
        maxResultsPerTask: int(values['max-results-per-task'], '--max-results-per-task', 1, 1_000_000_000),
        maxConcurrentTasks: int(values['max-concurrent-tasks'], '--max-concurrent-tasks', 1, 1_000_000), taskOrder: values['task-order'],
        trustedKeys: values['trusted-keys'], pluginDevMode: values['plugin-dev-mode'],
        metricsPublic: values['metrics-public'], allowPrivateUrls: values['allow-private-urls'] === true, initiators: values.initiators,
        mqtt: mqttArgs(values['mqtt-url'], values['mqtt-topic-prefix'], values['mqtt-password-file']),
        ...tlsArgs(values['tls-cert'], values['tls-key'], values['tls-ca']),
      });
      return;
    }
    case 'demo': {
      const { runDemo } = await import('./demo.ts');
      process.exitCode = await runDemo({ clip: values.clip, out: values.out });
      return;
    }
    case 'bench': {
      const { runBench } = await import('./bench/run.ts');
      process.exitCode = await runBench({ plugin: values.plugin, quick: values.quick === true, json: values.json === true, out: values.out,
        dataDir: values['data-dir'], trustedKeys: values['trusted-keys'], devMode: values['plugin-dev-mode'] === true });
      return;
    }
    case 'version': {
      const { printVersion } = await import('./version.ts');
      await printVersion(values.json === true, values.providers === true);
      return;
    }
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  if (err.name === 'PackageError') {
    process.stderr.write(`retinad: package refused: ${err.message}\n`);
    process.exit(3);
  }
  if (err.name === 'StateCommandError') {
    process.stderr.write(`retinad: ${err.message}\n`);
    process.exit(1);
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`retinad: ${err.message.replace(/\n/g, '\nretinad: ')}\n`);
    process.exit(2);
  }
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`retinad: ${err.message}\n\n${HELP}`);
    process.exit(2);
  }
  process.stderr.write(`retinad: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
