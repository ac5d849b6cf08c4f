/**
 * The scheduler database's tables (created when missing; `owner` is added to older files by the
 * store). status_events.seq is a plain rowid, not AUTOINCREMENT (which writes sqlite_sequence
 * with every event, four per subtask): a new row's rowid is above every row there, so a task's
 * history stays in order; only a deleted task's numbers can come back, and nothing refers to
 * them. Files made before keep AUTOINCREMENT; both read alike. Histories are read by task.
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS devices (
  device_id TEXT PRIMARY KEY, device_type TEXT NOT NULL, product_type TEXT NOT NULL, device_name TEXT,
  command_url TEXT, longitude TEXT, latitude TEXT, online INTEGER NOT NULL DEFAULT 1, enabled INTEGER NOT NULL DEFAULT 1,
  registered_at INTEGER NOT NULL, last_seen INTEGER NOT NULL,
  total_resource TEXT, available_resource TEXT, alg_resource TEXT, alg_checked_at INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS tasks (
  task_id TEXT PRIMARY KEY, basic_info TEXT NOT NULL, custom_info TEXT NOT NULL, status INTEGER NOT NULL,
  exception_code INTEGER, exception_desc TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS subtasks (
  subtask_id TEXT PRIMARY KEY, task_id TEXT NOT NULL REFERENCES tasks(task_id), device_id TEXT NOT NULL,
  dispatch_info TEXT NOT NULL, status INTEGER NOT NULL, progress INTEGER NOT NULL DEFAULT 0,
  exception_code INTEGER, exception_desc TEXT, attempts INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS subtasks_task ON subtasks(task_id);
CREATE INDEX IF NOT EXISTS subtasks_device ON subtasks(device_id, status);
CREATE TABLE IF NOT EXISTS status_events (
  seq INTEGER PRIMARY KEY, task_id TEXT NOT NULL, subtask_id TEXT, device_id TEXT,
  status INTEGER NOT NULL, exception_code INTEGER, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS status_events_task ON status_events(task_id);
CREATE TABLE IF NOT EXISTS results (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, subtask_id TEXT NOT NULL, device_id TEXT NOT NULL,
  ts INTEGER NOT NULL, dedup_key TEXT UNIQUE, body TEXT NOT NULL, received_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS results_task ON results(task_id, seq);
`;
