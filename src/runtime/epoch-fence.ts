/**
 * Epoch fencing (issue 14, B3): the highest scheduler leader epoch this executor has seen, from
 * register and keepalive replies and from commands, kept in its SQLite state so a restart does
 * not forget it. A command carrying an older epoch comes from a deposed leader and is refused
 * before it changes anything; one without the header is taken as before (a single scheduler).
 */
import type Database from 'better-sqlite3';
import type { Logger } from '../log.ts';
import { parseEpochHeader, staleEpochMessage } from '../net/epoch.ts';

/** Why a command is refused: HTTP 400 for a malformed header, 409 for a deposed leader's. */
export interface EpochRefusal {
  status: 400 | 409;
  message: string;
}

export class EpochFence {
  private top: number;

  constructor(private readonly db: Database.Database, private readonly log: Logger) {
    db.exec('CREATE TABLE IF NOT EXISTS scheduler_epoch (id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL)');
    this.top = (db.prepare('SELECT epoch FROM scheduler_epoch WHERE id = 1').get() as { epoch: number } | undefined)?.epoch ?? 0;
  }

  /** The highest epoch seen (0: none yet). */
  get highest(): number {
    return this.top;
  }

  /** A command's header: null when it may run (a newer epoch is remembered first, on disk), else the refusal. */
  admit(header: string | readonly string[] | undefined): EpochRefusal | null {
    const h = parseEpochHeader(header);
    if (h.kind === 'absent') return null;
    if (h.kind === 'malformed') return { status: 400, message: h.message };
    if (h.epoch < this.top) {
      this.log.warn({ epoch: h.epoch, highest: this.top }, 'command from a deposed scheduler leader refused');
      return { status: 409, message: staleEpochMessage(h.epoch, this.top) };
    }
    this.raise(h.epoch, 'command');
    return null;
  }

  /** A scheduler replica's reply (Register, Keepalive): a newer epoch is remembered; a bad or older one is only logged. */
  observe(header: string | readonly string[] | undefined, from: string): void {
    const h = parseEpochHeader(header);
    if (h.kind === 'malformed') this.log.warn({ scheduler: from, reason: h.message }, 'scheduler reply with a malformed epoch ignored');
    else if (h.kind === 'epoch' && h.epoch < this.top) this.log.warn({ scheduler: from, epoch: h.epoch, highest: this.top }, 'scheduler replica answers with an older epoch');
    else if (h.kind === 'epoch') this.raise(h.epoch, from);
  }

  private raise(epoch: number, via: string): void {
    if (epoch <= this.top) return;
    this.db.prepare('INSERT INTO scheduler_epoch (id, epoch) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET epoch = excluded.epoch WHERE excluded.epoch > epoch').run(epoch);
    this.log.info({ from: this.top, to: epoch, via }, 'scheduler leader epoch raised');
    this.top = epoch;
  }
}
