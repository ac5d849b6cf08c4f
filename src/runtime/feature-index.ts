/**
 * ED2 — aggregation and retrieval of other executors' features: every FeatureInfo.Vector that
 * arrives in a task_result is indexed under its collection (the parent task, else the task),
 * and `search` answers k nearest neighbours by cosine similarity. Exact (brute force) search:
 * honest results for the tens of thousands of vectors an edge box aggregates.
 */

export interface FeatureMeta {
  TaskID: string;
  DeviceID: string;
  Ts: number;
  Pts?: number;
}

interface Entry { v: Float32Array; meta: FeatureMeta }

export class FeatureIndex {
  private readonly collections = new Map<string, Entry[]>();

  /** Adds a vector (normalised here); wrong or empty vectors are ignored and reported false. */
  add(collection: string, vector: unknown, meta: FeatureMeta): boolean {
    if (!Array.isArray(vector) || vector.length === 0 || vector.length > 65536 || !vector.every((x) => typeof x === 'number' && Number.isFinite(x))) return false;
    const v = Float32Array.from(vector as number[]);
    const n = Math.hypot(...v);
    if (n === 0) return false;
    for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
    const list = this.collections.get(collection) ?? [];
    const [first] = list;
    if (first && first.v.length !== v.length) return false;
    list.push({ v, meta });
    this.collections.set(collection, list);
    return true;
  }

  /** The k most similar vectors of a collection (all collections when null). */
  search(collection: string | null, query: number[], k: number): Array<FeatureMeta & { Score: number; Collection: string }> {
    const q = Float32Array.from(query);
    const n = Math.hypot(...q) || 1;
    const out: Array<FeatureMeta & { Score: number; Collection: string }> = [];
    for (const [name, list] of this.collections) {
      if (collection !== null && name !== collection) continue;
      for (const e of list) {
        if (e.v.length !== q.length) continue;
        let dot = 0;
        // e.v and q have the same length (checked above).
        for (let i = 0; i < q.length; i++) dot += e.v[i]! * q[i]!;
        out.push({ ...e.meta, Score: Math.round((dot / n) * 1e5) / 1e5, Collection: name });
      }
    }
    return out.sort((a, b) => b.Score - a.Score).slice(0, k);
  }

  size(collection?: string): number {
    if (collection !== undefined) return this.collections.get(collection)?.length ?? 0;
    let s = 0;
    for (const l of this.collections.values()) s += l.length;
    return s;
  }
}
