// Counts *tests* in a TAP 14 stream as tap 21 writes it with `--reporter=tap`.
//
// What is one test: a leaf subtest, i.e. a `t.test(...)` (or a whole file) that has no subtests
// of its own; its assertions decide whether it passed. We count leaf subtests rather than
// assertions because assertion counts follow loops and property-test runs, while a subtest is
// what a person names and skips. The other cases, decided so that nothing fails silently:
//   - a test point with a SKIP/TODO directive is one skipped (or todo) test, with its reason.
//     TAP cannot tell `t.test(name, { skip })` (no body is written) from a skipped assertion,
//     so both count; a subtest whose body ran only skipped points counts as those skips only.
//   - a subtest that has subtests *and* its own assertions: those own assertions count as one
//     more test ("<name> (own assertions)"), failed when any of them failed.
//   - a subtest that failed while nothing under it counted a failure (timeout, plan mismatch,
//     a file that crashed, a process exit code) counts as one failed test.
//   - a subtest with no result line when the stream ends (the runner died) is a failed test.
//   - `Bail out!` with no failure counted counts one failure; so does a root plan (`1..N`
//     files) that the stream did not fulfil, or a stream without any plan.
//
// Parsing: nested subtests are indented 4 spaces per level, each opened by `# Subtest: name`
// and closed by its summary `ok N - name` one level up; YAML diagnostics (`---` … `...`,
// indented 2 more) and any other line (comments, stray stdout) are skipped. Tap 14's buffered
// form (`ok N - name {` … `}`) is accepted too.

/** @typedef {{ ok: boolean, name: string, directive: 'skip' | 'todo' | null, reason: string }} Point */

const POINT = /^(not )?ok\b(?:\s+\d+)?(?:\s+-)?(?:\s+(.*))?$/;
const SUBTEST = /^# Subtest(?::\s*(.*))?$/;
const PLAN = /^1\.\.(\d+)\b/;
const BAIL = /^\s*Bail out!\s*(.*)$/;

/** Parses the text after `ok N -`: name, then an optional `# SKIP reason` / `# TODO reason` / `# time=…`. */
export function parsePoint(line) {
  const m = POINT.exec(line);
  if (!m) return null;
  let desc = m[2] ?? '';
  const buffered = /\s\{$/.test(desc) || desc === '{';
  if (buffered) desc = desc.replace(/\s*\{$/, '');
  // An unescaped `#` after whitespace starts the directive (TAP escapes `#` in names as `\#`).
  const hash = desc.search(/(^|\s)#/);
  const name = (hash < 0 ? desc : desc.slice(0, hash)).trim().replace(/\\([#\\])/g, '$1');
  const dir = hash < 0 ? '' : desc.slice(hash).replace(/^\s*#\s*/, '');
  const d = /^(skip|todo)\S*(?:[\s:]+(.*))?$/i.exec(dir);
  return {
    ok: !m[1],
    name,
    directive: d ? /** @type {'skip' | 'todo'} */ (d[1].toLowerCase()) : null,
    reason: d ? (d[2] ?? '').replace(/\s*#\s*time=\S+$/, '').trim() : '',
    buffered,
  };
}

function newNode(name, parent) {
  return {
    name, parent, plan: null, kids: 0, points: [], pendingSummary: null, failedKids: new Set(),
    passed: 0, failures: [], skips: [],
  };
}

export class TapCounter {
  constructor() {
    this.root = newNode('', null);
    this.stack = [this.root]; // stack[level] = the open subtest at that indentation level
    this.yamlIndent = null;
    this.partial = '';
    this.bailOut = null;
    this.ended = null;
    this.explain = null; // the failure the next YAML block may explain

  }

  /** Feeds a chunk of the stream; lines may be split across chunks. */
  write(chunk) {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const l of lines) this.line(l);
  }

  /** Feeds one line (without its newline). */
  line(raw) {
    const text = raw.replace(/\r$/, '');
    const indent = /^ */.exec(text)[0].length;
    const body = text.slice(indent);
    if (this.yamlIndent !== null) {
      if (indent === this.yamlIndent && body === '...') { this.yamlIndent = null; this.explain = null; return; }
      // A failure with nothing under it (a file that crashed) is explained by its exit status.
      const exit = indent === this.yamlIndent && this.explain && /^(exitCode|signal): (?!null$)(.+)$/.exec(body);
      if (exit) this.explain.reason = `${this.explain.reason === 'failed' ? '' : `${this.explain.reason}, `}${exit[1]} ${exit[2]}`;
      return;
    }
    const bail = BAIL.exec(text);
    if (bail) { this.bailOut ??= bail[1].trim() || '(no reason)'; return; }
    if (body === '---' && indent % 4 === 2) { this.yamlIndent = indent; return; }
    if (indent % 4 !== 0) return;
    const level = indent / 4;
    if (level >= this.stack.length) return; // deeper than any open subtest: not TAP, skip it

    const sub = SUBTEST.exec(body);
    if (sub) {
      this.closeDeeperThan(level);
      const parent = this.stack[level];
      parent.kids++;
      this.stack.push(newNode(sub[1]?.trim() ?? '', parent));
      return;
    }
    if (body === '}') { // end of a buffered subtest
      const open = this.stack[level + 1];
      if (open?.pendingSummary) { this.closeDeeperThan(level + 1); this.close(open, open.pendingSummary); this.stack.length = level + 1; }
      return;
    }
    const plan = PLAN.exec(body);
    if (plan) { if (this.stack.length === level + 1) this.stack[level].plan = Number(plan[1]); return; }
    const point = parsePoint(body);
    if (!point) return;
    this.explain = null;
    if (this.stack.length > level + 1) { // the summary of the open child at level + 1
      this.closeDeeperThan(level + 1);
      const child = this.stack.pop();
      this.close(child, point);
      return;
    }
    const parent = this.stack[level];
    if (point.buffered) {
      parent.kids++;
      const node = newNode(point.name, parent);
      node.pendingSummary = point;
      this.stack.push(node);
      return;
    }
    parent.points.push(point);
  }

  /** Closes, as unfinished, every open subtest deeper than `level`. */
  closeDeeperThan(level) {
    while (this.stack.length > level + 1) this.close(this.stack.pop(), null);
  }

  path(node) {
    const names = [];
    for (let n = node; n && n.parent; n = n.parent) names.unshift(n.name || '(unnamed)');
    return names.join(' > ');
  }

  /** Works out what a finished subtest contributes and hands it to its parent. */
  close(node, summary) {
    const name = this.path(node);
    const out = node.parent;
    if (summary?.directive) { // skipped or todo as a whole: what ran inside does not count
      out.skips.push({ name, kind: summary.directive, reason: summary.reason });
      return;
    }
    if (!summary || !summary.ok) out.failedKids.add(node.name);
    this.countOwnPoints(node, name, node.kids === 0);
    if (node.kids === 0) {
      const ran = node.points.filter((p) => !p.directive);
      const onlySkips = ran.length === 0 && node.points.length > 0;
      if (!summary || !summary.ok) node.failures.push({ name, reason: summary ? firstFailure(node) : 'no result: the run stopped inside it' });
      else if (!onlySkips) node.passed++;
    } else if (!summary || !summary.ok) {
      if (node.failures.length === 0) node.failures.push({ name, reason: summary ? firstFailure(node) : 'no result: the run stopped inside it' });
    }
    this.explain = summary && !summary.ok && node.failures.length === 1 && node.failures[0].name === name ? node.failures[0] : null;
    out.passed += node.passed;
    out.failures.push(...node.failures);
    out.skips.push(...node.skips);
  }

  /** Skip/todo points count one each; in a subtest with subtests, its own assertions are one test. */
  countOwnPoints(node, name, isLeaf) {
    for (const p of node.points) {
      if (p.directive) node.skips.push({ name: `${name} > ${p.name || '(unnamed)'}`, kind: p.directive, reason: p.reason });
    }
    if (isLeaf) return;
    // tap repeats an uncaught error's subtest as a failing point of the parent: same failure.
    const ran = node.points.filter((p) => !p.directive && !(!p.ok && node.failedKids.has(p.name)));
    if (ran.length === 0) return;
    const bad = ran.find((p) => !p.ok);
    if (bad) node.failures.push({ name: `${name} (own assertions)`, reason: bad.name || 'failed' });
    else node.passed++;
  }

  /** Ends the stream; returns `{ passed, failed, skipped, failures, skips, bailOut }`. */
  end() {
    if (this.ended) return this.ended;
    if (this.partial) { this.line(this.partial); this.partial = ''; }
    this.closeDeeperThan(0);
    const root = this.root;
    // Root-level points without a body (e.g. a file tap skipped) count one test each.
    for (const p of root.points) {
      if (p.directive) root.skips.push({ name: p.name, kind: p.directive, reason: p.reason });
      else if (p.ok) root.passed++;
      else root.failures.push({ name: p.name, reason: 'failed' });
    }
    const seen = root.kids + root.points.length;
    // A bail-out explains the files that never ran, so it comes before the plan check.
    if (this.bailOut !== null && root.failures.length === 0) root.failures.push({ name: '(bail out)', reason: this.bailOut });
    if (root.plan === null) {
      if (root.failures.length === 0) root.failures.push({ name: '(TAP stream)', reason: 'ended without a plan: the runner did not finish' });
    } else if (seen !== root.plan && root.failures.length === 0) {
      root.failures.push({ name: '(TAP stream)', reason: `planned ${root.plan} files, got results for ${seen}` });
    }
    this.ended = {
      passed: root.passed,
      failed: root.failures.length,
      skipped: root.skips.length,
      failures: root.failures,
      skips: root.skips,
      bailOut: this.bailOut,
    };
    return this.ended;
  }
}

function firstFailure(node) {
  const bad = node.points.find((p) => !p.ok && !p.directive);
  return bad ? bad.name || 'failed' : 'failed';
}

/** Counts a whole recorded stream. */
export function countTap(text) {
  const c = new TapCounter();
  c.write(text);
  return c.end();
}

/** The closing line CI reads: `N passed, N failed[, N skipped]`. */
export function closingLine({ passed, failed, skipped }) {
  return `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
}
