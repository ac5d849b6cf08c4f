/** The scheduler's store on etcd (issue 14): EtcdStore and what its callers name. */
export { EtcdStore, type EtcdStoreOptions } from './etcd-store.ts';
export type { Change } from './mirror.ts';
export type { Fence } from './committer.ts';
export { EVENTS_PER_TASK } from './keys.ts';
export { FsResultFiles, checkSegment, unsafeSegment, unsafeWriterId, type ResultFiles, type ResultRef } from './result-files.ts';
