/**
 * 9.2, 9.4, 9.9 level by level. A scheduler answers a query naming itself with HierarchicalQuery
 * "0" for itself alone (its site's aggregate, its algorithm union, its tasks); with "1" it also
 * asks every device below it — executors and lower schedulers, at once, each within a deadline —
 * passing the query's filters down, and merges their answers into its one reply. A device that
 * does not answer in time is named in the reply's Message; the others' answers still count.
 * The filters of tables 2 and 5 (ProductType, Chip, DriverVersion, Longitude/Latitude range,
 * ExtendCond) are applied at every level to what that level knows.
 */
import {
  AlgorithmResQueryReply, AvailableResQueryReply, CommandType, HierarchicalQuery, TaskStatusQueryReply, TotalResQueryReply,
  type AlgResource, type AvailableResource, type AvailableResQuery, type CommandReplyBody, type DevTaskStatus, type DeviceType,
  type TaskStatusQuery, type TotalResource, type TotalResQuery,
} from '../../protocol/index.ts';
import type { RetinaClient } from '../../net/client.ts';
import type { DeviceRegistry, DeviceState } from '../devices.ts';
import { aggregateAvailable, aggregateTotal, siteDevices, unionAlgorithms } from './aggregate.ts';
import { matchesResourceFilters } from '../../protocol/resource-filters.ts';

/** Most entries one merged reply carries (each level bounds what it passes up). */
export const MERGED_MAX = 4096;

export interface QueryDeps {
  deviceId: string;
  deviceType: DeviceType;
  devices: DeviceRegistry;
  client: RetinaClient;
  /** How long a device below may take to answer (default 3 s). */
  deadlineMs?: number;
}

type Entry = { DeviceID: string; HierarchicalQuery: string };

/** Runs `ask` on each device at once; answers in device order, and the devices that failed or were late. */
async function fanOut<T>(x: QueryDeps, devs: readonly DeviceState[], ask: (d: DeviceState) => Promise<T[]>): Promise<{ items: T[]; missing: string[] }> {
  const ms = x.deadlineMs ?? 3000;
  const settled = await Promise.all(devs.map(async (d) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms); });
    try {
      return { ok: true as const, items: await Promise.race([ask(d), late]) };
    } catch (err) {
      return { ok: false as const, why: `${d.row.device_id} (${(err as Error).message.slice(0, 80)})` };
    } finally {
      clearTimeout(timer);
    }
  }));
  return { items: settled.flatMap((s) => (s.ok ? s.items : [])), missing: settled.flatMap((s) => (s.ok ? [] : [s.why])) };
}

/** The devices below this scheduler that can be asked: online, enabled, with a CommandURL. */
function below(x: QueryDeps): DeviceState[] {
  return siteDevices(x.devices.all()).filter((d) => d.row.command_url);
}

/** Which devices an entry list names: this scheduler (with or without fan-out), and known devices below. */
function resolve(x: QueryDeps, list: readonly Entry[] | undefined): { self: boolean; fan: DeviceState[]; stored: DeviceState[]; unknown: string[] } {
  const entries = list?.length ? list : [{ DeviceID: x.deviceId, HierarchicalQuery: HierarchicalQuery.No }];
  const out = { self: false, fan: new Map<string, DeviceState>(), stored: new Map<string, DeviceState>(), unknown: [] as string[] };
  for (const e of entries) {
    if (e.DeviceID === x.deviceId) {
      out.self = true;
      if (e.HierarchicalQuery === HierarchicalQuery.Yes) for (const d of below(x)) out.fan.set(d.row.device_id, d);
      continue;
    }
    const d = x.devices.get(e.DeviceID);
    if (!d) { out.unknown.push(e.DeviceID); continue; }
    if (e.HierarchicalQuery === HierarchicalQuery.Yes && d.row.online && d.row.command_url) out.fan.set(e.DeviceID, d);
    else out.stored.set(e.DeviceID, d);
  }
  for (const id of out.fan.keys()) out.stored.delete(id);
  return { self: out.self, fan: [...out.fan.values()], stored: [...out.stored.values()], unknown: out.unknown };
}

/** One reply from the merged list: first entry per DeviceID, bounded, with a Message naming what is missing. */
function merged<T extends { DeviceID: string }>(key: string, items: T[], missing: string[], unknown: string[]): CommandReplyBody {
  const seen = new Set<string>();
  const list = items.filter((i) => !seen.has(i.DeviceID) && seen.add(i.DeviceID));
  const notes = [...(unknown.length ? [`DeviceList: no device ${unknown.slice(0, 5).join(', ')} here`] : []),
    ...(missing.length ? [`DeviceList: ${missing.slice(0, 5).join(', ')} did not answer`] : []),
    ...(list.length > MERGED_MAX ? [`${key}: ${list.length} entries, the first ${MERGED_MAX} given`] : [])];
  return { StatusCode: '0', [key]: list.slice(0, MERGED_MAX), ...(notes.length ? { Message: notes.join('; ') } : {}) };
}

/** `total_res_query` to a scheduler (tables 2, 3). */
export async function totalQuery(x: QueryDeps, c: TotalResQuery): Promise<CommandReplyBody> {
  const body = c.MessageBody;
  const r = resolve(x, body.DeviceList);
  const own: TotalResource[] = r.self ? [aggregateTotal(x.deviceId, x.deviceType, siteDevices(x.devices.all()))] : [];
  const stored = r.stored.map((d) => d.total).filter((t): t is TotalResource => t !== undefined);
  const asked = await fanOut(x, r.fan, async (d) => (await x.client.sendCommand(d.row.command_url!, { CommandType: CommandType.TotalResQuery, DeviceID: d.row.device_id,
    MessageBody: { ...body, DeviceList: [{ DeviceID: d.row.device_id, HierarchicalQuery: HierarchicalQuery.Yes }] } }, TotalResQueryReply)).TotalResourceList);
  // This scheduler's own location is not registered with itself: a box leaves its aggregate out.
  const keep = (t: TotalResource) => matchesResourceFilters(body, t, t.DeviceID === x.deviceId ? undefined : x.devices.get(t.DeviceID)?.row);
  return merged('TotalResourceList', [...own, ...stored, ...asked.items].filter(keep), asked.missing, r.unknown);
}

/** `available_res_query` to a scheduler (tables 5, 6); filters read the device's TotalResource where known. */
export async function availableQuery(x: QueryDeps, c: AvailableResQuery): Promise<CommandReplyBody> {
  const body = c.MessageBody;
  const r = resolve(x, body.DeviceList);
  const site = siteDevices(x.devices.all());
  const own: AvailableResource[] = r.self ? [aggregateAvailable(x.deviceId, site)] : [];
  const stored = r.stored.map((d) => d.available).filter((t): t is AvailableResource => t !== undefined);
  const asked = await fanOut(x, r.fan, async (d) => (await x.client.sendCommand(d.row.command_url!, { CommandType: CommandType.AvailableResQuery, DeviceID: d.row.device_id,
    MessageBody: { ...body, DeviceList: [{ DeviceID: d.row.device_id, HierarchicalQuery: HierarchicalQuery.Yes }] } }, AvailableResQueryReply)).AvailableResourceList);
  const keep = (a: AvailableResource) => {
    const self = a.DeviceID === x.deviceId;
    const known = x.devices.get(a.DeviceID);
    const total = self ? aggregateTotal(x.deviceId, x.deviceType, site) : known?.total;
    // A device two levels down is not in our registry: the scheduler above it applied the filters.
    return !known && !self ? true : matchesResourceFilters(body, total, self ? undefined : known?.row);
  };
  return merged('AvailableResourceList', [...own, ...stored, ...asked.items].filter(keep), asked.missing, r.unknown);
}

/** `algorithm_res_query` to a scheduler (tables 12, 13): its union, and with "1" each device's own list. */
export async function algorithmQuery(x: QueryDeps, list: readonly Entry[] | undefined): Promise<CommandReplyBody> {
  const r = resolve(x, list);
  const own: AlgResource[] = r.self ? [{ DeviceID: x.deviceId, AlgInfoList: unionAlgorithms(siteDevices(x.devices.all())) }] : [];
  const stored: AlgResource[] = r.stored.filter((d) => d.listed).map((d) => ({ DeviceID: d.row.device_id, AlgInfoList: d.algs }));
  const asked = await fanOut(x, r.fan, async (d) => (await x.client.sendCommand(d.row.command_url!, { CommandType: CommandType.AlgorithmResQuery, DeviceID: d.row.device_id,
    MessageBody: { DeviceList: [{ DeviceID: d.row.device_id, HierarchicalQuery: HierarchicalQuery.Yes }] } }, AlgorithmResQueryReply)).AlgResourceList);
  return merged('AlgResourceList', [...own, ...stored, ...asked.items], asked.missing, r.unknown);
}

/**
 * `task_status_query` with "1" (9.9): `local` is what this scheduler answers from its store (its
 * tasks, then their subtasks per device from the devices' reports); each device entry is
 * replaced by that device's own answer (itself and, for a lower scheduler, its devices), and
 * kept as reported when the device does not answer in time.
 */
export async function statusQuery(x: QueryDeps, c: TaskStatusQuery, local: DevTaskStatus[]): Promise<CommandReplyBody> {
  const selfYes = c.MessageBody.DeviceList?.some((e) => e.DeviceID === x.deviceId && e.HierarchicalQuery === HierarchicalQuery.Yes);
  if (!selfYes) return { StatusCode: '0', TaskStatusSet: local };
  const targets = local.filter((e) => e.DeviceID !== x.deviceId).map((e) => x.devices.get(e.DeviceID)).filter((d): d is DeviceState => !!d?.row.online && !!d.row.command_url);
  const answers = new Map<string, DevTaskStatus[]>();
  const asked = await fanOut(x, targets, async (d) => {
    const ids = (local.find((e) => e.DeviceID === d.row.device_id)?.TaskStatusList ?? []).map((s) => s.TaskID);
    const reply = await x.client.sendCommand(d.row.command_url!, { CommandType: CommandType.TaskStatusQuery, DeviceID: d.row.device_id,
      MessageBody: { DeviceList: [{ DeviceID: d.row.device_id, HierarchicalQuery: HierarchicalQuery.Yes, TaskIDList: ids }] } }, TaskStatusQueryReply);
    answers.set(d.row.device_id, reply.TaskStatusSet);
    return [];
  });
  const out = local.flatMap((e) => answers.get(e.DeviceID) ?? [e]);
  return merged('TaskStatusSet', out, asked.missing, []);
}
