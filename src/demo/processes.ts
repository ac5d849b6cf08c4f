/**
 * Every process the demo starts, including those still starting up, so that `stopAll` leaves
 * none behind — also when Ctrl-C arrives while a role is still booting. The demo must outlive its
 * children: a role whose parent is gone can hang at exit writing its log to a broken stderr pipe.
 */
import { startRole, type RoleProcess } from '../child-role.ts';

export class ProcessSet {
  private readonly pending = new Set<Promise<RoleProcess>>();
  private readonly started: Array<{ role: string | undefined; proc: RoleProcess }> = [];
  private stopping: Promise<void> | undefined;

  /** `startRole`, refused once stopping began; a role that comes up after that is stopped at once. */
  async start(args: string[], opts: Parameters<typeof startRole>[1]): Promise<RoleProcess> {
    if (this.stopping) throw new Error('stopping');
    const p = startRole(args, opts);
    this.pending.add(p);
    try {
      const proc = await p;
      this.started.push({ role: args[0], proc });
      if (this.stopping) { await proc.stop(3000); throw new Error('stopping'); }
      return proc;
    } finally {
      this.pending.delete(p);
    }
  }

  /** Pids of every process started so far. */
  pids(): number[] {
    return this.started.map((s) => s.proc.child.pid ?? -1);
  }

  /** Processes that have not exited (after `stopAll`: none, or a bug worth reporting). */
  running(): number[] {
    return this.started.filter((s) => s.proc.child.exitCode === null && s.proc.child.signalCode === null).map((s) => s.proc.child.pid ?? -1);
  }

  /**
   * Waits for roles still starting, then stops executors first (so they can log out of a
   * scheduler that is still there) and the scheduler last; SIGKILL after 3 s each. Idempotent.
   */
  stopAll(): Promise<void> {
    return (this.stopping ??= (async () => {
      await Promise.allSettled([...this.pending]);
      await Promise.all(this.started.filter((s) => s.role !== 'scheduler').map((s) => s.proc.stop(3000)));
      await Promise.all(this.started.filter((s) => s.role === 'scheduler').map((s) => s.proc.stop(3000)));
    })());
  }
}
