/** Thrown for a training task that cannot run as dispatched: the message names the field. */
export class TrainArgsError extends Error {}
