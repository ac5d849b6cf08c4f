/** `retinad scheduler backup|restore` (SB9): the command line of scheduler/backup.ts. */
import { backupScheduler, restoreScheduler, type BackupSummary } from './backup.ts';

/** A backup or restore that cannot be done: the message says why (no stack for the operator). */
export class StateCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateCommandError';
  }
}

const say = (verb: string, s: BackupSummary) =>
  process.stdout.write(`${verb} ${s.file}: ${s.tasks} tasks, ${s.devices} devices, ${s.files} files (${s.bytes} bytes)\n`);

export async function schedulerStateCommand(positionals: string[], o: { dataDir: string; out?: string; from?: string }): Promise<void> {
  const [verb, ...extra] = positionals;
  if (extra.length) throw new StateCommandError(`scheduler ${verb}: unexpected "${extra[0]}"`);
  if (verb !== 'backup' && verb !== 'restore') throw new StateCommandError(`scheduler: unknown subcommand "${verb}" (backup, restore)`);
  if (verb === 'backup' && !o.out) throw new StateCommandError('--out: the backup file to write is required');
  if (verb === 'restore' && !o.from) throw new StateCommandError('--from: the backup file to restore is required');
  try {
    if (verb === 'backup') say('backup', await backupScheduler(o.dataDir, o.out!));
    else say('restored', restoreScheduler(o.from!, o.dataDir));
  } catch (err) {
    throw new StateCommandError((err as Error).message);
  }
}
