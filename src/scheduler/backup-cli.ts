/**
 * `retinad scheduler backup|restore` (SB9): the command line of scheduler/backup.ts (the SQLite
 * store) and of scheduler/etcd/backup.ts, restore.ts (the etcd store of replicas).
 *
 *   backup  --data-dir DIR --out FILE                                  SQLite
 *   backup  --store etcd://… --results DIR [--data-dir DIR] --out FILE  etcd
 *   restore --data-dir NEWDIR --from FILE                               SQLite
 *   restore --from FILE --etcd-data-dir NEWDIR --results NEWDIR [--data-dir NEWDIR] [--etcd-name N] [--etcd-peer-url URL]   etcd
 */
import { backupScheduler, restoreScheduler, type BackupSummary } from './backup.ts';

/** A backup or restore that cannot be done: the message says why (no stack for the operator). */
export class StateCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateCommandError';
  }
}

export interface StateCommandOptions {
  dataDir?: string;
  out?: string;
  from?: string;
  /** The etcd endpoints of --store (parsed by the command line). */
  store?: string[];
  results?: string;
  etcdDataDir?: string;
  etcdName?: string;
  etcdPeerUrl?: string;
}

const say = (verb: string, s: BackupSummary) =>
  process.stdout.write(`${verb} ${s.file}: ${s.tasks} tasks, ${s.devices} devices, ${s.files} files (${s.bytes} bytes)\n`);

const need = (v: string | undefined, what: string): string => {
  if (v === undefined || v === '') throw new StateCommandError(what);
  return v;
};

async function etcdBackup(o: StateCommandOptions): Promise<void> {
  const { backupEtcdStore } = await import('./etcd/backup.ts');
  const s = await backupEtcdStore({ endpoints: o.store!, resultsDir: need(o.results, '--results: the replicas\' results directory is required with --store'), dataDir: o.dataDir, out: o.out! });
  process.stdout.write(`backup ${s.file}: etcd snapshot at revision ${s.revisionExact ? '' : '>= '}${s.revision} (${s.keys} keys, ${s.snapshotBytes} bytes), `
    + `${s.results} result files (${s.resultBytes} bytes), ${s.dataFiles} data-dir files (${s.dataBytes} bytes)\n`);
}

async function etcdRestore(o: StateCommandOptions): Promise<void> {
  const { restoreEtcdStore } = await import('./etcd/restore.ts');
  const s = restoreEtcdStore({ from: o.from!, etcdDataDir: o.etcdDataDir!, resultsDir: need(o.results, '--results: the new results directory is required with --etcd-data-dir'),
    dataDir: o.dataDir, etcdName: o.etcdName, etcdPeerUrl: o.etcdPeerUrl });
  process.stdout.write(`restored ${s.file}: etcd snapshot at revision ${s.revision} (${s.snapshotBytes} bytes) into ${o.etcdDataDir} (member ${s.etcdName}, peer URL ${s.etcdPeerUrl}), `
    + `${s.results} result files (${s.resultBytes} bytes) into ${o.results}, ${s.dataFiles} data-dir files${o.dataDir !== undefined ? ` into ${o.dataDir}` : ''}\n`);
  if (s.dataSkipped) process.stdout.write(`note: the backup also holds ${s.dataSkipped} data-dir files (repository/, trusted-keys/, notify.secret); give --data-dir NEWDIR to restore them\n`);
  process.stdout.write(`next: etcd --name ${s.etcdName} --data-dir ${o.etcdDataDir} …, then the replicas with --store etcd://… --results ${o.results}\n`);
}

export async function schedulerStateCommand(positionals: string[], o: StateCommandOptions): Promise<void> {
  const [verb, ...extra] = positionals;
  if (extra.length) throw new StateCommandError(`scheduler ${verb}: unexpected "${extra[0]}"`);
  if (verb !== 'backup' && verb !== 'restore') throw new StateCommandError(`scheduler: unknown subcommand "${verb}" (backup, restore)`);
  if (verb === 'backup' && !o.out) throw new StateCommandError('--out: the backup file to write is required');
  if (verb === 'restore' && !o.from) throw new StateCommandError('--from: the backup file to restore is required');
  const etcd = verb === 'backup' ? o.store !== undefined : o.etcdDataDir !== undefined;
  if (verb === 'backup' && (o.etcdDataDir !== undefined || o.etcdName !== undefined || o.etcdPeerUrl !== undefined)) throw new StateCommandError('--etcd-data-dir, --etcd-name, --etcd-peer-url: only for scheduler restore');
  if (verb === 'restore' && o.store !== undefined) throw new StateCommandError('--store: a restore writes directories, not into a running etcd (give --etcd-data-dir NEWDIR)');
  if (!etcd && (o.results !== undefined || o.etcdName !== undefined || o.etcdPeerUrl !== undefined)) {
    throw new StateCommandError(verb === 'backup' ? '--results: only with --store etcd://… (a backup of the etcd store)' : '--results, --etcd-name, --etcd-peer-url: only with --etcd-data-dir (a restore of the etcd store)');
  }
  try {
    if (etcd) await (verb === 'backup' ? etcdBackup(o) : etcdRestore(o));
    else if (verb === 'backup') say('backup', await backupScheduler(need(o.dataDir, '--data-dir: is required (or --store etcd://… --results DIR for replicas)'), o.out!));
    else say('restored', restoreScheduler(o.from!, need(o.dataDir, '--data-dir: is required (or --etcd-data-dir NEWDIR --results NEWDIR for a backup of the etcd store)')));
  } catch (err) {
    throw new StateCommandError((err as Error).message);
  }
}
