// An example custom task-order strategy (M5): `retinad scheduler --task-order path/to/this.mjs`.
// The scheduler calls next(waiting, now) when a slot frees (its limit on concurrent tasks, SB5)
// with the tasks waiting — { taskId, priority (1-10), queuedAt (ms), owner, taskType } — and
// starts the one returned. This one serves data fusion (TaskType 10) first, then by Priority.
export const strategy = {
  name: 'fusion-first',
  next(waiting) {
    const score = (w) => (w.taskType === 10 ? 100 : 0) + w.priority;
    return waiting.reduce((best, w) => (score(w) > score(best) || (score(w) === score(best) && w.queuedAt < best.queuedAt) ? w : best));
  },
};
