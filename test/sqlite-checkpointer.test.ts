/**
 * SB9: WAL checkpoints run on a worker thread, not inside a node's commits (sqlite-checkpointer.ts).
 * The writing connection never checkpoints while the worker lives; the worker copies the WAL
 * into the database file; a worker that fails hands checkpoints back to the writer.
 */
import t from 'tap';
import path from 'node:path';
import { statSync } from 'node:fs';
import { openDatabase } from '../src/sqlite.ts';
import { Checkpointer, CHECKPOINT_EVERY_MS } from '../src/sqlite-checkpointer.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const autoPages = (db: ReturnType<typeof openDatabase>) => db.pragma('wal_autocheckpoint', { simple: true });

t.test('SB9: the worker copies the WAL into the database file; the writer does not checkpoint', async (t) => {
  const file = path.join(t.testdir({}), 'x.db');
  const db = openDatabase(file);
  db.exec('CREATE TABLE r (v BLOB)');
  const cp = new Checkpointer(db, file, 20);
  t.equal(autoPages(db), 0, 'the writing connection checkpoints nothing itself');
  const before = statSync(file).size;
  const ins = db.prepare('INSERT INTO r VALUES (?)');
  // 3 MiB: three times the 1,000 pages past which the writer would have checkpointed in its commit.
  db.transaction(() => { for (let i = 0; i < 48; i++) ins.run(Buffer.alloc(64 * 1024, i)); })();
  t.ok(statSync(file).size - before < 1024 * 1024, 'the commit itself left the rows in the WAL');
  let grown = false;
  for (let i = 0; i < 100 && !grown; i++) { await sleep(20); grown = statSync(file).size - before >= 3 * 1024 * 1024; }
  t.ok(grown, 'the worker copied them into the database file');
  cp.stop();
  t.equal(autoPages(db), 1000, 'stopped: the writer checkpoints again, as SQLite does by default');
  t.equal((db.prepare('SELECT COUNT(*) AS n FROM r').get() as { n: number }).n, 48);
  db.close();
});

t.test('SB9: a worker that cannot open the file hands checkpoints back to the writer', async (t) => {
  const file = path.join(t.testdir({}), 'y.db');
  const db = openDatabase(file);
  new Checkpointer(db, path.join(path.dirname(file), 'missing', 'z.db'));
  t.equal(autoPages(db), 0);
  for (let i = 0; i < 100 && autoPages(db) === 0; i++) await sleep(CHECKPOINT_EVERY_MS / 10);
  t.equal(autoPages(db), 1000);
  db.close();
});
