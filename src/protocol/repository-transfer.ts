/**
 * Ours (EC7, 5.3.3 g "边、云子系统算法模型仓库之间进行算法模型的双向传输"): an algorithm/model
 * version moves between two schedulers' repositories. The standard names the capability but
 * gives it no message, so this is the smallest shape that carries it. `Peer` names a peer the
 * scheduler was configured with (its upper scheduler, or a lower one registered with it) by
 * DeviceID — never a URL: where bytes and credentials go is this scheduler's configuration,
 * not the request's.
 */
import { Int32, Obj, Opt, StrEnum, StrLt, StrMax, Type, type Static } from './fields.ts';
import { ReplyMessage, StatusCodeField } from './common.ts';

/** Largest package a transfer takes in (64 MiB): the examples' models are far smaller; larger is refused unstored. */
export const TRANSFER_MAX_BYTES = 64 << 20;

/** AlgVersion as a manifest allows it (plugins/manifest.ts): no `/`, so never a path. */
const AlgVersionField = () => StrLt(20, { minLength: 1, pattern: '^[0-9A-Za-z.+-]+$', ruleText: 'must be an AlgVersion: 1-19 of 0-9 A-Z a-z . + -' });

/** Largest body of a transfer request: four short fields. */
export const TRANSFER_REQUEST_MAX_BYTES = 4 * 1024;

/** `POST /System/AlgorithmRepository/Transfer`. */
export const TransferRequest = Obj({
  AlgID: Int32({ minimum: 1 }),
  AlgVersion: AlgVersionField(),
  /** A configured peer's DeviceID (DeviceID: ≤20 bytes); `/ : \ ? #` and spaces are refused so a URL or path never passes for one. */
  Peer: StrMax(20, { minLength: 1, pattern: '^[^/:\\\\?#\\s]+$', ruleText: 'must be a configured peer\'s DeviceID (the upper scheduler, or a lower one registered here), not a URL or path' }),
  /** "pull": the version comes from Peer into this repository; "push": Peer takes it from this one. */
  Direction: StrEnum(['pull', 'push'] as const, 8),
});
export type TransferRequest = Static<typeof TransferRequest>;

/** The reply: the version as the receiving repository holds it. */
export const TransferReply = Obj({
  StatusCode: StatusCodeField(),
  Message: Opt(ReplyMessage(128)),
  AlgID: Int32({ minimum: 1 }),
  AlgVersion: StrLt(20),
  Peer: StrMax(20),
  Direction: StrEnum(['pull', 'push'] as const, 8),
  size: Int32({ minimum: 0 }),
  signedBy: StrMax(128),
  /** True when the receiving repository already held this version with the same contents (nothing was written). */
  Already: Type.Boolean(),
});
export type TransferReply = Static<typeof TransferReply>;

/**
 * `POST /System/AlgorithmRepository/Transfer/Upload?AlgID=&AlgVersion=` (application/octet-stream):
 * how a lower scheduler pushes a version up — over its own session with the upper one, so it works
 * where the upper cannot connect to it (NAT), and the sender is who its session says.
 */
export const TransferUploadQuery = Obj({
  AlgID: Type.String({ pattern: '^[1-9]\\d{0,9}$', ruleText: 'must be a decimal AlgID ≥ 1' }),
  AlgVersion: AlgVersionField(),
});
export type TransferUploadQuery = Static<typeof TransferUploadQuery>;
