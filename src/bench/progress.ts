/** A one-line progress indicator on stderr, only when stderr is a terminal (logs stay clean). */
export class Progress {
  private readonly t0 = performance.now();
  private readonly on = process.stderr.isTTY === true;

  /** Shows `what` with the elapsed time, replacing the previous line. */
  step(what: string): void {
    if (!this.on) return;
    const s = ((performance.now() - this.t0) / 1000).toFixed(0);
    process.stderr.write(`\r\x1b[2Kretinad bench [${s.padStart(3)} s] ${what}`);
  }

  done(): void {
    if (this.on) process.stderr.write('\r\x1b[2K');
  }
}
