/** The standard's message model: schemas, types, codes and codecs. Imports nothing of ours. */
export * from './codes.ts';
export * from './fields.ts';
export * from './common.ts';
export * from './validate.ts';
export * from './datetime.ts';
export * from './geo.ts';
export * from './resource.ts';
export * from './algorithm.ts';
export * from './task-request.ts';
export * from './task-dispatch.ts';
export * from './task-control.ts';
export * from './task-result.ts';
export * from './task-status.ts';
export * from './task-info.ts';
export * from './session.ts';
export * from './command.ts';
