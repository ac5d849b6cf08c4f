/**
 * Managing executors and tasks through the interface (SM1, S4): add, remove, enable and disable
 * executors one at a time or in batches, and delete a task with its results. A disabled or
 * removed executor's running subtasks move elsewhere (S7) and its copies are told to stop.
 */
import { ACTIVE_STATUSES } from './store.ts';
import type { DeviceRegistry } from './devices.ts';
import type { SchedulerStateStore } from './store-types.ts';
import type { Reconciler } from './reconciler.ts';
import type { Logger } from '../log.ts';
import { Control, type OpsControl } from '../protocol/index.ts';

/** SM1 actions. */
export type DeviceAction = 'add' | 'remove' | 'enable' | 'disable';

/** One executor named in a management request (add also gives what Register would). */
export interface ManagedDevice { DeviceID: string; DeviceType?: string; ProductType?: string; CommandURL?: string }

/** What happened to one executor of the batch. */
export interface DeviceOutcome { DeviceID: string; StatusCode: '0' | '1'; Message?: string }

export interface ManagementParts {
  devices: DeviceRegistry;
  store: SchedulerStateStore;
  reconciler: Pick<Reconciler, 'deviceWithdrawn'>;
  /** Forgets a device's sessions and liveness (removed devices must register again). */
  forget(deviceId: string): void;
  /** Forgets what is kept in memory of a deleted task and its subtasks. */
  deleted(taskId: string, subtaskIds: readonly string[]): void;
  control(list: OpsControl[]): Promise<string[]>;
  now(): number;
  deviceId: string;
  log: Logger;
}

export class Management {
  constructor(private readonly p: ManagementParts) {}

  /** Applies `action` to each device; one outcome per device, in order. */
  devices(action: DeviceAction, list: ManagedDevice[]): DeviceOutcome[] {
    return list.map((d): DeviceOutcome => {
      const id = d.DeviceID;
      const fail = (Message: string): DeviceOutcome => ({ DeviceID: id, StatusCode: '1', Message });
      switch (action) {
        case 'add':
          if (!d.DeviceType || !d.ProductType) return fail('add needs DeviceType and ProductType');
          if (!this.p.devices.provision({ deviceId: id, deviceType: d.DeviceType, productType: d.ProductType, ...(d.CommandURL ? { commandUrl: d.CommandURL } : {}) }, this.p.now())) return fail('already known');
          break;
        case 'enable':
          if (!this.p.devices.setEnabled(id, true)) return fail('not known');
          break;
        case 'disable':
          if (!this.p.devices.setEnabled(id, false)) return fail('not known');
          this.p.reconciler.deviceWithdrawn(id, `executor ${id} was disabled`);
          break;
        case 'remove':
          if (!this.p.devices.get(id)) return fail('not known');
          this.p.reconciler.deviceWithdrawn(id, `executor ${id} was removed`);
          this.p.forget(id);
          this.p.devices.remove(id);
          break;
      }
      this.p.log.info({ device: id, action }, 'executor managed');
      return { DeviceID: id, StatusCode: '0' };
    });
  }

  /** S4 delete: stops the task if it still runs, then deletes it with its subtasks, history and results. */
  async deleteTask(taskId: string): Promise<boolean> {
    const t = this.p.store.task(taskId);
    if (!t) return false;
    if (ACTIVE_STATUSES.includes(t.status)) await this.p.control([{ DeviceID: this.p.deviceId, TaskID: taskId, Control: Control.Stop }]);
    const subtaskIds = this.p.store.subtasks(taskId).map((x) => x.subtask_id);
    const gone = this.p.store.deleteTask(taskId);
    this.p.deleted(taskId, subtaskIds);
    this.p.log.info({ task: taskId }, 'task deleted with its results');
    return gone;
  }
}
