/**
 * Where a device keeps what its model did, so that the application can say how it went (DC7,
 * DC6: reinforcement from the place the model acts). An inference task with
 * `AlgArgs.FeedbackSet` keeps each sample it classified with the action it took (its Class)
 * and the result's Pts; `POST /System/Samples/{Set}/Feedback` later gives a reward (bandit
 * feedback: was the action right?) and optionally a corrected label, addressed by Pts. The
 * set the cloud fetches (`GET /System/Samples/{Set}`, RDS2) holds the samples that got
 * feedback; the ones still waiting stay here. Bounded like the sample store: the oldest go
 * first. On disk as one RDS2 file per set (rewards NaN while none came), so a restart keeps both.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeSamples, encodeFeedbackSamples, NO_LABEL } from '../plugins/train-blob.ts';
import { SAMPLE_SET_NAME } from './sample-store.ts';
import type { FeedbackReply, FeedbackRequest } from '../protocol/index.ts';

const SAVE_DELAY_MS = 200;

interface Row { x: Float32Array; action: number; pts: number; reward: number; label: number }
interface Held { dim: number; classes: number; rows: Row[] }

/** One piece of feedback: the result it is about (Pts), the reward, and optionally the right class. */
export type Feedback = FeedbackRequest['Feedback'][number];

/** What a feedback request did: how many samples it reached, and the Pts that named none. */
export type FeedbackOutcome = Omit<FeedbackReply, 'StatusCode'>;

/** Thrown for feedback that cannot apply (unknown set, label out of range): the message names the field. */
export class FeedbackError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
    this.name = 'FeedbackError';
  }
}

export class FeedbackStore {
  private readonly sets = new Map<string, Held>();
  private readonly cache = new Map<string, { bytes: Buffer; sha256: string }>();
  private readonly dirty = new Map<string, Held>();
  private timer: NodeJS.Timeout | undefined;

  /** `onError` hears of a write that failed in the background (a full or vanished disk): the samples stay in memory and the next change retries. */
  constructor(private readonly dir: string, readonly maxPerSet = 10_000, private readonly onError: (err: Error) => void = () => undefined) {
    mkdirSync(dir, { recursive: true });
  }

  private file(name: string): string {
    return path.join(this.dir, `${name}.rds`);
  }

  private load(name: string): Held | undefined {
    let h = this.sets.get(name);
    if (!h && existsSync(this.file(name))) {
      const s = decodeSamples(readFileSync(this.file(name)));
      const f = s.feedback;
      if (!f) return undefined;
      h = { dim: s.dim, classes: s.classes, rows: Array.from(s.labels, (label, i) => ({ x: s.features.slice(i * s.dim, (i + 1) * s.dim), action: f.actions[i]!, pts: f.pts[i]!, reward: f.rewards[i]!, label })) };
      this.sets.set(name, h);
    }
    return h;
  }

  /** Keeps the sample a task classified as `action` at `pts` (its result's Pts), waiting for feedback. */
  keep(name: string, x: Float32Array, action: number, pts: number, classes: number): void {
    if (!SAMPLE_SET_NAME.test(name)) throw new RangeError(`feedback set "${name}": letters, digits, _ and - only, at most 64`);
    if (classes < 2 || classes > 255) throw new RangeError(`feedback set ${name}: ${classes} classes, a feedback set holds 2..255`);
    const h = this.load(name) ?? { dim: x.length, classes, rows: [] };
    if (x.length !== h.dim) throw new RangeError(`feedback set ${name}: ${x.length} features, the set holds ${h.dim}`);
    h.rows.push({ x, action: Math.max(0, Math.min(h.classes - 1, action)), pts: Math.max(0, pts), reward: NaN, label: NO_LABEL });
    if (h.rows.length > this.maxPerSet) h.rows.splice(0, h.rows.length - this.maxPerSet);
    this.sets.set(name, h);
    this.save(name, h);
  }

  /** Applies feedback by Pts to the newest sample with that Pts; all or nothing when an entry is invalid for the set. */
  give(name: string, entries: readonly Feedback[]): FeedbackOutcome {
    const h = SAMPLE_SET_NAME.test(name) ? this.load(name) : undefined;
    if (!h) throw new FeedbackError(404, `Set: no feedback set "${name}" here (an inference task keeps one with AlgArgs.FeedbackSet)`);
    entries.forEach((e, i) => {
      if (e.Label !== undefined && e.Label >= h.classes) throw new FeedbackError(400, `Feedback[${i}].Label: ${e.Label} is not a class below ${h.classes}`);
    });
    const newest = new Map<number, Row>();
    for (const r of h.rows) newest.set(r.pts, r);
    const unmatched: number[] = [];
    let applied = 0;
    for (const e of entries) {
      const r = newest.get(e.Pts);
      if (!r) { unmatched.push(e.Pts); continue; }
      r.reward = e.Reward;
      if (e.Label !== undefined) r.label = e.Label;
      applied++;
    }
    if (applied) this.save(name, h);
    return { Applied: applied, Unmatched: unmatched };
  }

  /** Written a moment later, all changes of that moment at once: a set rewritten per frame would cost O(n²) bytes. */
  private save(name: string, h: Held): void {
    this.cache.delete(name);
    this.dirty.set(name, h);
    this.timer ??= setTimeout(() => this.flush(), SAVE_DELAY_MS).unref();
  }

  /** Writes every changed set now (the executor calls it when it closes); a failure goes to `onError`, never up. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const [name, h] of this.dirty) {
      try {
        writeFileSync(`${this.file(name)}.tmp`, this.encode(h.rows, h));
        renameSync(`${this.file(name)}.tmp`, this.file(name));
        this.dirty.delete(name);
      } catch (err) {
        this.onError(err as Error);
      }
    }
  }

  private encode(rows: Row[], h: Held): Buffer {
    const features = new Float32Array(rows.length * h.dim);
    rows.forEach((r, i) => features.set(r.x, i * h.dim));
    return encodeFeedbackSamples({ dim: h.dim, classes: h.classes, features, labels: Uint8Array.from(rows, (r) => r.label),
      feedback: { actions: Uint8Array.from(rows, (r) => r.action), rewards: Float32Array.from(rows, (r) => r.reward), pts: Float64Array.from(rows, (r) => r.pts) } });
  }

  /** The samples that got feedback, as RDS2 bytes with their SHA-256; undefined when none has. */
  read(name: string): { bytes: Buffer; sha256: string } | undefined {
    if (!SAMPLE_SET_NAME.test(name)) return undefined;
    let c = this.cache.get(name);
    if (!c) {
      const h = this.load(name);
      const rows = h?.rows.filter((r) => !Number.isNaN(r.reward) || r.label !== NO_LABEL) ?? [];
      if (!h || !rows.length) return undefined;
      const bytes = this.encode(rows, h);
      c = { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
      this.cache.set(name, c);
    }
    return c;
  }

  /** How many samples the set holds, and how many of them got feedback. */
  count(name: string): { kept: number; withFeedback: number } {
    const rows = this.load(name)?.rows ?? [];
    return { kept: rows.length, withFeedback: rows.filter((r) => !Number.isNaN(r.reward) || r.label !== NO_LABEL).length };
  }
}
